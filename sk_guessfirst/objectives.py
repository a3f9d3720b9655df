"""Training objectives: variational lower bounds on a divergence between the
joint distribution P of (input, label) pairs and the product Q = p(x) u(k) of
the input marginal and the *uniform* distribution over label hypotheses.

Every function takes the score matrix ``scores`` (B x K, entry ``T(x_i, k)``)
and the true labels ``y`` (B,), and returns the *loss*: minus the bound
estimated on the batch. Joint pairs are ``scores[i, y_i]``; marginal pairs are
all B*K entries ("sampling uniformly in all categories and pairing them
broadcastly with all samples").

See the paper (Zhu, An & Niu, arXiv 2001.03311, Eq. 1-6), the user guide and
Nowozin et al. (2016), Table 2, for the f-divergence conjugate table
reproduced in :data:`F_DIVERGENCES`. Each objective is one
:class:`Objective` record in :data:`REGISTRY` that carries its loss, its
output activation and its probability link; nothing else in the package asks
which objective it holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, KeysView
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

LOG2 = math.log(2.0)


def _positive_scores(scores: Tensor, y: Tensor) -> Tensor:
    return scores.gather(1, y.view(-1, 1)).squeeze(1)


def _joint_mean(values: Tensor, y: Tensor, weight: Tensor | None) -> Tensor:
    """E_P of per-example values; with class weights, E under P_w ∝ w_y P."""
    if weight is None:
        return values.mean()
    w = weight[y]
    return (w * values).sum() / w.sum()


def dv_loss(scores: Tensor, y: Tensor, weight: Tensor | None = None) -> Tensor:
    """Donsker-Varadhan bound on KL(P || Q) (paper Eq. 4), negated.

    ``KL >= E_P[T] - log E_Q[exp T]``; the log-mean-exp uses logsumexp.

    Parameters
    ----------
    scores : Tensor of shape (B, K)
        Hypothesis scores ``T(x_i, k)``.
    y : LongTensor of shape (B,)
        True labels, encoded 0..K-1.
    weight : Tensor of shape (K,) or None, default=None
        Class weights (see :func:`objective_loss`).

    Returns
    -------
    loss : scalar Tensor
    """
    n = scores.numel()
    log_mean_exp = torch.logsumexp(scores.reshape(-1), 0) - math.log(n)
    return -(_joint_mean(_positive_scores(scores, y), y, weight) - log_mean_exp)


def energy_loss(scores: Tensor, y: Tensor, weight: Tensor | None = None) -> Tensor:
    """Energy-based (Poole et al.) bound on KL (paper Eq. 5/6), negated.

    With uniform hypotheses it is cross-entropy over the K scores minus log K.

    Parameters
    ----------
    scores : Tensor of shape (B, K)
        Hypothesis scores ``T(x_i, k)``.
    y : LongTensor of shape (B,)
        True labels, encoded 0..K-1.
    weight : Tensor of shape (K,) or None, default=None
        Class weights (see :func:`objective_loss`).

    Returns
    -------
    loss : scalar Tensor
    """
    return F.cross_entropy(scores, y, weight=weight) - math.log(scores.shape[1])


@dataclass(frozen=True)
class FDivergence:
    """One row of the conjugate table, as functions of the raw output v.

    ``g`` is the output activation respecting dom f*, ``fstar_g`` is
    ``f*(g(v))`` written in a numerically stable closed form, and ``log_ratio``
    maps the optimal v back to log r = log dP/dQ (used for probabilities).
    """

    g: Callable[[Tensor], Tensor]
    fstar_g: Callable[[Tensor], Tensor]
    log_ratio: Callable[[Tensor], Tensor] | None


F_DIVERGENCES: dict[str, FDivergence] = {
    # g = log 2 - softplus(-v);  f*(t) = -log(2 - e^t)  ->  softplus(v) - log 2
    "js": FDivergence(
        g=lambda v: LOG2 - F.softplus(-v),
        fstar_g=lambda v: F.softplus(v) - LOG2,
        log_ratio=lambda v: v,
    ),
    # g = v;  f*(t) = exp(t - 1);  optimal v = 1 + log r
    "kl": FDivergence(
        g=lambda v: v, fstar_g=lambda v: torch.exp(v - 1.0), log_ratio=lambda v: v - 1.0
    ),
    # g = -exp(-v);  f*(t) = -1 - log(-t)  ->  v - 1
    "rkl": FDivergence(
        g=lambda v: -torch.exp(-v), fstar_g=lambda v: v - 1.0, log_ratio=lambda v: v
    ),
    # g = v;  f*(t) = t^2/4 + t;  optimal v = 2(r - 1): no log link (see proba)
    "pearson": FDivergence(
        g=lambda v: v, fstar_g=lambda v: v * v / 4.0 + v, log_ratio=None
    ),
    # g = 1 - exp(-v);  f*(t) = t / (1 - t)  ->  exp(v) - 1;  optimal v = log(r)/2
    "hellinger": FDivergence(
        g=lambda v: 1.0 - torch.exp(-v),
        fstar_g=lambda v: torch.exp(v) - 1.0,
        log_ratio=lambda v: 2.0 * v,
    ),
    # g = -softplus(-v);  f*(t) = -log(1 - e^t)  ->  softplus(v)
    "gan": FDivergence(
        g=lambda v: -F.softplus(-v), fstar_g=F.softplus, log_ratio=lambda v: v
    ),
}


def f_divergence_loss(
    scores: Tensor, y: Tensor, divergence: str, weight: Tensor | None = None
) -> Tensor:
    """Convex-conjugate bound ``E_P[g(V)] - E_Q[f*(g(V))]`` (paper Eq. 1), negated.

    Parameters
    ----------
    scores : Tensor of shape (B, K)
        Hypothesis scores ``T(x_i, k)``.
    y : LongTensor of shape (B,)
        True labels, encoded 0..K-1.
    divergence : str
        A key of :data:`F_DIVERGENCES`.
    weight : Tensor of shape (K,) or None, default=None
        Class weights (see :func:`objective_loss`).

    Returns
    -------
    loss : scalar Tensor
    """
    fd = F_DIVERGENCES[divergence]
    joint = _joint_mean(fd.g(_positive_scores(scores, y)), y, weight)
    return -(joint - fd.fstar_g(scores).mean())


def _softmax(scores: Tensor) -> Tensor:
    return torch.softmax(scores, dim=1)


def _pearson_proba(scores: Tensor) -> Tensor:
    # the optimal critic is 2(r - 1): r = max(0, 1 + v/2), normalised
    # (uniform where every ratio is clipped to zero)
    r = torch.clamp(1.0 + scores / 2.0, min=0.0)
    total = r.sum(dim=1, keepdim=True)
    uniform = torch.full_like(r, 1.0 / r.shape[1])
    return torch.where(total > 0, r / total.clamp_min(1e-30), uniform)


@dataclass(frozen=True)
class Objective:
    """One training objective and everything that follows from it.

    Attributes
    ----------
    name : str
        The estimators' ``objective=`` value.
    loss : callable
        ``(scores, y, weight) -> loss``: minus the bound on the batch.
    activation : callable
        ``v -> g(v)``, the output activation of the bound (identity for the
        KL bounds DV and energy).
    proba : callable
        ``scores -> p(k | x)``, through the density-ratio link.
    """

    name: str
    loss: Callable[[Tensor, Tensor, Tensor | None], Tensor]
    activation: Callable[[Tensor], Tensor]
    proba: Callable[[Tensor], Tensor]


def _f_objective(name: str) -> Objective:
    fd = F_DIVERGENCES[name]
    log_ratio = fd.log_ratio

    def loss(scores: Tensor, y: Tensor, weight: Tensor | None = None) -> Tensor:
        return f_divergence_loss(scores, y, name, weight)

    def proba(scores: Tensor) -> Tensor:
        if log_ratio is None:
            return _pearson_proba(scores)
        return torch.softmax(log_ratio(scores), dim=1)

    return Objective(name, loss, fd.g, proba)


def _identity(v: Tensor) -> Tensor:
    return v


REGISTRY: dict[str, Objective] = {
    "dv": Objective("dv", dv_loss, _identity, _softmax),
    "js": _f_objective("js"),
    "energy": Objective("energy", energy_loss, _identity, _softmax),
    **{name: _f_objective(name) for name in ("kl", "rkl", "pearson", "hellinger")},
    "gan": _f_objective("gan"),
}
# The registry's names, live: an objective registered later is among them.
OBJECTIVES: KeysView[str] = REGISTRY.keys()


# The package's baselines (CNN, LeNet-5, VIB) output logits: their
# "objective" is cross-entropy, whose probabilities are the softmax.
def _cross_entropy(scores: Tensor, y: Tensor, weight: Tensor | None = None) -> Tensor:
    return F.cross_entropy(scores, y, weight=weight)


LOGITS = Objective("logits", _cross_entropy, _identity, _softmax)


def get_objective(objective: str | None) -> Objective:
    """The record of ``objective``.

    Parameters
    ----------
    objective : str or None
        One of :data:`OBJECTIVES`; None for a baseline's logits (softmax,
        cross-entropy).

    Returns
    -------
    record : Objective
    """
    if objective is None:
        return LOGITS
    if objective not in REGISTRY:
        raise ValueError(
            f"unknown objective {objective!r}; choose one of {list(REGISTRY)}"
        )
    return REGISTRY[objective]


def objective_loss(
    scores: Tensor, y: Tensor, objective: str, weight: Tensor | None = None
) -> Tensor:
    """Loss of ``objective`` on a batch: minus its variational lower bound.

    Parameters
    ----------
    scores : Tensor of shape (B, K)
        Hypothesis scores ``T(x_i, k)``.
    y : LongTensor of shape (B,)
        True labels, encoded 0..K-1.
    objective : str
        One of :data:`OBJECTIVES`.
    weight : Tensor of shape (K,) or None, default=None
        Class weights w_k. The joint term E_P becomes an expectation under
        the reweighted joint P_w(x, y) ∝ w_y P(x, y) (a weighted mean over
        the batch's true pairs); the marginal term over all pairs is
        unchanged. The bound is then on D(P_w || Q), whose optimal critic
        gives p_w(k | x) ∝ w_k p(k | x): with "balanced" weights, the
        posterior of a class-balanced problem.

    Returns
    -------
    loss : scalar Tensor

    Examples
    --------
    >>> import torch
    >>> s = torch.tensor([[2.0, -1.0], [-1.0, 2.0]])
    >>> float(objective_loss(s, torch.tensor([0, 1]), "energy")) < 0
    True
    """
    return get_objective(objective).loss(scores, y, weight)


def predict_proba_from_scores(scores: Tensor, objective: str) -> Tensor:
    """p(k | x) from hypothesis scores via the objective's density-ratio link.

    Q's label marginal is uniform, so ``r(x, k) = K p(k|x)`` and
    ``p(k|x) = r(x, k) / sum_j r(x, j)``: a softmax of log r. For Pearson
    chi^2 the optimal critic is ``2(r - 1)``, so ``r = max(0, 1 + v/2)``
    normalised (uniform where every ratio is clipped to zero).

    Parameters
    ----------
    scores : Tensor of shape (B, K)
        Hypothesis scores.
    objective : str
        One of :data:`OBJECTIVES`.

    Returns
    -------
    proba : Tensor of shape (B, K)
    """
    return get_objective(objective).proba(scores)


__all__ = [
    "F_DIVERGENCES",
    "OBJECTIVES",
    "REGISTRY",
    "FDivergence",
    "Objective",
    "dv_loss",
    "energy_loss",
    "f_divergence_loss",
    "get_objective",
    "objective_loss",
    "predict_proba_from_scores",
]
