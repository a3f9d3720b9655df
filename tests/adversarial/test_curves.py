"""Minimal-perturbation curves (adversarial/_curves.py, Foolbox's attacks)."""

import numpy as np
import pytest
import torch

from sk_guessfirst.adversarial import (
    attacked_function,
    evaluate_attack,
    robustness_curve,
    worst_case,
)


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


def test_the_line_search_checks_many_budgets_per_call_with_the_same_result(hcc, digits):
    """Blocks of budgets per predict call find, per example, the first budget
    that fools, as one call per budget does (rows=1), with far fewer calls."""
    from sk_guessfirst.adversarial._foolbox import _line_search

    _, _, Xt, yt = digits
    X = Xt[:60].reshape(60, -1)
    step = np.sign(np.random.RandomState(0).randn(*X.shape)).astype(np.float32)
    grid = np.linspace(0, 0.6, 41)
    calls = []

    class Counted:
        def predict(self, X):
            calls.append(len(X))
            return hcc.predict(X)

    one_at_a_time = _line_search(Counted(), X, yt[:60], step, grid, (0, 1), rows=1)
    n_single = len(calls)
    assert np.isfinite(one_at_a_time).sum() > 10 and np.isinf(one_at_a_time).any()
    for rows in (7, 500, 4096):
        calls.clear()
        blocked = _line_search(Counted(), X, yt[:60], step, grid, (0, 1), rows=rows)
        np.testing.assert_array_equal(blocked, one_at_a_time)
        assert max(calls) <= max(rows, 60)
    assert len(calls) < n_single / 10


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
