"""Adversarial evaluation: bridge, registry, losses, AutoAttack, Foolbox, report."""

import os
from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_guessfirst import (
    CNNClassifier,
    HypothesisConditionedClassifier,
    LeNet5Classifier,
    VIBClassifier,
)
from sk_guessfirst.adversarial import (
    ATTACKS,
    VIEWS,
    AttackResult,
    RobustnessReport,
    accuracy_interval,
    adversarial_accuracy,
    attack_examples,
    attacked_function,
    evaluate_attack,
    fit_substitute,
    make_adversarial_scorer,
    robustness_curve,
    robustness_report,
    to_art,
    worst_case,
)
from sk_guessfirst.datasets import load_dataset

FAST = dict(random_state=0, device="cpu", batch_size=100)
# small budgets for AutoAttack's slow parts, the same on both sides of a comparison
LIGHT_AA = dict(n_queries=200)


@pytest.fixture(scope="module")
def digits():
    X, y = load_dataset("digits")
    Xt, yt = load_dataset("digits", subset="test")
    X = X.reshape(-1, 8, 8)  # images are said; the attacks take any layout
    return X, y, Xt[:120], yt[:120]


@pytest.fixture(scope="module")
def hcc(digits):
    X, y, _, _ = digits
    return HypothesisConditionedClassifier(max_epochs=15, **FAST).fit(X, y)


@pytest.fixture(scope="module")
def cnn(digits):
    X, y, _, _ = digits
    return CNNClassifier(max_epochs=15, **FAST).fit(X, y)


@pytest.fixture(scope="module")
def saturated(digits):
    """A CNN whose logits are scaled by 1e4: softmax saturates, so the
    cross-entropy gradient is exactly zero on confident examples, while the
    margin keeps its gradient."""
    X, y, _, _ = digits
    cnn = CNNClassifier(max_epochs=8, **FAST).fit(X, y)
    with torch.no_grad():
        cnn.module_.out.weight.mul_(1e4)
        cnn.module_.out.bias.mul_(1e4)
    return cnn


def test_cnn_on_mnist_falls_under_white_box_pgd(mnist_small):
    X, y, Xt, yt = mnist_small
    cnn = CNNClassifier(max_epochs=2, **FAST).fit(X, y)
    assert cnn.score(Xt[:300], yt[:300]) > 0.9
    assert adversarial_accuracy(cnn, Xt[:300], yt[:300], attack="pgd", eps=0.3) < 0.10


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


@pytest.fixture(scope="module")
def js3(digits):
    """A JS hypothesis model (3 epochs), one for every view."""
    X, y, _, _ = digits
    js = HypothesisConditionedClassifier(objective="js", max_epochs=3, **FAST)
    return js.fit(X, y)


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_attacker_views(digits, js3, view):
    _, _, Xt, _ = digits
    js = js3
    scores = torch.as_tensor(js.decision_function(Xt[:5]), dtype=torch.float32)
    fn = attacked_function(js, view=view)
    out = fn(torch.as_tensor(Xt[:5].reshape(5, 1, 8, 8), dtype=torch.float32))
    if view == "noise-averaged":  # random: log-probabilities near the scores'
        torch.testing.assert_close(out.exp().sum(1), torch.ones(5), rtol=1e-4, atol=0)
        assert (out.argmax(1) == scores.argmax(1)).float().mean() >= 0.8
        return
    tiny = torch.finfo(torch.float64).tiny
    expected = {
        "scores": scores,
        "bpda": scores,  # values unchanged, only gradients appear
        "activated": np.log(2) - torch.nn.functional.softplus(-scores),
        "sigmoid": torch.sigmoid(scores),
        "clipped-log-proba": torch.log(
            torch.as_tensor(js.predict_proba(Xt[:5]), dtype=torch.float32).clamp(1e-7)
        ),
        "log-outputs": torch.log(scores.double().clamp_min(tiny)).float(),
        "probabilities": torch.as_tensor(js.predict_proba(Xt[:5]), dtype=torch.float32),
    }[view]
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


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


def test_autoattack_equals_a_direct_call_of_the_reference(hcc, digits):
    from pyautoattack import AutoAttack

    _, _, Xt, yt = digits
    X, y = Xt[:40], yt[:40]
    ours = evaluate_attack(hcc, X, y, attack="autoattack", eps=0.1, seed=7, **LIGHT_AA)
    reference = AutoAttack(
        attacked_function(hcc), eps=0.1, seed=7, version="standard", device="cpu"
    )
    reference.square.n_queries = LIGHT_AA["n_queries"]
    x = torch.as_tensor(X.reshape(-1, 1, 8, 8))
    x_adv, _ = reference.run_standard_evaluation(x, torch.as_tensor(y))
    robust = hcc.predict(x_adv.reshape(len(X), -1).numpy()) == y
    np.testing.assert_array_equal(ours.worst, robust & (hcc.predict(X) == y))
    assert set(ours.details["accuracy_after"]) == {
        "apgd-ce",
        "apgd-t",
        "fab-t",
        "square",
    }
    assert 0 < ours.accuracy < hcc.score(X, y)  # some survive, some do not


def test_autoattack_flags_are_collected(digits):
    X, y, Xt, yt = digits
    vib = VIBClassifier(max_epochs=5, **FAST).fit(X, y)
    plain = evaluate_attack(vib, Xt[:20], yt[:20], attack="apgd-ce", eps=0.05)
    assert plain.flags == []  # the mean encoder is deterministic
    eot = evaluate_attack(
        vib, Xt[:20], yt[:20], attack="apgd-ce", eps=0.05, eot_samples=4
    )
    assert any("randomized defense" in flag for flag in eot.flags)


def test_foolbox_fgsm_line_search_is_foolboxs_epsilon_grid(hcc, digits):
    import foolbox as fb

    _, _, Xt, yt = digits
    X, y = Xt[:40], yt[:40]
    curve = robustness_curve(hcc, X, y, attack="fgsm-search", grid=21, max_eps=0.5)
    grid = np.linspace(0, 0.5, 21)[1:]
    fmodel = fb.PyTorchModel(attacked_function(hcc), bounds=(0, 1))
    _, _, success = fb.attacks.FGSM()(
        fmodel,
        torch.as_tensor(X.reshape(-1, 1, 8, 8)),
        torch.as_tensor(y),
        epsilons=list(grid),
    )
    success = success.numpy()
    first = np.where(success.any(0), grid[success.argmax(0)], np.inf)
    first[hcc.predict(X) != y] = 0.0
    np.testing.assert_allclose(curve.minimal_perturbation, first)


@pytest.mark.parametrize("attack", ["fmn-linf", "ddn"])
def test_minimal_perturbation_curves(hcc, digits, attack):
    _, _, Xt, yt = digits
    X, y = Xt[:40], yt[:40]
    curve = robustness_curve(hcc, X, y, attack=attack, steps=30)
    acc = curve.accuracy
    assert np.all(np.diff(acc) <= 0)
    assert acc[0] == pytest.approx(hcc.score(X, y))
    assert np.all(curve.minimal_perturbation[hcc.predict(X) != y] == 0)
    # FMN / DDN are strong: nearly everything breaks within the search
    assert np.isfinite(curve.minimal_perturbation).mean() > 0.9
    assert 0 < curve.median_perturbation < np.inf
    # the fixed-budget view of the same attack agrees with the curve
    eps = curve.median_perturbation
    fixed = evaluate_attack(hcc, X, y, attack=attack, eps=eps, steps=30)
    assert fixed.accuracy == pytest.approx(curve.accuracy_at(eps)[0], abs=0.1)
    assert curve.plot().get_ylabel() == "accuracy"


def test_worst_case_is_per_example_minimum():
    from sk_guessfirst.adversarial import RobustnessCurve

    a = RobustnessCurve(np.array([0.1, 0.5, np.inf, 0.0]), np.inf)
    b = RobustnessCurve(np.array([0.3, 0.2, 0.4, 0.0]), np.inf)
    w = worst_case(a, b)
    np.testing.assert_array_equal(w.minimal_perturbation, [0.1, 0.2, 0.4, 0.0])
    assert w.accuracy_at(0.15)[0] == 0.5
    with pytest.raises(ValueError, match="one norm"):
        worst_case(a, RobustnessCurve(np.zeros(4), 2.0))


def test_a_substitute_is_fitted_once_by_who_holds_it(hcc, digits, monkeypatch):
    X, y, Xt, yt = digits
    fits = []
    original = LeNet5Classifier.fit

    def counting_fit(self, *args, **kwargs):
        fits.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LeNet5Classifier, "fit", counting_fit)
    scorer = make_adversarial_scorer(
        attack="pgd", eps=0.1, mode="black-box", substitute=(X, y), random_state=0
    )
    scores = [scorer(hcc, Xt, yt) for _ in range(2)]
    # the scorer holds its substitute: fitted once for every candidate it scores
    assert len(fits) == 1 and scores[0] == scores[1]
    assert scorer.substitutes.resolve((X, y)) is scorer.substitutes.resolve((X, y))
    assert len(fits) == 1
    # a one-off call with (X, y) fits its own; no state outlives it
    adversarial_accuracy(
        hcc,
        Xt[:20],
        yt[:20],
        attack="fgsm",
        eps=0.1,
        mode="black-box",
        substitute=(X, y),
    )
    assert len(fits) == 2
    curve = robustness_curve(
        hcc,
        Xt[:40],
        yt[:40],
        attack="fgsm-search",
        mode="black-box",
        substitute=fit_substitute(X, y),
    )
    assert len(fits) == 3 and curve.median_perturbation > 0


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


def test_art_instance_with_another_eps_is_refused(hcc, digits):
    from art.attacks.evasion import ProjectedGradientDescent

    _, _, Xt, yt = digits
    attack = ProjectedGradientDescent(
        to_art(hcc), eps=0.3, eps_step=0.05, max_iter=5, verbose=False
    )
    with pytest.raises(ValueError, match="eps=0.3, but eps=0.1"):
        adversarial_accuracy(hcc, Xt, yt, attack=attack, eps=0.1)
    # eps=None takes the instance's; the instance is run as built
    result = evaluate_attack(hcc, Xt[:30], yt[:30], attack=attack, eps=None)
    assert result.eps == 0.3 and result.accuracy < 0.2


def test_scorer_checks_its_arguments_when_built():
    with pytest.raises(ValueError, match="unknown attack"):
        make_adversarial_scorer(attack="nope", eps=0.1)
    with pytest.raises(ValueError, match="unknown parameter"):
        make_adversarial_scorer(attack="pgd", eps=0.1, num_random_inits=3)
    with pytest.raises(ValueError, match="runs with loss"):
        make_adversarial_scorer(attack="pgd", eps=0.1, loss="hinge")


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
    assert np.all(results["mean_test_fgsm"] < results["mean_test_clean"])
    # the scorer's number inside the search is the function's on the same fold
    train, test = next(StratifiedKFold(2).split(X[:600], y[:600]))
    for i, params in enumerate(results["params"]):
        est = HypothesisConditionedClassifier(max_epochs=3, **FAST, **params)
        est.fit(X[:600][train], y[:600][train])
        direct = adversarial_accuracy(
            est, X[:600][test], y[:600][test], attack="fgsm", eps=0.05
        )
        assert results["split0_test_fgsm"][i] == direct
    # refit on the adversarial score: the winner refitted on all the data
    assert search.best_estimator_.ie_lambda == search.best_params_["ie_lambda"]
    assert len(search.best_estimator_.history) == 3


def test_scorer_with_interval_puts_the_bounds_in_cv_results(digits):
    X, y, _, _ = digits
    scorer = make_adversarial_scorer(attack="fgsm", eps=0.05, interval=True)
    search = GridSearchCV(
        CNNClassifier(max_epochs=6, **FAST),
        {"lr": [0.001, 0.002]},
        scoring=scorer,
        refit="robust",
        cv=2,
    ).fit(X[:400], y[:400])
    r = search.cv_results_
    low, high = r["split0_test_robust_low"], r["split0_test_robust_high"]
    assert np.all(low < r["split0_test_robust"]) and np.all(
        r["split0_test_robust"] < high
    )
    # the exact interval of the fold's count: 200 images a fold
    acc = r["split0_test_robust"][0]
    assert (low[0], high[0]) == accuracy_interval(round(acc * 200), 200)
    assert search.best_params_ == r["params"][int(np.argmax(r["mean_test_robust"]))]


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
    serial = GridSearchCV(
        HypothesisConditionedClassifier(max_epochs=2, **FAST),
        {"ie_lambda": [0.0, 0.01]},
        scoring=make_adversarial_scorer(attack="fgsm", eps=0.05),
        cv=2,
    ).fit(X[:400], y[:400])
    # the same numbers on two worker processes as in this one
    for split in ("split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(
            search.cv_results_[split], serial.cv_results_[split]
        )


LIGHT_REPORT = {"square": LIGHT_AA, "autoattack": LIGHT_AA}


def test_report_on_an_undefended_cnn(cnn, digits):
    X, y, Xt, yt = digits
    report = robustness_report(
        cnn, Xt[:50], yt[:50], eps=0.1, substitute=(X, y), attack_params=LIGHT_REPORT
    )
    passed = {c.name: c.passed for c in report.checks}
    for name in (
        "single-step vs iterative",
        "growing eps",
        "input gradients",
        "transfer vs white-box",
    ):
        assert passed[name], str(report)
    assert report.worst_case <= min(report.accuracies.values())
    assert all(r.eps == 0.1 for r in report.results.values())
    assert "n_queries" in str(report) and "max_iter" in str(report)


def test_report_worst_case_is_per_example_over_attacks_at_its_eps():
    T, F = True, False
    clean = np.array([T, T, T, T])

    def result(mask, eps=0.1):
        return AttackResult("pgd", eps, "white-box", clean, {"ce": np.array(mask)})

    report = RobustnessReport(eps=0.1)
    report.results = {"FGSM": result([T, F, T, T]), "PGD": result([T, T, F, T])}
    # 2 of 4 survive both, though each attack alone leaves 3 of 4
    assert report.worst_case == 0.5
    assert report.accuracies == {"FGSM": 0.75, "PGD": 0.75}


def test_report_flags_masked_gradients(saturated, digits):
    _, _, Xt, yt = digits
    report = robustness_report(
        saturated, Xt[:40], yt[:40], eps=0.1, attack_params=LIGHT_REPORT
    )
    flagged = {c.name for c in report.flags}
    assert "input gradients" in flagged
    assert "cross-entropy vs margin loss" in flagged


def test_a_new_attack_or_view_is_one_entry_seen_everywhere(hcc, digits, monkeypatch):
    from sk_guessfirst.adversarial import ATTACKS, VIEWS
    from sk_guessfirst.adversarial._attacks import ATTACKS as registry
    from sk_guessfirst.adversarial._attacks import attack_table_rst
    from sk_guessfirst.attacked._function import View
    from sk_guessfirst.cli import build_parser
    from sk_guessfirst.reproduce._tables import Row

    pgd = ATTACKS["pgd"]
    quick = replace(pgd, name="pgd-5", label="PGD-5", defaults=lambda eps: dict(
        max_iter=5, num_random_init=1), summary="PGD, 5 steps")  # fmt: skip
    monkeypatch.setitem(registry, "pgd-5", quick)
    tanh = View("tanh", "tanh(V)", lambda scores, objective: torch.tanh(scores))
    monkeypatch.setitem(VIEWS, "tanh", tanh)
    _, _, Xt, yt = digits
    result = evaluate_attack(
        hcc, Xt[:30], yt[:30], attack="pgd-5", eps=0.1, view="tanh", random_state=0
    )
    assert result.params["max_iter"] == 5 and result.params["eps_step"] == 0.05
    assert result.accuracy <= hcc.score(Xt[:30], yt[:30])
    scorer = make_adversarial_scorer(attack="pgd-5", eps=0.1, view="tanh")
    assert 0 <= scorer(hcc, Xt[:30], yt[:30]) <= 1
    assert "pgd-5" in attack_table_rst() and "PGD, 5 steps" in attack_table_rst()
    assert Row("pgd-5", "white-box", 0.1, {}, {}, {}).label == "PGD-5 white"
    views = next(a for a in build_parser()._subparsers._group_actions[0].choices[
        "reproduce"]._actions if a.dest == "views")  # fmt: skip
    assert "tanh" in views.choices and "tanh(V)" in views.help


def test_art_config_is_written_whole_and_never_over_another(tmp_path, monkeypatch):
    # ART writes ~/.art/config.json on first import; processes importing it at
    # once on a fresh home raced into a NameError inside art.config.
    import json

    from sk_guessfirst.adversarial import _artconfig

    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / ".art" / "config.json"
    _artconfig.ensure_art_config()
    assert json.loads(path.read_text()) == {
        "ART_DATA_PATH": str(tmp_path / ".art" / "data")
    }
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]
    path.write_text('{"ART_DATA_PATH": "/elsewhere"}')
    _artconfig.ensure_art_config()  # present: left alone
    assert path.read_text() == '{"ART_DATA_PATH": "/elsewhere"}'

    # another process writes its file between the check and the link
    path.unlink()
    real_link = os.link

    def others_first(src, dst):
        path.write_text('{"ART_DATA_PATH": "/theirs"}')
        real_link(src, dst)

    monkeypatch.setattr(_artconfig.os, "link", others_first)
    _artconfig.ensure_art_config()
    assert path.read_text() == '{"ART_DATA_PATH": "/theirs"}'
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]
