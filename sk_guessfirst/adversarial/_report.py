"""The checklist of an honest evaluation (Carlini et al. 2019; Athalye et al. 2018;
Croce & Hein 2020), run at the budget being reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from art.utils import to_categorical
from numpy.typing import ArrayLike

from .._plaindata import plain_type
from ..attacked._function import (
    LOSSES,
    check_clip_values,
    check_Xy,
    is_stochastic,
    resolve_target,
)
from ._art import to_art
from ._attacks import ATTACKS, MODES
from ._evaluate import check_eps, evaluate_attack
from ._stats import compare_paired, format_accuracy
from ._substitute import SubstituteCache


@plain_type
@dataclass
class Check:
    """One check of the evaluation: what it compares (``name``), whether it
    found what an honest evaluation shows (``passed``), what it found
    (``detail``, with the numbers) and what was done about a failure
    (``action``: the adaptive attacks run and what they found)."""

    name: str
    passed: bool
    detail: str
    action: str = ""


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
    adaptive : list of str
        Labels of the adaptive attacks that failed checks ran (in ``results``).
    not_run : dict of str to str
        The checks that could not run on this model or these arguments, each
        with why (e.g. no substitute for the transfer check).
    """

    eps: float
    results: dict = field(default_factory=dict)
    growing: dict = field(default_factory=dict)
    gradients: dict = field(default_factory=dict)
    checks: list = field(default_factory=list)
    adaptive: list = field(default_factory=list)  # labels the remedies added
    not_run: dict = field(default_factory=dict)  # check name -> why it did not run

    @property
    def flags(self) -> list[Check]:
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
    def worst(self) -> np.ndarray:
        """Per example, robust to every attack and loss run at ``eps``."""
        return np.logical_and.reduce([r.worst for r in self.results.values()])

    @property
    def worst_case(self) -> float:
        """Robust accuracy at ``eps`` under the per-example worst case over every
        attack and loss run at ``eps`` (never clean accuracy, never larger eps)."""
        return float(self.worst.mean())

    def summary(self) -> str:
        """One line: the number to quote, the checks flagged, what ran for them."""
        flagged = ", ".join(c.name for c in self.flags) or "none"
        ran = ", ".join(self.adaptive) or "none needed"
        return (
            f"worst case {format_accuracy(self.worst)}; checks flagged: "
            f"{flagged}; adaptive attacks: {ran}"
        )

    def __str__(self):
        n = self.n_examples or 0
        lines = [
            f"Robustness report at L-inf eps={self.eps} ({n} images; 95% intervals, "
            "Clopper-Pearson)",
            "",
            f"  Robust accuracy to quote: {format_accuracy(self.worst)}",
            "  (per example, the worst case over every attack below, the adaptive "
            "ones included)",
            "",
        ]
        for label, r in self.results.items():
            by_loss = ", ".join(f"{k} {v:.1%}" for k, v in r.accuracy_by_loss().items())
            lines.append(f"  {label:<34} {format_accuracy(r.worst):<22} ({by_loss})")
        lines += [
            "",
            "PGD at growing eps: "
            + ", ".join(f"{e:g}: {a:.1%}" for e, a in self.growing.items()),
        ]
        lines += ["", "Checks (FLAG: a sign of gradient masking or of a weak attack):"]
        for c in self.checks:
            lines.append(f"  [{'ok' if c.passed else 'FLAG'}] {c.name}: {c.detail}")
            if c.action:
                lines.append(f"         -> {c.action}")
        for name, why in self.not_run.items():
            lines.append(f"  [n/a] {name}: {why}")
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


# -- the evidence the checks read ------------------------------------------------


@dataclass
class Evidence:
    """What the report's attacks found, as the checks and remedies read it."""

    target: Any
    X: np.ndarray
    y: np.ndarray
    eps: float
    tolerance: float
    clip_values: tuple[float, float]
    substitute: Any
    overrides: dict
    common: dict
    report: RobustnessReport
    binarization_samples: int = 10
    base: dict = field(default_factory=dict)  # BaseAttack -> its AttackResult

    def run(self, label, attack, *, budget=None, mode="white-box", **params):
        """Run ``attack`` (its report overrides, then ``params``); a result at
        the report's eps is recorded under ``label``."""
        budget = self.eps if budget is None else budget
        common = {**self.common, **{k: params.pop(k) for k in ("view",) if k in params}}
        substitute = params.pop("substitute", self.substitute)
        result = evaluate_attack(
            self.target, self.X, self.y, attack=attack, eps=budget, mode=mode,
            substitute=substitute, **common,
            **{**self.overrides.get(attack, {}), **params},
        )  # fmt: skip
        if budget == self.eps and label:
            self.report.results[label] = result
        return result

    @property
    def results(self):
        return self.report.results

    @property
    def white(self):
        """Per example, robust to both PGD runs."""
        return self.base[PGD].worst & self.base[STRONG_PGD].worst

    def label(self, attack: BaseAttack) -> str:
        """The label ``attack``'s result is reported under."""
        return next(k for k, r in self.results.items() if r is self.base[attack])

    def share(self, broken_by, survives) -> float:
        """Share of examples one attack breaks while another leaves standing."""
        return float((~broken_by & survives).mean())

    def helped(self, better, worse, what) -> tuple[bool, str]:
        """(passed, found) of "``better`` finds no more than ``worse``" (two
        :class:`BaseAttack`): a flag needs a gap over ``tolerance`` that the
        exact paired test also finds (p < 0.05, one-sided), so the slack
        scales with the number of images."""
        a, b = self.base[worse].worst, self.base[better].worst
        comparison = compare_paired(a, b)
        gap = comparison.difference
        helped = gap > self.tolerance and comparison.one_sided() < 0.05
        verb = "helped" if helped else "did not help"
        return not helped, (
            f"{what} {verb}: {self.label(better)} {b.mean():.1%} vs "
            f"{self.label(worse)} {a.mean():.1%} ({comparison.only_a} vs "
            f"{comparison.only_b} images discordant, one-sided exact p = "
            f"{comparison.one_sided():.2g})"
        )


# -- the base attacks: records the checks read their results by -------------------


@dataclass(frozen=True, eq=False)
class BaseAttack:
    """One attack every report runs: the registry attack (``attack``), its
    mode, and for a stronger run the factor of iterations and restarts
    (``restarts``: PGD-200x5 is PGD-40 with 5x the steps and 5 restarts).
    The checks read its result as ``evidence.base[record]``, never by label."""

    label: str
    attack: str
    mode: str = "white-box"
    restarts: int = 1

    def run(self, ev: Evidence) -> None:
        params: dict = {}
        label = self.label
        if self.restarts > 1:
            spec = ATTACKS[self.attack]
            base = spec.parameters(ev.eps, ev.overrides.get(self.attack))
            steps = base["max_iter"] * self.restarts
            params = dict(max_iter=steps, num_random_init=self.restarts)
            label = f"{self.label}-{steps}x{self.restarts}"
        ev.base[self] = ev.run(label, self.attack, mode=self.mode, **params)


FGSM = BaseAttack("FGSM", "fgsm")
PGD = BaseAttack("PGD", "pgd")
STRONG_PGD = BaseAttack("PGD", "pgd", restarts=5)
AUTOATTACK = BaseAttack("AutoAttack", "autoattack")
SQUARE = BaseAttack("Square", "square")
TRANSFER = BaseAttack("PGD transfer", "pgd", mode="black-box")  # with a substitute
BASE_ATTACKS = (FGSM, PGD, STRONG_PGD, AUTOATTACK, SQUARE, TRANSFER)


# -- checks: each a small function, as AutoAttack's checks.py --------------------


@dataclass(frozen=True)
class MaskingCheck:
    """One check of an honest evaluation (Carlini et al. 2019; Athalye et al.
    2018; Croce & Hein 2020; Zimmermann et al. 2022).

    ``run(evidence)`` returns (passed, what it found), or
    :class:`NotApplicable` (why) where it cannot run (None: it does not say
    why); ``remedies`` name the adaptive attacks (:data:`REMEDIES`) run when
    it fails, whose results join the worst case.
    """

    name: str
    expectation: str
    run: Any
    remedies: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotApplicable:
    """A check's answer where it cannot run: why (the report lists it)."""

    why: str


SHATTERED = ("noise-averaged", "surrogate", "more-queries")


def _broken_by(attack: BaseAttack, what: str):
    """The check that PGD breaks what ``attack`` breaks, per example."""

    def check(ev):
        if attack not in ev.base:
            if MODES[attack.mode].uses_substitute:
                return NotApplicable(
                    "no substitute: pass substitute=(X_train, y_train) or a "
                    "fitted model"
                )
            return NotApplicable(f"{attack.label} did not run")
        other = ev.base[attack]
        share = ev.share(other.worst, ev.white)
        return share <= ev.tolerance, (
            f"{share:.1%} of the examples {what} breaks ({other.accuracy:.1%} left) "
            f"survive PGD ({ev.white.mean():.1%})"
        )

    return check


def _more_iterations(ev):
    return ev.helped(STRONG_PGD, PGD, "more iterations and restarts")


def _losses(ev):
    pgd = ev.base[PGD]
    if len(pgd.robust) != 2:
        return NotApplicable(f"PGD ran with one loss only ({', '.join(pgd.robust)})")
    (first, a), (second, b) = pgd.robust.items()
    comparison = compare_paired(a, b)
    differ = abs(comparison.difference) > ev.tolerance and comparison.pvalue < 0.05
    return not differ, (
        f"PGD with {_spoken(first)} {comparison.accuracy_a:.1%}, with "
        f"{_spoken(second)} {comparison.accuracy_b:.1%} (exact "
        f"McNemar p = {comparison.pvalue:.2g})"
        + ("" if not differ else ": one loss is masked")
    )


def _spoken(loss: str) -> str:
    """A loss as a sentence names it (the LOSSES registry's word)."""
    return LOSSES[loss].spoken if loss in LOSSES else loss


def _growing(ev):
    from ._stats import accuracy_interval

    budgets = list(ev.report.growing.items())
    n = len(ev.X)
    rises = [
        (e0, a0, e1, a1) for (e0, a0), (e1, a1) in zip(budgets, budgets[1:])
        if a1 > a0 + ev.tolerance
    ]  # fmt: skip
    last_eps, last = budgets[-1]
    low, _ = accuracy_interval(round(last * n), n)
    stuck = low > ev.tolerance  # clearly above zero at the largest budget
    found = ", ".join(f"{e:g}: {a:.1%}" for e, a in budgets)
    return not (rises or stuck), (
        found
        + (f"; still {last:.1%} at eps {last_eps:g}" if stuck else "")
        + ("; accuracy rises with eps" if rises else "")
    )


# AutoAttack's randomness flag (its checks.check_randomized): on a model the
# report attacks through EOT, it repeats the randomness check's finding, which
# EOT in every attack answers (as AutoAttack's version="rand" does); BPDA and
# the log-outputs would not.
RANDOMIZED_DEFENSE = "it seems to be a randomized defense"


def _autoattack_flags(ev):
    flags = list(dict.fromkeys(ev.base[AUTOATTACK].flags + ev.base[SQUARE].flags))
    flags = [f for f in flags if not f.startswith("randomised model")]
    if ev.base[AUTOATTACK].details.get("eot_samples"):
        flags = [f for f in flags if not f.startswith(RANDOMIZED_DEFENSE)]
    return not flags, "; ".join(flags) or "no flag raised"


def _gradients(ev):
    for loss in ev.base[PGD].robust:  # the losses the attacks differentiate
        ev.report.gradients[loss] = input_gradient_stats(
            ev.target, ev.X, ev.y, loss=loss, clip_values=ev.clip_values,
            view=ev.common["view"],
        )  # fmt: skip
    usable = all(z <= 0.05 and not nan for z, nan in ev.report.gradients.values())
    return usable, "; ".join(
        f"{loss}: {z:.1%} all-zero, NaN: {nan}"
        for loss, (z, nan) in ev.report.gradients.items()
    )


def _probabilities(ev):
    from ..attacked._function import attacked_function

    module = attacked_function(ev.target, view=ev.common["view"])
    with torch.no_grad():
        x = torch.as_tensor(ev.target.as_input(ev.X[:64]))
        out = module(x.to(next(module.parameters(), x).device)).cpu()
    bounded = bool(((out >= 0) & (out <= 1)).all())
    sums = out.sum(1)
    summed = bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-3))
    if not bounded:
        return True, "outputs are not bounded in [0, 1] (logits or scores)"
    kind = "probabilities summing to 1" if summed else "bounded in [0, 1]"
    return False, f"the outputs are {kind}: saturated, cross-entropy sees no gradient"


def _randomness(ev):
    if not is_stochastic(ev.target):
        return True, "two passes on the same inputs agree"
    return False, "outputs differ between two passes on the same inputs"


def _binarization(ev):
    from ._binarization import binarization_test

    if not ev.binarization_samples:
        return NotApplicable("binarization_samples=0")
    result = binarization_test(
        ev.target, ev.X, ev.y, eps=ev.eps, n_samples=ev.binarization_samples,
        clip_values=ev.clip_values, view=ev.common["view"],
        random_state=int(ev.common["random_state"] or 0),
        **ev.overrides.get("pgd", {}),
    )  # fmt: skip
    if not result.valid:
        return NotApplicable(
            f"none of the {result.tested} images gave an adversarial that exists by "
            "construction (its readout did not separate it"
            + (", over the model's passes)" if result.over_passes else ")")
        )
    passed = result.success_rate >= 0.9
    return passed, (
        f"PGD found the guaranteed adversarial of {result.found} of {result.valid} "
        f"binarized classifiers ({result.tested} images tried)"
        + ("" if passed else ": the attack is too weak for this model")
    )


CHECKS: dict[str, MaskingCheck] = {
    c.name: c
    for c in (
        MaskingCheck("single-step vs iterative", "PGD breaks what FGSM breaks",
                     _broken_by(FGSM, "FGSM"), SHATTERED),
        MaskingCheck("more iterations and restarts", "PGD-200x5 finds no more than "
                     "PGD-40", _more_iterations, SHATTERED),
        MaskingCheck("cross-entropy vs margin loss", "the two losses agree", _losses,
                     ("log-outputs",)),
        MaskingCheck("gradient-free vs gradient attacks", "PGD breaks what Square "
                     "breaks", _broken_by(SQUARE, "Square"), ("bpda", *SHATTERED)),
        MaskingCheck("transfer vs white-box", "PGD breaks what transfer breaks",
                     _broken_by(TRANSFER, "the substitute's transfer"),
                     SHATTERED),
        MaskingCheck("growing eps", "accuracy falls to 0 as eps grows", _growing,
                     ("bpda", *SHATTERED)),
        MaskingCheck("AutoAttack's own checks", "AutoAttack raises no flag",
                     _autoattack_flags, ("bpda", "log-outputs")),
        MaskingCheck("input gradients", "no NaN, (almost) no all-zero gradient",
                     _gradients, ("bpda",)),
        MaskingCheck("probability outputs", "the attacked outputs are logits",
                     _probabilities, ("log-outputs",)),
        MaskingCheck("randomness", "a deterministic model", _randomness, ("eot",)),
        MaskingCheck("binarization test", "the attack finds adversarials that exist "
                     "by construction", _binarization,
                     ("bpda", "log-outputs", *SHATTERED)),
    )
}  # fmt: skip


# -- remedies: the adaptive attack each failure calls for ---------------------------


@dataclass(frozen=True)
class Remedy:
    """An adaptive attack: ``run(evidence)`` runs it and returns what it found."""

    name: str
    summary: str
    run: Any


def _bpda(ev):
    ev.run("PGD (BPDA)", "pgd", view="bpda", num_random_init=5)
    ev.run("AutoAttack (BPDA)", "autoattack", view="bpda")
    return ["PGD (BPDA)", "AutoAttack (BPDA)"]


def _log_outputs(ev):
    ev.run("PGD margin (log-outputs)", "pgd", view="log-outputs", loss="margin",
           num_random_init=5)  # fmt: skip
    ev.run("AutoAttack (log-outputs)", "autoattack", view="log-outputs")
    return ["PGD margin (log-outputs)", "AutoAttack (log-outputs)"]


def _noise_averaged(ev):
    ev.run("PGD (noise-averaged)", "pgd", view="noise-averaged", num_random_init=5)
    return ["PGD (noise-averaged)"]


def _surrogate(ev):
    ev.run("PGD transfer (distilled)", "pgd", mode="black-box",
           substitute=distilled_surrogate(ev))  # fmt: skip
    return ["PGD transfer (distilled)"]


def _more_queries(ev):
    square = ev.base[SQUARE].params.get("n_queries", 5000)
    ev.run("Square (4x queries)", "square", n_queries=4 * int(square))
    return ["Square (4x queries)"]


def _eot(ev):
    return []  # every attack above already ran on the expectation (see flags)


REMEDIES: dict[str, Remedy] = {
    r.name: r
    for r in (
        Remedy("bpda", "PGD and AutoAttack with straight-through gradients", _bpda),
        Remedy("log-outputs", "PGD (margin) and AutoAttack on the log-outputs in "
               "float64", _log_outputs),
        Remedy("noise-averaged", "PGD on gradients averaged over input noise",
               _noise_averaged),
        Remedy("surrogate", "PGD transferred from a surrogate distilled from the "
               "model's own predictions", _surrogate),
        Remedy("more-queries", "Square with four times the queries", _more_queries),
        Remedy("eot", "EOT over 20 passes and the majority of 20 passes, in every "
               "attack", _eot),
    )
}  # fmt: skip


def distilled_surrogate(ev):
    """A network trained on the model's own predictions around the attacked
    images (the images and 9 copies of each with uniform noise within eps):
    differentiable where the model is not, for a transfer attack."""
    from ..estimators import CNNClassifier

    rng = np.random.RandomState(0)
    X = ev.target.as_input(ev.X)
    noisy = [X] + [
        np.clip(X + rng.uniform(-ev.eps, ev.eps, X.shape), *ev.clip_values)
        for _ in range(9)
    ]
    Xs = np.concatenate(noisy).astype(np.float32)
    votes = 20 if is_stochastic(ev.target) else 1
    ys = ev.target.predict(Xs.reshape(len(Xs), -1), votes=votes)
    surrogate = CNNClassifier(
        max_epochs=30, input_shape=tuple(ev.target.input_shape), random_state=0,
        device="cpu", classes=ev.target.classes_,
    )  # fmt: skip
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of a few labels
        return surrogate.fit(Xs, ys)


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
    adaptive: bool = True,
    binarization_samples: int = 10,
    verbose: int = 0,
) -> RobustnessReport:
    """Run the attacks an honest L-inf evaluation at ``eps`` needs, check them,
    and answer every failed check with the adaptive attack it calls for.

    Attacks, each with cross-entropy and margin losses where it has a choice:
    FGSM, PGD-40, PGD with 5x the iterations and 5 restarts, AutoAttack
    standard (reference code, with its own checks), Square, PGD transferred
    from ``substitute`` (if given), and PGD at growing budgets up to
    ``large_eps``. A randomised model is attacked through EOT and every
    example judged by the majority of 20 passes, in every attack.

    Checks (:data:`CHECKS`; each says what it found, ok or FLAG, or n/a and
    why where it cannot run, listed in ``not_run``): single-step
    vs iterative, more iterations and restarts, cross-entropy vs margin,
    gradient-free vs gradient attacks, transfer vs white-box, growing eps,
    AutoAttack's own flags, input gradients, probability outputs,
    randomness, and the binarization test of PGD (Zimmermann et al. 2022).
    Comparisons of two accuracies flag only a gap over ``tolerance`` that
    the exact paired test also finds (p < 0.05), so their slack scales with
    the number of images.

    When a check fails, its remedies (:data:`REMEDIES`) run, each once:
    BPDA (straight-through gradients) for non-differentiable operations,
    the log-outputs in float64 with the margin loss for saturated or
    probability outputs, gradients averaged over input noise, transfer from
    a surrogate distilled from the model's predictions and Square with four
    times the queries for shattered gradients. Their results join
    ``results``, so :attr:`RobustnessReport.worst_case` is the strongest
    verdict; an unflagged model's report costs what the base attacks cost.

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
        The smallest effect a check flags.
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
    adaptive : bool, default=True
        Run the remedies of failed checks (False: flag only).
    binarization_samples : int, default=10
        Images of the binarization test (0 skips it).
    verbose : int, default=0
        Progress bars of the attack libraries.

    Returns
    -------
    report : RobustnessReport
        The results and the checks; ``str(report)`` is a readable summary,
        the number to quote (with its interval) first.
    """
    eps = check_eps(eps)
    large_eps = check_eps(large_eps, "large_eps")
    target = resolve_target(estimator)
    X_checked, y_checked, _ = check_Xy(target, X, y, check_clip_values(clip_values))
    report = RobustnessReport(eps=eps)
    ev = Evidence(
        target, X_checked, y_checked, eps, tolerance, clip_values,
        SubstituteCache().resolve(substitute),  # (X, y): fitted once here
        attack_params or {},
        dict(clip_values=clip_values, view=view, random_state=random_state,
             verbose=verbose),
        report, binarization_samples,
    )  # fmt: skip
    for attack in BASE_ATTACKS:
        if ev.substitute is not None or not MODES[attack.mode].uses_substitute:
            attack.run(ev)
    report.growing[eps] = ev.base[PGD].accuracy
    for budget in sorted({*np.linspace(eps, large_eps, 4).round(4), large_eps}):
        if budget > eps:
            report.growing[float(budget)] = ev.run(
                "", "pgd", budget=float(budget)
            ).accuracy
    failed = []
    for check in CHECKS.values():
        outcome = check.run(ev)
        if outcome is None:  # a check written before NotApplicable says no why
            outcome = NotApplicable("it does not apply here")
        if isinstance(outcome, NotApplicable):
            report.not_run[check.name] = outcome.why
            continue
        passed, found = outcome
        report.checks.append(Check(check.name, bool(passed), found))
        if not passed:
            failed.append((report.checks[-1], check.remedies))
    if adaptive:
        ran: dict[str, list[str]] = {}
        for found, remedies in failed:
            for name in remedies:
                if name not in ran:
                    ran[name] = REMEDIES[name].run(ev)
                    report.adaptive += ran[name]
            found.action = _action(report, remedies, ran)
    return report


def _action(report, remedies, ran) -> str:
    """What was done about a failed check, with what each attack found."""
    parts = []
    for name in remedies:
        labels = ran.get(name, [])
        if not labels:
            parts.append(REMEDIES[name].summary)
            continue
        found = ", ".join(
            f"{label} {format_accuracy(report.results[label].worst)}"
            for label in labels
        )
        parts.append(f"{REMEDIES[name].name}: {found}")
    return "; ".join(parts)
