"""ART's workflows on to_art's classifier (adversarial/_art.py): its trainers
are refused with a message that says what to use, SimBA runs on the
probabilities view, ART's own AutoAttack runs."""

import numpy as np
import pytest

from sk_guessfirst import CNNClassifier
from sk_guessfirst.adversarial import to_art
from sk_guessfirst.datasets import load_digits


@pytest.fixture(scope="module")
def fitted():
    X, y = load_digits(return_X_y=True)
    clf = CNNClassifier(max_epochs=3, input_shape=(1, 8, 8), random_state=0,
                        device="cpu").fit(X, y)  # fmt: skip
    return clf, X[:20].reshape(-1, 1, 8, 8), y[:20]


@pytest.mark.parametrize(
    "trainer", ["AdversarialTrainer", "AdversarialTrainerMadryPGD"]
)
def test_art_trainers_are_refused_with_what_to_use(fitted, trainer):
    from art.attacks.evasion import FastGradientMethod
    from art.defences import trainer as trainers

    clf, X, y = fitted
    art_clf = to_art(clf)
    if trainer == "AdversarialTrainer":
        t = trainers.AdversarialTrainer(art_clf, FastGradientMethod(art_clf, eps=0.1))
    else:
        t = trainers.AdversarialTrainerMadryPGD(art_clf, nb_epochs=1, eps=0.1)
    before = [p.detach().clone() for p in clf.module_.parameters()]
    with pytest.raises(
        TypeError, match="frozen snapshot.*AdversarialTrainingClassifier"
    ):
        t.fit(X, np.eye(10)[y], nb_epochs=1)
    # the estimator is untouched
    for a, b in zip(before, clf.module_.parameters()):
        assert a.equal(b)


def test_simba_runs_on_the_probabilities_view(fitted):
    from art.attacks.evasion import SimBA

    clf, X, _ = fitted
    with pytest.raises(ValueError, match="probabilities"):  # raw scores: ART refuses
        SimBA(to_art(clf), attack="px", max_iter=5, verbose=False).generate(X)
    probs = to_art(clf, view="probabilities")
    np.testing.assert_allclose(
        probs.predict(X), clf.predict_proba(X.reshape(len(X), -1)), atol=1e-5
    )
    X_adv = SimBA(probs, attack="px", max_iter=200, epsilon=0.3,
                  verbose=False).generate(X)  # fmt: skip
    assert np.abs(X_adv - X).max() <= 0.3 + 1e-6
    # it does something: some prediction changes or confidence drops
    p0, p1 = probs.predict(X), probs.predict(X_adv)
    assert np.any(p1.max(1) < p0.max(1) - 1e-3)


def test_arts_own_autoattack_runs(fitted):
    from art.attacks.evasion import AutoAttack, ProjectedGradientDescent

    clf, X, y = fitted
    art_clf = to_art(clf)
    pgd = ProjectedGradientDescent(art_clf, eps=0.3, eps_step=0.05, max_iter=10,
                                   verbose=False)  # fmt: skip
    X_adv = AutoAttack(estimator=art_clf, eps=0.3, eps_step=0.05, batch_size=32,
                       attacks=[pgd]).generate(X, y=np.eye(10)[y])  # fmt: skip
    assert np.abs(X_adv - X).max() <= 0.3 + 1e-5
    assert (art_clf.predict(X_adv).argmax(1) == y).mean() < (
        art_clf.predict(X).argmax(1) == y
    ).mean()
