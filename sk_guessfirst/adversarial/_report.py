"""The checklist of an honest evaluation (Carlini et al. 2019; Athalye et al. 2018;
Croce & Hein 2020), run at the budget being reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from art.utils import to_categorical
from numpy.typing import ArrayLike

from .._plaindata import plain_type
from ._art import to_art
from ._evaluate import check_eps, evaluate_attack
from ._model import check_clip_values, check_Xy, resolve_target
from ._substitute import SubstituteCache


@plain_type
@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@plain_type
@dataclass
class RobustnessReport:
    """Per-attack results at one L-inf budget and the gradient-masking checks.

    Attributes
    ----------
    eps : float
    results : dict of str to AttackResult
        Every attack run at ``eps`` (label -> result, per example and loss).
    growing : dict of float to float
        PGD's robust accuracy at growing budgets (eps, ..., ``large_eps``).
    gradients : dict of str to (float, bool)
        Per loss: share of all-zero input gradients, and whether any is NaN.
    checks : list of Check
    """

    eps: float
    results: dict = field(default_factory=dict)
    growing: dict = field(default_factory=dict)
    gradients: dict = field(default_factory=dict)
    checks: list = field(default_factory=list)

    @property
    def flags(self):
        """The checks that failed: signs of gradient masking or of a weak attack."""
        return [c for c in self.checks if not c.passed]

    def check_plain(self) -> None:
        """Every attack's masks of one length (a stored report is refused
        otherwise)."""
        if not isinstance(self.results, dict):
            raise TypeError("results is not a dict of AttackResult")
        lengths = {r.n_examples for r in self.results.values()}
        if len(lengths) > 1:
            raise ValueError(f"its attacks hold {sorted(lengths)} examples")

    @property
    def n_examples(self) -> int | None:
        return next((r.n_examples for r in self.results.values()), None)

    @property
    def accuracies(self):
        return {label: r.accuracy for label, r in self.results.items()}

    @property
    def worst_case(self):
        """Robust accuracy at ``eps`` under the per-example worst case over every
        attack and loss run at ``eps`` (never clean accuracy, never larger eps)."""
        masks = [r.worst for r in self.results.values()]
        return float(np.logical_and.reduce(masks).mean())

    def __str__(self):
        lines = [f"Robustness report at L-inf eps={self.eps}", ""]
        for label, r in self.results.items():
            by_loss = ", ".join(f"{k} {v:.1%}" for k, v in r.accuracy_by_loss().items())
            lines.append(f"  {label:<26} {r.accuracy:6.1%}   ({by_loss})")
        lines.append(f"  {'worst case (per example)':<26} {self.worst_case:6.1%}")
        lines += [
            "",
            "PGD at growing eps: "
            + ", ".join(f"{e:g}: {a:.1%}" for e, a in self.growing.items()),
        ]
        lines += ["", "Checks:"]
        lines += [
            f"  [{'ok' if c.passed else 'FLAG'}] {c.name}: {c.detail}"
            for c in self.checks
        ]
        lines += ["", "Attack parameters:"]
        lines += [f"  {label}: {r.params}" for label, r in self.results.items()]
        return "\n".join(lines)


def input_gradient_stats(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    loss: str = "ce",
    clip_values: tuple[float, float] = (0.0, 1.0),
    view: str = "scores",
) -> tuple[float, bool]:
    """Share of examples whose input gradient (of ``loss``) is all zero, and
    whether any gradient is NaN.

    Parameters
    ----------
    estimator : fitted classifier, or Pipeline of scalers ending in one
        The model.
    X, y : array-like
        Inputs and labels.
    loss : {"ce", "margin"}, default="ce"
        The loss differentiated.
    clip_values : tuple, default=(0.0, 1.0)
        Valid input range.
    view : str, default="scores"
        What the attacker is handed.

    Returns
    -------
    zero_share : float
        Share of examples with an all-zero gradient.
    has_nan : bool
        Whether any gradient entry is NaN.
    """
    target = resolve_target(estimator)
    X, y, y_enc = check_Xy(target, X, y, check_clip_values(clip_values))
    art = to_art(target, clip_values=clip_values, loss=loss, view=view)
    grads = art.loss_gradient(
        target.as_input(X), to_categorical(y_enc, len(target.classes_))
    )
    flat = grads.reshape(len(grads), -1)
    return float((np.abs(flat).max(1) == 0).mean()), bool(np.isnan(flat).any())


def _share(broken_by, survives):
    """Share of examples that one attack breaks while another leaves standing."""
    return float((~broken_by & survives).mean())


def robustness_report(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    eps: float = 0.3,
    substitute: Any = None,
    tolerance: float = 0.02,
    clip_values: tuple[float, float] = (0.0, 1.0),
    large_eps: float = 1.0,
    view: str = "scores",
    attack_params: dict | None = None,
    random_state: int | None = 0,
    verbose: int = 0,
) -> RobustnessReport:
    """Run the attacks an honest L-inf evaluation at ``eps`` needs, and check them.

    Attacks, each with cross-entropy and margin losses where it has a choice:
    FGSM, PGD-40, PGD with 5x the iterations and 5 restarts, AutoAttack
    standard (reference code, with its own checks), Square on every example,
    PGD transferred from ``substitute`` (if given), and PGD at growing budgets
    up to ``large_eps``.

    Checks (each passes or is flagged with its numbers; ``tolerance`` slack):

    - iterative beats single step, per example: few examples FGSM breaks survive PGD;
    - more iterations and restarts do not help: PGD-200x5 >= PGD-40 - tol;
    - cross-entropy and margin agree: a gap means one loss is masked;
    - white-box beats gradient-free, per example: few examples Square breaks
      survive the gradient attacks;
    - white-box beats transfer, per example (with a substitute);
    - accuracy falls to 0 as eps grows: non-increasing, <= tol at ``large_eps``;
    - AutoAttack raises no flag of its own;
    - gradients are usable: no NaN, (almost) no all-zero input gradients,
      for either loss.

    Parameters
    ----------
    estimator : fitted classifier, or Pipeline of scalers ending in one
        The model.
    X, y : array-like
        Inputs in the valid range, and labels.
    eps : float, default=0.3
        The L-inf budget every check is run at.
    substitute : fitted estimator or (X_train, y_train), default=None
        For the transfer check; None skips it.
    tolerance : float, default=0.02
        Slack of every comparison.
    clip_values : tuple, default=(0.0, 1.0)
        Valid input range.
    large_eps : float, default=1.0
        The largest budget of the growing-eps check.
    view : str, default="scores"
        What the attacker is handed.
    attack_params : dict, default=None
        Per attack name, parameter overrides (e.g. ``{"square":
        {"n_queries": 1000}}``) to fit a smaller budget; written to the report.
    random_state : int, RandomState or None, default=0
        Seeds every attack.
    verbose : int, default=0
        Progress bars of the attack libraries.

    Returns
    -------
    report : RobustnessReport
        The results and the checks; ``str(report)`` is a readable summary.
    """
    eps = check_eps(eps)
    large_eps = check_eps(large_eps, "large_eps")
    target = resolve_target(estimator)
    X, y, _ = check_Xy(target, X, y, check_clip_values(clip_values))
    overrides = attack_params or {}
    substitute = SubstituteCache().resolve(substitute)  # (X, y): fitted once here
    report = RobustnessReport(eps=eps)
    common = dict(
        clip_values=clip_values, view=view, random_state=random_state, verbose=verbose
    )

    def run(label, attack, budget=eps, mode="white-box", **params):
        result = evaluate_attack(
            target,
            X,
            y,
            attack=attack,
            eps=budget,
            mode=mode,
            substitute=substitute,
            **common,
            **{**overrides.get(attack, {}), **params},
        )
        if budget == eps:
            report.results[label] = result
        return result

    fgsm = run("FGSM", "fgsm")
    pgd = run("PGD", "pgd")
    steps = pgd.params["max_iter"] * 5
    strong = run(f"PGD-{steps}x5", "pgd", max_iter=steps, num_random_init=5)
    run("AutoAttack", "autoattack")
    square = run("Square", "square")
    white = pgd.worst & strong.worst
    add = report.checks.append
    add(
        Check(
            "iterative beats single-step",
            _share(fgsm.worst, white) <= tolerance,
            f"PGD {pgd.accuracy:.1%} vs FGSM {fgsm.accuracy:.1%}; "
            f"{_share(fgsm.worst, white):.1%} of examples broken by FGSM survive PGD",
        )
    )
    add(
        Check(
            "more iterations and restarts do not help",
            strong.accuracy >= pgd.accuracy - tolerance,
            f"PGD-{steps}x5 {strong.accuracy:.1%} vs "
            f"PGD-{steps // 5} {pgd.accuracy:.1%}",
        )
    )
    ce, margin = pgd.accuracy_by_loss()["ce"], pgd.accuracy_by_loss()["margin"]
    add(
        Check(
            "cross-entropy and margin losses agree",
            abs(ce - margin) <= tolerance,
            f"PGD with cross-entropy {ce:.1%}, with margin {margin:.1%}",
        )
    )
    add(
        Check(
            "white-box beats gradient-free (per example)",
            _share(square.worst, white) <= tolerance,
            f"{_share(square.worst, white):.1%} of examples broken by Square "
            f"({square.accuracy:.1%}) survive PGD ({white.mean():.1%})",
        )
    )
    if substitute is not None:
        black = run("PGD transfer", "pgd", mode="black-box")
        add(
            Check(
                "white-box beats black-box (per example)",
                _share(black.worst, white) <= tolerance,
                f"{_share(black.worst, white):.1%} of examples broken by transfer "
                f"({black.accuracy:.1%}) survive PGD ({white.mean():.1%})",
            )
        )
    report.growing[eps] = pgd.accuracy
    for budget in sorted({*np.linspace(eps, large_eps, 4).round(4), large_eps}):
        if budget > eps:
            report.growing[float(budget)] = run(
                "", "pgd", budget=float(budget)
            ).accuracy
    curve = list(report.growing.values())
    monotone = all(b <= a + tolerance for a, b in zip(curve, curve[1:]))
    add(
        Check(
            "accuracy falls to 0 as eps grows",
            monotone and curve[-1] <= tolerance,
            ", ".join(f"{e:g}: {a:.1%}" for e, a in report.growing.items()),
        )
    )
    aa_flags = report.results["AutoAttack"].flags + square.flags
    add(
        Check(
            "AutoAttack's own checks",
            not aa_flags,
            "; ".join(aa_flags) or "no flag raised",
        )
    )
    for loss in ("ce", "margin"):
        zero, nan = input_gradient_stats(
            target, X, y, loss=loss, clip_values=clip_values, view=view
        )
        report.gradients[loss] = (zero, nan)
    add(
        Check(
            "input gradients usable",
            all(z <= 0.05 and not n for z, n in report.gradients.values()),
            "; ".join(
                f"{loss}: {z:.1%} all-zero, NaN: {n}"
                for loss, (z, n) in report.gradients.items()
            ),
        )
    )
    return report
