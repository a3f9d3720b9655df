"""The attack registry: every attack described once, read everywhere else.

Each :class:`AttackSpec` states an attack's norm, the library that runs it,
the losses it runs with, the modes it supports, whether it finds minimal
perturbations, and its defaults at a budget ``eps`` (in the scale of
``clip_values``, e.g. 0.3 of a [0, 1] pixel range). The metrics, curves,
report, ``reproduce`` and the command line all read :data:`ATTACKS`.

Libraries: ART for fixed-budget FGSM and PGD (with cross-entropy and margin
losses on the K hypothesis scores), Croce and Hein's reference AutoAttack
(``pyautoattack``) for APGD, FAB, Square and the standard ensemble, and
Foolbox 3 for the minimal-perturbation attacks the paper used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._backends import ART, AutoAttack, Foolbox, _lazy


@dataclass(frozen=True)
class Mode:
    """How an attack is run: on the attacked model's own gradients, or
    crafted on a substitute and transferred (``uses_substitute``)."""

    name: str
    uses_substitute: bool
    word: str  # the tables' short word
    summary: str


MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode("white-box", False, "white", "crafted on the model itself"),
        Mode(
            "black-box",
            True,
            "black",
            "crafted on a substitute, transferred to the model",
        ),  # fmt: skip
    )
}
LINF, L2 = float(np.inf), 2.0
NORM_NAMES = {LINF: "L-inf", L2: "L2"}


@dataclass(frozen=True)
class AttackSpec:
    """What one attack is, in one place.

    Attributes
    ----------
    name : str
        Registry key and command-line choice.
    label : str
        Row label in tables.
    norm : float
        The norm its budget is measured in: ``np.inf`` or 2.
    backend : ART, AutoAttack or Foolbox (``_backends``)
        The library that runs it, as an object that owns how: its
        parameter names and its run.
    losses : tuple of str
        The losses it runs with, one run each. ART's gradient attacks run with
        ``"ce"`` and ``"margin"`` (their per-example worst case is the default
        result); the others have one loss of their own, named for the record
        ("ensemble" for AutoAttack, whose parts use CE, targeted DLR, FAB's
        linearisation and Square's margin).
    minimal : bool
        True for attacks that search each example's smallest adversarial
        perturbation (robust at eps means: no adversarial found within eps).
    defaults : callable
        ``eps -> dict`` of the attack's parameters, strong by default.
    summary : str
        One line for the documentation.
    modes : tuple of str
        "white-box" (the model's own gradients) and/or "black-box"
        (crafted on a substitute, then transferred).
    """

    name: str
    label: str
    norm: float
    backend: Any
    losses: tuple
    minimal: bool
    defaults: Callable[[float], dict]
    summary: str
    modes: tuple = tuple(MODES)
    step_rule: Callable[[float, dict], dict] | None = None

    @property
    def norm_name(self):
        return NORM_NAMES[self.norm]

    def parameters(self, eps, overrides=None):
        """The defaults at ``eps`` updated with ``overrides`` (checked by name)."""
        params = dict(self.defaults(eps))
        unknown = set(overrides or {}) - set(self.parameter_names())
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {sorted(unknown)} for attack {self.name!r}; "
                f"it takes {sorted(self.parameter_names())}"
            )
        params.update(overrides or {})
        if self.step_rule is not None and "eps_step" not in (overrides or {}):
            params.update(self.step_rule(eps, params))
        return params

    def parameter_names(self):
        return self.backend.parameter_names(self)


def _pgd(eps):
    return dict(max_iter=40, num_random_init=1)


def _pgd_step(eps, params):
    """Madry et al.'s rule: steps of 2.5 eps / max_iter, so that the path can
    cross the ball from any random start, for any number of iterations."""
    return {"eps_step": 2.5 * float(eps) / params["max_iter"]}


# Minimal-perturbation attacks search budgets up to max_eps on a grid of
# `grid` values where they need a line search: FGSM always, the others when
# their perturbation is transferred from a substitute (black-box).
def _line_search(max_eps):
    return dict(grid=101, max_eps=max_eps)


_ART_FGSM = ART(_lazy("art.attacks.evasion", "FastGradientMethod"))
_ART_PGD = ART(_lazy("art.attacks.evasion", "ProjectedGradientDescent"))


def _foolbox(name, **kwargs):
    return Foolbox(_lazy("foolbox.attacks", name), **kwargs)


_SPECS = [
    AttackSpec(
        "fgsm",
        "FGSM",
        LINF,
        _ART_FGSM,
        ("ce", "margin"),
        False,
        lambda eps: dict(eps_step=eps),
        "one signed-gradient step of size eps (Goodfellow et al.)",
    ),
    AttackSpec(
        "pgd",
        "PGD",
        LINF,
        _ART_PGD,
        ("ce", "margin"),
        False,
        _pgd,
        "40 steps of 2.5 eps / 40 from one random start (Madry et al.)",
        step_rule=_pgd_step,
    ),
    AttackSpec(
        "pgd-l2",
        "PGD-L2",
        L2,
        _ART_PGD,
        ("ce", "margin"),
        False,
        _pgd,
        "PGD in L2: 40 steps of 2.5 eps / 40 from one random start",
        step_rule=_pgd_step,
    ),
    AttackSpec(
        "cw",
        "C&W",
        L2,
        _foolbox("L2CarliniWagnerAttack"),
        ("cw",),
        True,
        lambda eps: dict(
            steps=100,
            binary_search_steps=9,
            stepsize=0.01,
            initial_const=0.01,
            **_line_search(10.0),
        ),
        "Carlini-Wagner L2, Foolbox's minimal-perturbation implementation: "
        "9 binary-search steps x 100 iterations from a constant of 0.01",
    ),
    AttackSpec(
        "fgsm-search",
        "FGSM (line search)",
        LINF,
        _foolbox("FGSM", sized=False),
        ("ce",),
        True,
        lambda eps: _line_search(1.0),
        "FGSM direction, smallest eps on a grid of 101 values in [0, 1] that "
        "fools the model: the paper's Foolbox FGSM",
    ),
    AttackSpec(
        "fmn-linf",
        "FMN L-inf",
        LINF,
        _foolbox("LInfFMNAttack"),
        ("margin",),
        True,
        lambda eps: dict(steps=100, **_line_search(1.0)),
        "Fast Minimum Norm L-inf (Pintor et al. 2021), 100 steps",
    ),
    AttackSpec(
        "fmn-l2",
        "FMN L2",
        L2,
        _foolbox("L2FMNAttack"),
        ("margin",),
        True,
        lambda eps: dict(steps=100, **_line_search(10.0)),
        "Fast Minimum Norm L2, 100 steps",
    ),
    AttackSpec(
        "ddn",
        "DDN",
        L2,
        _foolbox("DDNAttack"),
        ("ce",),
        True,
        lambda eps: dict(steps=100, **_line_search(10.0)),
        "Decoupled Direction and Norm L2 (Rony et al. 2019), 100 steps",
    ),
    AttackSpec(
        "apgd-ce",
        "APGD-CE",
        LINF,
        AutoAttack("apgd-ce", ("apgd",)),
        ("ce",),
        False,
        lambda eps: dict(n_iter=100, n_restarts=1, seed=0),
        "Auto-PGD on cross-entropy, 100 iterations (Croce & Hein 2020, reference code)",
        modes=("white-box",),
    ),
    AttackSpec(
        "apgd-t",
        "APGD-T",
        LINF,
        AutoAttack("apgd-t", ("apgd_targeted",)),
        ("dlr-targeted",),
        False,
        lambda eps: dict(n_iter=100, n_restarts=1, n_target_classes=9, seed=0),
        "targeted Auto-PGD on the DLR loss, one run per target hypothesis "
        "(the 9 highest-scoring wrong ones), 100 iterations each",
        modes=("white-box",),
    ),
    AttackSpec(
        "fab-t",
        "FAB-T",
        LINF,
        AutoAttack("fab-t", ("fab",), (("targeted", True),)),
        ("fab",),
        False,
        lambda eps: dict(n_iter=100, n_restarts=1, n_target_classes=9, seed=0),
        "targeted FAB (Croce & Hein 2019), 9 target hypotheses",
        modes=("white-box",),
    ),
    AttackSpec(
        "square",
        "Square",
        LINF,
        AutoAttack("square", ("square",)),
        ("margin",),
        False,
        lambda eps: dict(n_queries=5000, n_restarts=1, seed=0),
        "Square attack, gradient-free, 5000 queries (Andriushchenko et al. 2020)",
        modes=("white-box",),
    ),
    AttackSpec(
        "autoattack",
        "AutoAttack",
        LINF,
        AutoAttack(),
        ("ensemble",),
        False,
        lambda eps: dict(version="standard", seed=0),
        "AutoAttack standard: APGD-CE, APGD-T (9 targets), FAB-T (9 targets), "
        "Square (5000 queries), per-example worst case (reference code)",
        modes=("white-box",),
    ),
    AttackSpec(
        "autoattack-l2",
        "AutoAttack-L2",
        L2,
        AutoAttack(),
        ("ensemble",),
        False,
        lambda eps: dict(version="standard", seed=0),
        "AutoAttack standard in L2",
        modes=("white-box",),
    ),
]
ATTACKS: dict[str, AttackSpec] = {spec.name: spec for spec in _SPECS}


def check_attack(attack) -> AttackSpec:
    """The registry entry of ``attack`` (a name), with a helpful error."""
    if isinstance(attack, AttackSpec):
        return attack
    if attack not in ATTACKS:
        raise ValueError(
            f"unknown attack {attack!r}; choose one of {sorted(ATTACKS)} or pass an "
            "ART evasion attack instance"
        )
    return ATTACKS[attack]


def check_mode(mode, spec=None) -> Mode:
    """The registry entry of ``mode`` (a name), with a helpful error."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {tuple(MODES)}, got {mode!r}")
    if spec is not None and mode not in spec.modes:
        raise ValueError(
            f"attack {spec.name!r} runs in {spec.modes} only, not {mode!r}"
        )
    return MODES[mode]


# The pseudo-loss a user names for the per-example worst case over every loss
# an attack runs with (each loss is run, an example survives if it survives all)
WORST = "worst"


def check_loss(loss, spec):
    """The losses to run: all of the attack's for :data:`WORST`, else the one named."""
    if loss == WORST:
        return spec.losses
    if loss not in spec.losses:
        raise ValueError(
            f"attack {spec.name!r} runs with loss {list(spec.losses)} (or 'worst' "
            f"for the per-example worst case over them), got {loss!r}"
        )
    return (loss,)


def attack_table_rst():
    """The registry as a reST table, for the documentation."""
    rows = [
        (
            s.name,
            s.norm_name,
            s.backend.name,
            ", ".join(s.losses),
            "minimal" if s.minimal else "fixed",
            s.summary,
        )
        for s in ATTACKS.values()
    ]
    head = ("name", "norm", "library", "losses", "kind", "what it does")
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in (head, *rows):
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return "\n".join(lines) + "\n"
