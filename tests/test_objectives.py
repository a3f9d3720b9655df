"""Each objective against closed forms on a batch whose empirical law is exact.

x takes 3 values with known p(x) and p(k|x); the batch holds each (x, y) pair
in exact proportion, so the batch estimates *are* the population values. With
Q = p(x) u(k), the density ratio is r(x, k) = K p(k|x).
"""

import math

import numpy as np
import pytest
import torch

from sk_guessfirst.objectives import (
    F_DIVERGENCES,
    OBJECTIVES,
    objective_loss,
    predict_proba_from_scores,
)

K = 4
PX = np.array([0.5, 0.25, 0.25])
PK_X = np.array([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.4, 0.1], [0.05, 0.05, 0.1, 0.8]])
N_PER = 400  # samples per x value before weighting by p(x)


def exact_batch():
    rows, labels = [], []
    for x, px in enumerate(PX):
        for k in range(K):
            count = round(N_PER * px * PK_X[x, k] * 4)
            rows += [x] * count
            labels += [k] * count
    return np.array(rows), torch.tensor(labels)


X_IDX, Y = exact_batch()
R = K * PK_X  # r(x, k) per x value
_U = 1.0 / K


def true_divergence(f):
    """D_f(P || Q) = sum_x p(x) sum_k u(k) f(r(x, k))."""
    return float(sum(PX[x] * sum(_U * f(R[x, k]) for k in range(K)) for x in range(3)))


def _xlogx(u):
    return u * math.log(u) if u > 0 else 0.0


F_GENERATORS = {  # Nowozin et al. (2016), Table 1
    "kl": _xlogx,
    "rkl": lambda u: -math.log(u),
    "pearson": lambda u: (u - 1.0) ** 2,
    "hellinger": lambda u: (math.sqrt(u) - 1.0) ** 2,
    "js": lambda u: -(u + 1.0) * math.log((1.0 + u) / 2.0) + _xlogx(u),
    "gan": lambda u: _xlogx(u) - (u + 1.0) * math.log(u + 1.0),
}
OPTIMAL_CRITIC = {  # the table's last column, as v(r)
    "kl": lambda r: 1.0 + np.log(r),
    "rkl": np.log,
    "pearson": lambda r: 2.0 * (r - 1.0),
    "hellinger": lambda r: np.log(r) / 2.0,
    "js": np.log,
    "gan": np.log,
    "dv": np.log,
    "energy": np.log,
}


def scores_from(v_of_r):
    return torch.tensor(v_of_r(R)[X_IDX], dtype=torch.float64)


def bound(objective, scores):
    return -float(objective_loss(scores, Y, objective))


def test_batch_is_exact():
    joint = np.zeros((3, K))
    np.add.at(joint, (X_IDX, Y.numpy()), 1)
    assert np.allclose(joint / joint.sum(), PX[:, None] * PK_X)


@pytest.mark.parametrize("objective", sorted(F_GENERATORS))
def test_f_bound_is_tight_at_optimal_critic(objective):
    expected = true_divergence(F_GENERATORS[objective])
    assert bound(objective, scores_from(OPTIMAL_CRITIC[objective])) == pytest.approx(
        expected, rel=1e-9, abs=1e-12
    )


@pytest.mark.parametrize("objective", ["dv", "energy"])
def test_kl_bounds_are_tight_at_log_ratio(objective):
    kl = true_divergence(_xlogx)
    assert bound(objective, scores_from(np.log)) == pytest.approx(kl, rel=1e-9)
    # DV and energy are invariant to a constant shift of the critic
    shifted = scores_from(lambda r: np.log(r) + 3.0)
    assert bound(objective, shifted) == pytest.approx(kl, rel=1e-9)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_any_other_critic_gives_less(objective):
    optimum = bound(objective, scores_from(OPTIMAL_CRITIC[objective]))
    rng = np.random.RandomState(0)
    for scale in (0.05, 0.3, 1.0):
        noise = rng.normal(scale=scale, size=(3, K))
        perturbed = torch.tensor(
            (OPTIMAL_CRITIC[objective](R) + noise)[X_IDX], dtype=torch.float64
        )
        assert bound(objective, perturbed) < optimum


def test_js_reduces_to_binary_cross_entropy():
    s = torch.randn(16, K, dtype=torch.float64)
    y = torch.randint(0, K, (16,))
    pos = s.gather(1, y[:, None]).squeeze(1)
    bce = (
        torch.nn.functional.softplus(-pos).mean()
        + torch.nn.functional.softplus(s).mean()
    )
    assert float(objective_loss(s, y, "js")) == pytest.approx(
        float(bce) - 2 * math.log(2)
    )


def test_energy_is_cross_entropy_minus_log_k():
    s = torch.randn(8, K)
    y = torch.randint(0, K, (8,))
    ce = torch.nn.functional.cross_entropy(s, y)
    assert float(objective_loss(s, y, "energy")) == pytest.approx(
        float(ce) - math.log(K)
    )


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_probability_link_recovers_posterior(objective):
    proba = predict_proba_from_scores(scores_from(OPTIMAL_CRITIC[objective]), objective)
    np.testing.assert_allclose(proba.numpy(), PK_X[X_IDX], rtol=1e-9)


def test_pearson_all_clipped_rows_are_uniform():
    proba = predict_proba_from_scores(torch.full((2, 3), -5.0), "pearson")
    np.testing.assert_allclose(proba.numpy(), 1 / 3)


def test_table_covers_every_f_objective():
    assert set(F_DIVERGENCES) | {"dv", "energy"} == set(OBJECTIVES)


def test_an_objective_registered_later_is_accepted_everywhere(monkeypatch):
    from dataclasses import replace

    from sk_guessfirst import OBJECTIVES as top_level
    from sk_guessfirst import HypothesisConditionedClassifier
    from sk_guessfirst.datasets import load_digits
    from sk_guessfirst.objectives import REGISTRY

    monkeypatch.setitem(REGISTRY, "dv-copy", replace(REGISTRY["dv"], name="dv-copy"))
    assert "dv-copy" in OBJECTIVES and "dv-copy" in top_level  # live names
    X, y = load_digits(return_X_y=True)
    clf = HypothesisConditionedClassifier(objective="dv-copy", max_epochs=1)
    clf.fit(X[:100], y[:100])  # the parameter check reads the registry now
    torch.testing.assert_close(
        torch.as_tensor(clf.predict_proba(X[:5])),
        predict_proba_from_scores(torch.as_tensor(clf.decision_function(X[:5])), "dv"),
    )
