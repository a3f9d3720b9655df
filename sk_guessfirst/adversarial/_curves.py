"""Accuracy against budget from per-example minimal perturbations (paper Fig. 3)."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._plaindata import check_vector, plain_type
from ._attacks import ATTACKS, NORM_NAMES, WORST, check_attack
from ._evaluate import _prepare, _seeded


@plain_type
@dataclass
class RobustnessCurve:
    """Accuracy against budget from per-example minimal perturbations.

    Attributes
    ----------
    minimal_perturbation : ndarray of shape (n_samples,)
        Smallest perturbation found that changes the prediction: 0 where the
        clean prediction is already wrong, inf where the attack failed.
    norm : float
        np.inf or 2.
    label : str
    eps : ndarray
        The budgets at which :attr:`accuracy` is evaluated (for plotting).
    """

    minimal_perturbation: np.ndarray
    norm: float
    label: str = ""
    eps: np.ndarray | None = None

    def __post_init__(self):
        if self.eps is None:
            finite = self.minimal_perturbation[np.isfinite(self.minimal_perturbation)]
            top = max(float(finite.max()) if len(finite) else 1.0, 1e-3)
            self.eps = np.linspace(0.0, top * 1.05, 101)

    def check_plain(self) -> None:
        check_vector(self.minimal_perturbation, "minimal_perturbation", "f")

    @property
    def n_examples(self) -> int:
        return len(self.minimal_perturbation)

    def accuracy_at(self, eps):
        """Share of examples classified correctly with minimal perturbation > eps."""
        eps = np.atleast_1d(eps)
        return (self.minimal_perturbation[None, :] > eps[:, None]).mean(1)

    @property
    def accuracy(self):
        return self.accuracy_at(self.eps)

    @property
    def median_perturbation(self):
        """Median minimal perturbation over all examples (0 for clean mistakes,
        inf where the attack failed), the paper's per-model summary."""
        return float(np.median(self.minimal_perturbation))

    def plot(self, ax=None, **kwargs):
        """Draw accuracy against eps on a matplotlib Axes (a new one if None)."""
        if ax is None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=(6, 4)).add_subplot()
        ax.plot(self.eps, self.accuracy, label=self.label or None, **kwargs)
        ax.set_xlabel(f"{NORM_NAMES[float(self.norm)]} budget eps")
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
        if self.label:
            ax.legend()
        return ax


def worst_case(
    *curves: RobustnessCurve,
    label: str = "worst case",
) -> RobustnessCurve:
    """Per-example minimum over curves of one norm: the strongest attack per image.

    Parameters
    ----------
    *curves : RobustnessCurve
        Curves of the same examples, in one norm.
    label : str, default="worst case"
        Label of the result.

    Returns
    -------
    curve : RobustnessCurve
        Their per-example minimal perturbation.
    """
    norms = {float(c.norm) for c in curves}
    if len(norms) != 1:
        raise ValueError(
            f"worst_case combines curves of one norm only, got {sorted(norms)}"
        )
    minimal = np.min([c.minimal_perturbation for c in curves], axis=0)
    return RobustnessCurve(minimal, norms.pop(), label)


def robustness_curve(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    attack: str = "fmn-linf",
    mode: str = "white-box",
    substitute: Any = None,
    **kwargs,
) -> RobustnessCurve:
    """Per-example minimal perturbations and the accuracy-vs-eps curve they give.

    The minimal-perturbation attacks of the registry run through Foolbox 3:
    "fgsm-search" (the paper's FGSM, a line search over eps up to 1),
    "fmn-linf", "fmn-l2", "ddn" and "cw". In black-box mode the perturbation
    is crafted on the substitute and searched along its direction, each
    budget checked on the estimator.

    Parameters
    ----------
    estimator : fitted classifier, or Pipeline of scalers ending in one
        The model attacked.
    X, y : array-like
        Inputs in the valid range, and labels.
    attack : str, default="fmn-linf"
        A minimal-perturbation attack of the registry.
    mode : {"white-box", "black-box"}, default="white-box"
        Craft on the estimator, or on ``substitute``.
    substitute : fitted estimator or (X_train, y_train), default=None
        Black-box only.
    **kwargs
        ``clip_values``, ``view``, ``batch_size``, ``random_state`` (as in
        :func:`evaluate_attack`) and the attack's parameters (``steps``,
        ``max_eps``, ``grid``...).

    Returns
    -------
    curve : RobustnessCurve
        Per-example minimal perturbations and the accuracy they imply.
    """
    spec = check_attack(attack)
    if not spec.minimal:
        minimal = sorted(name for name, s in ATTACKS.items() if s.minimal)
        raise ValueError(
            f"robustness_curve needs a minimal-perturbation attack ({minimal}), "
            f"got {spec.name!r}"
        )
    random_state = kwargs.pop("random_state", None)
    options = {k: kwargs.pop(k) for k in _OPTIONS if k in kwargs}
    p = _prepare(
        estimator,
        X,
        y,
        attack=spec,
        eps=0.0,
        mode=mode,
        substitute=substitute,
        loss=WORST,
        attack_params=kwargs,
        **{**_DEFAULTS, **options},
    )
    seeded = nullcontext() if random_state is None else _seeded(random_state)
    with seeded:
        minimal, _ = spec.backend.minimal(
            spec, p.source, p.target, p.X, p.y, p.y_enc, p.params, p.opts
        )
    return RobustnessCurve(minimal, spec.norm, f"{spec.name} ({mode})")


_DEFAULTS = dict(
    clip_values=(0.0, 1.0), view="scores", eot_samples=0, batch_size=250, verbose=0
)
_OPTIONS = tuple(_DEFAULTS)
