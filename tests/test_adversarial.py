"""Adversarial evaluation on ART: correctness of the bridge, attacks and metrics."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, cross_validate

from sk_guessfirst import (
    CNNClassifier,
    HypothesisConditionedClassifier,
    LeNet5Classifier,
    VIBClassifier,
)
from sk_guessfirst.adversarial import (
    _metrics,
    adversarial_accuracy,
    attack_examples,
    fit_substitute,
    make_adversarial_scorer,
    robustness_curve,
    robustness_report,
    to_art,
    worst_case,
)
from sk_guessfirst.datasets import load_dataset

FAST = dict(random_state=0, device="cpu", batch_size=100)


@pytest.fixture(scope="module")
def digits():
    X, y = load_dataset("digits")
    Xt, yt = load_dataset("digits", subset="test")
    return X, y, Xt[:120], yt[:120]


@pytest.fixture(scope="module")
def hcc(digits):
    X, y, _, _ = digits
    return HypothesisConditionedClassifier(max_epochs=15, **FAST).fit(X, y)


@pytest.fixture(scope="module")
def cnn(digits):
    X, y, _, _ = digits
    return CNNClassifier(max_epochs=15, **FAST).fit(X, y)


def test_cnn_on_mnist_falls_under_white_box_pgd(mnist_small):
    X, y, Xt, yt = mnist_small
    cnn = CNNClassifier(max_epochs=2, **FAST).fit(X, y)
    assert cnn.score(Xt[:300], yt[:300]) > 0.9
    assert adversarial_accuracy(cnn, Xt[:300], yt[:300], attack="pgd", eps=0.3) < 0.10


@pytest.mark.parametrize(
    "attack, eps, norm",
    [
        ("fgsm", 0.1, np.inf),
        ("pgd", 0.1, np.inf),
        ("pgd-l2", 1.0, 2),
        ("cw", 1.0, 2),
        ("apgd-ce", 0.1, np.inf),
    ],
)
def test_examples_stay_in_ball_and_clip_range(hcc, digits, attack, eps, norm):
    _, _, Xt, yt = digits
    X, y = Xt[:30], yt[:30]
    params = dict(max_iter=10, binary_search_steps=2) if attack == "cw" else {}
    X_adv = attack_examples(hcc, X, y, attack=attack, eps=eps, **params)
    assert X_adv.shape == X.shape and X_adv.min() >= 0 and X_adv.max() <= 1
    delta = (X_adv - X).reshape(len(X), -1)
    size = np.abs(delta).max(1) if np.isinf(norm) else np.linalg.norm(delta, axis=1)
    assert size.max() <= eps * (1 + 1e-5) + 1e-6
    assert np.any(size > 0)  # the attack did perturb


def test_accuracy_bounded_by_clean_and_equal_at_zero(hcc, digits):
    _, _, Xt, yt = digits
    clean = hcc.score(Xt, yt)
    assert adversarial_accuracy(hcc, Xt, yt, attack="pgd", eps=0.0) == pytest.approx(
        clean
    )
    robust = adversarial_accuracy(hcc, Xt, yt, attack="pgd", eps=0.1)
    assert robust <= clean
    assert adversarial_accuracy(hcc, Xt, yt, attack="pgd", eps=1.0) <= 0.15


def test_art_bridge_scores_and_gradients(hcc, digits):
    _, _, Xt, _ = digits
    art = to_art(hcc)
    images = Xt[:10].reshape(10, 1, 8, 8)  # ART sees NCHW images
    np.testing.assert_allclose(
        art.predict(images), hcc.decision_function(Xt[:10]), rtol=1e-4, atol=1e-4
    )
    # gradients flow through every hypothesis score
    grads = art.class_gradient(images[:4])
    assert grads.shape == (4, 10, 1, 8, 8)
    assert np.all(np.abs(grads).reshape(4, 10, -1).max(-1) > 0)
    # the estimator's own module is untouched (a frozen eval-mode snapshot)
    hcc.module_.train()
    art.predict(images[:2])
    assert hcc.module_.training
    hcc.module_.eval()
    assert all(p.requires_grad for p in hcc.module_.parameters())


def test_vib_expectation_over_transformation(digits):
    X, y, Xt, yt = digits
    vib = VIBClassifier(max_epochs=5, **FAST).fit(X, y)
    mean_art = to_art(vib)
    eot_art = to_art(vib, eot_samples=8)
    images = Xt[:5].reshape(5, 1, 8, 8)
    assert mean_art.predict(images).shape == eot_art.predict(images).shape == (5, 10)
    with pytest.raises(ValueError, match="VIBClassifier only"):
        to_art(CNNClassifier(max_epochs=1, **FAST).fit(X, y), eot_samples=4)


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_curve_never_rises(hcc, digits, attack):
    _, _, Xt, yt = digits
    curve = robustness_curve(
        hcc, Xt[:60], yt[:60], attack=attack, eps_max=0.5, n_bisections=4
    )
    acc = curve.accuracy
    assert np.all(np.diff(acc) <= 0)
    assert acc[0] == pytest.approx(hcc.score(Xt[:60], yt[:60]))
    assert np.all(curve.minimal_perturbation[hcc.predict(Xt[:60]) != yt[:60]] == 0)
    ax = curve.plot()
    assert ax.get_ylabel() == "accuracy"


def test_worst_case_is_per_example_minimum(hcc, digits):
    _, _, Xt, yt = digits
    a = robustness_curve(hcc, Xt[:40], yt[:40], attack="fgsm", eps_max=0.5)
    b = robustness_curve(
        hcc, Xt[:40], yt[:40], attack="pgd", eps_max=0.5, n_bisections=3
    )
    w = worst_case(a, b)
    assert np.all(w.minimal_perturbation <= a.minimal_perturbation)
    assert np.all(w.minimal_perturbation <= b.minimal_perturbation)
    assert np.all(w.accuracy_at(w.eps) <= a.accuracy_at(w.eps))


def test_black_box_trains_substitute_once(hcc, digits, monkeypatch):
    X, y, Xt, yt = digits
    fits = []
    original = LeNet5Classifier.fit

    def counting_fit(self, *args, **kwargs):
        fits.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LeNet5Classifier, "fit", counting_fit)
    _metrics._SUBSTITUTES.clear()
    scores = [
        adversarial_accuracy(
            hcc, Xt, yt, attack="pgd", eps=0.1, mode="black-box", substitute=(X, y)
        )
        for _ in range(2)
    ]
    assert len(fits) == 1 and scores[0] == scores[1]
    assert fit_substitute(X, y) is fit_substitute(X, y)
    white = adversarial_accuracy(hcc, Xt, yt, attack="pgd", eps=0.1)
    assert white <= scores[0]


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
    ],
)
def test_bad_arguments(hcc, digits, kwargs, error, message):
    _, _, Xt, yt = digits
    with pytest.raises(error, match=message):
        adversarial_accuracy(hcc, Xt, yt, **kwargs)


def test_unfitted_and_out_of_range(hcc, digits):
    from sklearn.exceptions import NotFittedError

    _, _, Xt, yt = digits
    with pytest.raises(NotFittedError):
        adversarial_accuracy(
            HypothesisConditionedClassifier(), Xt, yt, attack="pgd", eps=0.1
        )
    with pytest.raises(ValueError, match="outside clip_values"):
        adversarial_accuracy(hcc, Xt * 255, yt, attack="pgd", eps=0.1)
    with pytest.raises(ValueError, match="unknown attack"):
        make_adversarial_scorer(attack="nope", eps=0.1)


def test_grid_search_refits_on_adversarial_score(digits):
    X, y, _, _ = digits
    scorer = make_adversarial_scorer(attack="fgsm", eps=0.05)
    search = GridSearchCV(
        HypothesisConditionedClassifier(max_epochs=3, **FAST),
        {"ie_lambda": [0.0, 0.01], "sigma": ["median", 1.0]},
        scoring={"clean": "accuracy", "fgsm": scorer},
        refit="fgsm",
        cv=2,
    ).fit(X[:600], y[:600])
    results = search.cv_results_
    best = int(np.argmax(results["mean_test_fgsm"]))
    assert search.best_index_ == best
    assert np.all(results["mean_test_fgsm"] <= results["mean_test_clean"] + 1e-9)
    assert hasattr(search.best_estimator_, "module_")


def test_cross_validate_with_scorer(digits):
    X, y, _, _ = digits
    out = cross_validate(
        CNNClassifier(max_epochs=2, **FAST),
        X[:400],
        y[:400],
        cv=2,
        scoring=make_adversarial_scorer(attack="fgsm", eps=0.05),
    )
    assert len(out["test_score"]) == 2


def test_grid_search_on_dask_cluster(digits):
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_backend

    X, y, _, _ = digits
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        with parallel_backend("dask"):
            search = GridSearchCV(
                HypothesisConditionedClassifier(max_epochs=2, **FAST),
                {"ie_lambda": [0.0, 0.01]},
                scoring=make_adversarial_scorer(attack="fgsm", eps=0.05),
                cv=2,
                n_jobs=-1,
            ).fit(X[:400], y[:400])
    assert search.cv_results_["mean_test_score"].shape == (2,)


def test_report_checks(cnn, digits):
    X, y, Xt, yt = digits
    report = robustness_report(cnn, Xt[:60], yt[:60], eps=0.1, substitute=(X, y))
    names = {c.name for c in report.checks}
    assert {
        "iterative beats single-step",
        "more iterations do not help",
        "white-box beats gradient-free",
        "white-box beats black-box",
        "large eps reaches chance",
        "input gradients usable",
    } <= names
    # an undefended CNN: plain gradient attacks work, so these checks pass
    passed = {c.name: c.passed for c in report.checks}
    assert passed["iterative beats single-step"] and passed["large eps reaches chance"]
    assert passed["input gradients usable"]
    assert report.worst_case <= report.accuracies["pgd-40 white-box"]
    assert "FLAG" in str(report) or all(passed.values())


def test_report_flags_masked_gradients(digits):
    """A model whose scores saturate (zero input gradients) must be flagged."""
    X, y, Xt, yt = digits
    cnn = CNNClassifier(max_epochs=5, **FAST).fit(X, y)
    with torch.no_grad():  # scale logits so that softmax saturates: CE gradient is 0
        cnn.module_.out.weight.mul_(1e4)
        cnn.module_.out.bias.mul_(1e4)
    report = robustness_report(cnn, Xt[:40], yt[:40], eps=0.1)
    flagged = {c.name for c in report.flags}
    assert "input gradients usable" in flagged
