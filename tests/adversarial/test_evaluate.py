"""White-box evaluation (adversarial/_evaluate.py): budgets, losses, bad input."""

import numpy as np
import pytest
import torch
from budgets import FAST
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_guessfirst import (
    CNNClassifier,
    HypothesisConditionedClassifier,
    VIBClassifier,
)
from sk_guessfirst.adversarial import (
    ATTACKS,
    AttackResult,
    adversarial_accuracy,
    attack_examples,
    attacked_function,
    evaluate_attack,
    make_adversarial_scorer,
    to_art,
)


@pytest.mark.slow
@pytest.mark.xdist_group("mnist_cnn")  # the real-data tests' CNN baseline
def test_cnn_on_mnist_falls_under_white_box_pgd(mnist_small, mnist_cnn):
    _, _, Xt, yt = mnist_small
    assert mnist_cnn.score(Xt[:300], yt[:300]) > 0.9
    pgd = adversarial_accuracy(mnist_cnn, Xt[:300], yt[:300], attack="pgd", eps=0.3)
    assert pgd < 0.10


@pytest.mark.parametrize(
    "attack, eps", [("fgsm", 0.1), ("pgd", 0.1), ("pgd-l2", 1.0), ("apgd-ce", 0.1)]
)
def test_examples_stay_in_ball_and_clip_range(hcc, digits, attack, eps):
    _, _, Xt, yt = digits
    X, y = Xt[:30], yt[:30]
    X_adv = attack_examples(hcc, X, y, attack=attack, eps=eps)
    assert X_adv.shape == X.shape and X_adv.min() >= 0 and X_adv.max() <= 1
    delta = (X_adv - X).reshape(len(X), -1)
    norm = ATTACKS[attack].norm
    size = np.abs(delta).max(1) if np.isinf(norm) else np.linalg.norm(delta, axis=1)
    assert size.max() <= eps * (1 + 1e-5) + 1e-6
    assert np.any(size > 0.5 * eps)  # the attack did perturb


def test_accuracy_bounded_by_clean_and_equal_at_zero(hcc, digits):
    _, _, Xt, yt = digits
    clean = hcc.score(Xt, yt)
    assert adversarial_accuracy(hcc, Xt, yt, attack="pgd", eps=0.0) == pytest.approx(
        clean
    )
    result = evaluate_attack(hcc, Xt, yt, attack="pgd", eps=0.1, random_state=0)
    assert result.accuracy < clean
    assert set(result.robust) == {"ce", "margin"}  # both losses ran
    assert adversarial_accuracy(hcc, Xt, yt, attack="pgd", eps=1.0) <= 0.05


def test_the_worst_case_is_per_example_over_losses_and_counts_clean_mistakes():
    T, F = True, False
    result = AttackResult(
        "pgd",
        0.1,
        "white-box",
        clean=np.array([T, T, T, T, F]),
        # each loss breaks other examples; neither breaks the 1st; the 5th is
        # a clean mistake that a (buggy) attack would report as robust
        robust={"ce": np.array([T, F, T, T, T]), "margin": np.array([T, T, F, T, T])},
    )
    assert result.worst.tolist() == [T, F, F, T, F]
    assert result.accuracy == 0.4  # not 0.6 (the mean of each loss's 3/5)
    assert result.accuracy_by_loss() == {"ce": 0.8, "margin": 0.8}


def test_same_random_state_same_result(hcc, digits):
    _, _, Xt, yt = digits
    runs = [
        evaluate_attack(hcc, Xt[:40], yt[:40], attack="pgd", eps=0.08, random_state=3)
        for _ in range(2)
    ]
    for loss in ("ce", "margin"):
        np.testing.assert_array_equal(runs[0].robust[loss], runs[1].robust[loss])


def test_margin_loss_finds_what_cross_entropy_misses(saturated, digits):
    _, _, Xt, yt = digits
    result = evaluate_attack(saturated, Xt, yt, attack="pgd", eps=0.15, random_state=0)
    acc = result.accuracy_by_loss()
    clean = saturated.score(Xt, yt)
    assert acc["ce"] > clean - 0.1  # cross-entropy's gradient is gone
    assert acc["margin"] < acc["ce"] - 0.4  # the margin still attacks
    assert result.accuracy == pytest.approx(acc["margin"], abs=0.01)


def test_vib_expectation_over_transformation(digits):
    X, y, Xt, yt = digits
    vib = VIBClassifier(max_epochs=5, **FAST).fit(X, y)
    images = Xt[:5].reshape(5, 1, 8, 8)
    mean_art, eot_art = to_art(vib), to_art(vib, eot_samples=8)
    np.testing.assert_allclose(
        mean_art.predict(images), vib.decision_function(Xt[:5]), rtol=1e-4, atol=1e-4
    )
    eot = eot_art.predict(images)
    np.testing.assert_allclose(np.exp(eot).sum(1), 1, rtol=1e-4)  # log-probabilities
    # any other model: the mean probability over passes; for a deterministic
    # one that is its own softmax
    cnn = CNNClassifier(max_epochs=1, **FAST).fit(X, y)
    logits = torch.as_tensor(cnn.decision_function(Xt[:5]))
    np.testing.assert_allclose(
        to_art(cnn, eot_samples=4).predict(images),
        torch.log_softmax(logits, 1).numpy(),
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(attack="deepfool", eps=0.1), ValueError, "unknown attack"),
        (dict(attack="pgd", eps=-0.1), ValueError, "eps must be"),
        (dict(attack="pgd", eps=0.1, mode="grey-box"), ValueError, "mode must be"),
        (
            dict(attack="pgd", eps=0.1, mode="black-box"),
            ValueError,
            "needs a substitute",
        ),
        (dict(attack="pgd", eps=0.1, loss="dlr"), ValueError, "runs with loss"),
        (dict(attack="pgd", eps=0.1, max_iters=10), ValueError, "unknown parameter"),
        (dict(attack="autoattack", eps=0.1, mode="black-box"), ValueError, "runs in"),
        (dict(attack="pgd", eps=0.1, view="softmax"), ValueError, "view must be"),
    ],
)
def test_bad_arguments(hcc, digits, kwargs, error, message):
    _, _, Xt, yt = digits
    with pytest.raises(error, match=message):
        adversarial_accuracy(hcc, Xt, yt, **kwargs)


def test_bad_data_names_the_argument(hcc, digits):
    from sklearn.exceptions import NotFittedError

    _, _, Xt, yt = digits
    with pytest.raises(NotFittedError):
        adversarial_accuracy(
            HypothesisConditionedClassifier(), Xt, yt, attack="pgd", eps=0.1
        )
    with pytest.raises(ValueError, match="outside clip_values"):
        adversarial_accuracy(hcc, Xt * 255, yt, attack="pgd", eps=0.1)
    with pytest.raises(ValueError, match="y contains labels"):
        adversarial_accuracy(hcc, Xt, yt + 20, attack="pgd", eps=0.1)
    with pytest.raises(ValueError, match="one label per row"):
        adversarial_accuracy(hcc, Xt, yt[:-1], attack="pgd", eps=0.1)
    with pytest.raises(ValueError, match="features per sample"):
        adversarial_accuracy(hcc, Xt[:, :10], yt, attack="pgd", eps=0.1)


def test_pipelines_attack_through_their_scalers(digits):
    X, y, Xt, yt = digits
    X = X.reshape(len(X), -1)  # scalers take flat features; the net is told the shape
    pipe = make_pipeline(
        StandardScaler(),
        HypothesisConditionedClassifier(max_epochs=5, input_shape=(1, 8, 8), **FAST),
    ).fit(X, y)
    fn = attacked_function(pipe)
    out = fn(torch.as_tensor(Xt[:8].reshape(8, 1, 8, 8), dtype=torch.float32))
    np.testing.assert_allclose(
        out.numpy(), pipe.decision_function(Xt[:8]), rtol=1e-3, atol=1e-3
    )
    search = GridSearchCV(
        pipe,
        {"hypothesisconditionedclassifier__ie_lambda": [0.0, 0.01]},
        scoring=make_adversarial_scorer(attack="fgsm", eps=0.05),
        cv=2,
        error_score="raise",
    ).fit(X[:300], y[:300])
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    with pytest.raises(TypeError, match="'pca'.*cannot be part of"):
        adversarial_accuracy(
            make_pipeline(
                PCA(10), CNNClassifier(max_epochs=1, input_shape=(10,), **FAST)
            ).fit(X, y),
            Xt,
            yt,
            attack="pgd",
            eps=0.1,
        )
