"""The attack libraries, one backend object each: how an attack of theirs runs.

A registry entry (:class:`~sk_guessfirst.adversarial.AttackSpec`) names its
backend object, and everything library-specific is a method of that object:
which parameters the attack takes (:meth:`parameter_names`) and how it runs
(:meth:`run`, one loss at one budget). Nothing else in the package asks which
library an attack comes from.

This module imports no attack library and no torch (the command line builds
its choices from the registry without them); each method imports the module
that does the work when it is first called.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# What every backend's run() returns is an Outcome.


@dataclass
class Outcome:
    """One attack with one loss.

    Fixed-budget attacks give ``X_adv``. A white-box minimal-perturbation
    attack gives instead the per-example size of the smallest adversarial
    perturbation it found (``minimal``: 0 where the model is already wrong,
    inf where none) and the examples found (``found``).
    """

    X_adv: np.ndarray | None = None
    minimal: np.ndarray | None = None
    found: np.ndarray | None = None
    flags: list = field(default_factory=list)
    details: dict = field(default_factory=dict)


def _signature_names(cls) -> set:
    return set(inspect.signature(cls.__init__).parameters) - {"self"}


@dataclass(frozen=True)
class ART:
    """IBM's Adversarial Robustness Toolbox: fixed-budget gradient attacks,
    run with the loss named (cross-entropy or margin on the K outputs)."""

    attack_class: Callable[[], type]  # lazy: ART imports in seconds
    name: str = "ART"

    def parameter_names(self, spec) -> set:
        # eps and norm are the spec's; batch_size is evaluate_attack's
        own = {"estimator", "classifier", "eps", "norm", "batch_size"}
        return _signature_names(self.attack_class()) - own

    def run(self, spec, target, source, X, y, y_enc, eps, loss, params, opts):
        from ._art import craft_art

        X_adv = craft_art(
            self.attack_class(), spec.norm, source, X, y_enc, eps, loss, params, opts
        )
        return Outcome(X_adv)


@dataclass(frozen=True)
class AutoAttack:
    """Croce and Hein's reference AutoAttack (``pyautoattack``): the standard
    ensemble (``parts=None``) or one of its attacks, named as the reference
    code names it (``component``) and set on its attribute(s) ``parts``."""

    component: str | None = None
    parts: tuple = ("apgd", "apgd_targeted", "fab", "square")
    settings: tuple = ()  # (attribute, value) pairs fixed on the parts
    name: str = "AutoAttack"

    # the attributes of the reference attacks that are parameters here
    PARAMETERS = frozenset(
        {"n_iter", "n_restarts", "n_target_classes", "n_queries", "seed"}
    )

    def parameter_names(self, spec) -> set:
        return set(spec.defaults(1.0)) | set(self.PARAMETERS)

    def run(self, spec, target, source, X, y, y_enc, eps, loss, params, opts):
        from ._autoattack import craft_autoattack

        quiet = {k: v for k, v in opts.items() if k != "verbose"}
        run = craft_autoattack(self, spec.norm, source, X, y_enc, eps, params, **quiet)
        return Outcome(
            run.X_adv, flags=run.flags, details={"accuracy_after": run.accuracy_after}
        )


@dataclass(frozen=True)
class Foolbox:
    """Foolbox 3's minimal-perturbation attacks. White-box, the attack's own
    minimisation gives each example's size; black-box (or for an attack with
    a direction but no size, ``sized=False``: FGSM) budgets are searched
    along the perturbation direction on a grid of ``grid`` values up to
    ``max_eps``, each point checked on the target."""

    attack_class: Callable[[], type]
    sized: bool = True
    name: str = "Foolbox"

    LINE_SEARCH = frozenset({"grid", "max_eps"})

    def parameter_names(self, spec) -> set:
        return _signature_names(self.attack_class()) | set(self.LINE_SEARCH)

    def _craft(self, spec, source, X, y_enc, params, opts):
        from ._foolbox import craft

        quiet = {k: v for k, v in opts.items() if k != "verbose"}
        return craft(self, spec.norm, source, X, y_enc, params=params, **quiet)

    def minimal(self, spec, source, target, X, y, y_enc, params, opts):
        """(minimal sizes, examples found) against ``target``, crafted on ``source``."""
        from ._foolbox import minimal_perturbations

        crafted = self._craft(spec, source, X, y_enc, params, opts)
        return minimal_perturbations(
            self, spec.norm, crafted, source is target, target, X, y, opts
        )

    def run(self, spec, target, source, X, y, y_enc, eps, loss, params, opts):
        from ._foolbox import transferred

        if source is not target:
            crafted = self._craft(spec, source, X, y_enc, params, opts)
            return Outcome(transferred(self, spec.norm, crafted, X, eps, opts))
        minimal, found = self.minimal(spec, source, target, X, y, y_enc, params, opts)
        return Outcome(minimal=minimal, found=found)


def _lazy(module: str, name: str) -> Callable[[], Any]:
    """A zero-argument function returning ``module.name``, imported on call."""

    def load():
        import importlib

        return getattr(importlib.import_module(module), name)

    load.__qualname__ = f"{module}.{name}"
    return load
