"""The experiment's units of work: one cell is one evaluation of one model.

A cell is a small frozen value (an attack, a budget, a mode, a view) that
knows its name (where its result is stored in the run folder), its seed (the
same cell always sees the same random starts), the attack parameters the
budget gives it, whether it needs the substitute, and how to compute its
result from an :class:`~sk_guessfirst.reproduce._experiment.Experiment`.
Its inputs and output are plain data, so a scheduler can hand it out.

The names are those of the run folders written so far, so stored cells stay
valid.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from .._plaindata import plain_type
from ..adversarial import (
    ATTACKS,
    MODES,
    AttackResult,
    attack_examples,
    evaluate_attack,
    format_accuracy,
    input_gradient_stats,
    robustness_curve,
    robustness_report,
)
from ._plan import LENGTH_ATTACK, Budget
from ._run import Trained


class Experiment(Protocol):
    """What a cell reads from the experiment it belongs to (``_experiment``)."""

    settings: Any
    budget: Budget
    X: np.ndarray  # the attacked images
    y: np.ndarray
    sizes: dict
    substitute: Trained

    def clean(self, model: Trained) -> np.ndarray: ...

    def transferred(self, attack: str, eps: float, loss: str) -> np.ndarray: ...


def cell_seed(seed: int, *parts) -> int:
    """A per-cell seed: the same cell always sees the same random starts."""
    return (zlib.crc32("|".join(map(str, (seed, *parts))).encode()) + seed) % 2**31


@plain_type
@dataclass
class Crafted:
    """Black-box examples crafted on the substitute (a stored cell)."""

    X_adv: np.ndarray
    seconds: float

    def check_plain(self) -> None:
        if not isinstance(self.X_adv, np.ndarray) or self.X_adv.dtype.kind != "f":
            raise ValueError("X_adv is not an array of floats")

    @property
    def n_examples(self) -> int:
        return len(self.X_adv)


@dataclass(frozen=True)
class Cell:
    """What every cell is: a name, a seed, its parameters, its computation."""

    counted: ClassVar[bool] = True  # a step of the progress count

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def uses_substitute(self) -> bool:
        """Its result depends on the substitute (its key records it)."""
        return False

    @property
    def seed_name(self) -> str:
        """What its seed is drawn from (its own name, unless it is paired)."""
        return self.name

    def size(self, exp: Experiment) -> int | None:
        """How many examples its result holds (a stored one of another size
        is refused); None where it is not per example."""
        return int(exp.sizes["eval"])

    def seed(self, exp: Experiment) -> int:
        return cell_seed(exp.settings.seed, self.seed_name)

    def params(self, exp: Experiment) -> dict:
        attack = getattr(self, "attack", None)
        return dict(exp.budget.attack_params.get(attack, {}))

    def compute(self, exp: Experiment, model: Trained) -> Any:
        raise NotImplementedError

    def describe(self, model: Trained) -> str:
        return f"{model.name} {self.name}"

    def summary(self, result) -> str:
        """The progress line's number: the accuracy with its interval."""
        return format_accuracy(getattr(result, "worst", result))


@dataclass(frozen=True)
class Clean(Cell):
    """Which attacked images the model classifies correctly."""

    counted: ClassVar[bool] = False

    @property
    def name(self):
        return "clean"

    def compute(self, exp, model):
        return model.estimator.predict(exp.X) == exp.y


@dataclass(frozen=True)
class TableCell(Cell):
    """One (attack, eps, mode) entry of the table. White-box: the attack on the
    model. Black-box: the substitute's examples, crafted once per (attack, eps,
    loss) and shared by every model, sent to the model."""

    attack: str
    eps: float
    mode: str

    @property
    def name(self):
        return f"{self.mode}-{self.attack}-{self.eps}"

    @property
    def uses_substitute(self):
        return MODES[self.mode].uses_substitute

    def describe(self, model):
        return f"{model.name} {self.attack} {self.mode} eps={self.eps}"

    def compute(self, exp, model):
        if not MODES[self.mode].uses_substitute:
            return evaluate_attack(
                model.estimator, exp.X, exp.y, attack=self.attack, eps=self.eps,
                random_state=self.seed(exp), **self.params(exp),
            )  # fmt: skip
        clean = exp.clean(model)
        # the substitute's training and crafts are shared by every model and
        # timed on their own (training time, craft cells): not this cell's
        crafted = {
            loss: exp.transferred(self.attack, self.eps, loss)
            for loss in ATTACKS[self.attack].losses
        }
        start = time.perf_counter()
        robust = {
            loss: clean & (model.estimator.predict(X_adv) == exp.y)
            for loss, X_adv in crafted.items()
        }
        return AttackResult(
            self.attack, self.eps, self.mode, clean, robust, params=self.params(exp),
            seconds=time.perf_counter() - start,
        )  # fmt: skip


@dataclass(frozen=True)
class Craft(Cell):
    """Black-box examples of one (attack, eps, loss), crafted on the substitute."""

    counted: ClassVar[bool] = False
    attack: str
    eps: float
    loss: str

    @property
    def name(self):
        return f"craft-{self.attack}-{self.eps}-{self.loss}"

    def compute(self, exp, model):
        substitute = model.estimator  # trained first, outside the timing
        start = time.perf_counter()
        X_adv = attack_examples(
            substitute, exp.X, exp.y, attack=self.attack, eps=self.eps,
            mode="black-box", substitute=substitute, loss=self.loss,
            random_state=self.seed(exp), **self.params(exp),
        )  # fmt: skip
        return Crafted(X_adv, time.perf_counter() - start)

    def summary(self, result):
        return f"{result.seconds:.1f} s"


@dataclass(frozen=True)
class CurveCell(Cell):
    """A minimal-perturbation curve of one attack in one mode."""

    attack: str
    mode: str

    @property
    def name(self):
        return f"curve-{self.mode}-{self.attack}"

    def size(self, exp):
        return int(exp.sizes["curve"])

    @property
    def uses_substitute(self):
        return MODES[self.mode].uses_substitute

    def describe(self, model):
        return f"{model.name} curve {self.attack} {self.mode}"

    def compute(self, exp, model):
        n = exp.sizes["curve"]
        return robustness_curve(
            model.estimator, exp.X[:n], exp.y[:n], attack=self.attack,
            mode=self.mode,
            substitute=exp.substitute.estimator if self.uses_substitute else None,
            random_state=self.seed(exp), **self.params(exp),
        )  # fmt: skip

    def summary(self, result):
        return f"median perturbation {result.median_perturbation:.3f}"


@dataclass(frozen=True)
class ReportCell(Cell):
    """The gradient-masking checklist at one budget."""

    eps: float

    @property
    def name(self):
        return f"report-{self.eps}"

    def size(self, exp):
        return int(exp.sizes["report"])

    @property
    def uses_substitute(self):
        return True

    def describe(self, model):
        return f"{model.name} robustness report eps={self.eps}"

    def compute(self, exp, model):
        n = exp.sizes["report"]
        return robustness_report(
            model.estimator, exp.X[:n], exp.y[:n], eps=self.eps,
            substitute=exp.substitute.estimator,
            attack_params=exp.budget.attack_params, random_state=self.seed(exp),
        )  # fmt: skip

    def summary(self, result):
        return f"worst case {format_accuracy(result.worst)}"


@dataclass(frozen=True)
class LengthCell(Cell):
    """The training-length study's attack on a kept snapshot, in one mode."""

    mode: str

    @property
    def attack(self):
        return LENGTH_ATTACK[0]

    @property
    def eps(self):
        return LENGTH_ATTACK[1]

    @property
    def name(self):
        return f"length-{self.mode}-{self.attack}-{self.eps}"

    @property
    def uses_substitute(self):
        return MODES[self.mode].uses_substitute

    def describe(self, model):
        return (
            f"{model.name} at epoch {model.epochs}: {self.attack} {self.mode} "
            f"eps={self.eps}"
        )

    def compute(self, exp, model):
        return evaluate_attack(
            model.estimator, exp.X, exp.y, attack=self.attack, eps=self.eps,
            mode=self.mode, substitute=exp.substitute.estimator,
            random_state=self.seed(exp), **self.params(exp),
        )  # fmt: skip


@dataclass(frozen=True)
class ViewCell(Cell):
    """A white-box table row rerun with the attacker handed another view,
    from the table cell's random starts (common random numbers: a difference
    is the view's, never the seed's)."""

    view: str
    attack: str
    eps: float

    @property
    def paired(self) -> TableCell:
        return TableCell(self.attack, self.eps, "white-box")

    @property
    def name(self):
        return f"view-{self.view}-{self.paired.name}"

    @property
    def seed_name(self):
        return self.paired.name

    def describe(self, model):
        return f"{model.name} {self.attack} eps={self.eps} against view {self.view}"

    def compute(self, exp, model):
        return evaluate_attack(
            model.estimator, exp.X, exp.y, attack=self.attack, eps=self.eps,
            view=self.view, random_state=self.seed(exp), **self.params(exp),
        )  # fmt: skip


@dataclass(frozen=True)
class GradientCell(Cell):
    """How often the input gradients of a view vanish (or are NaN)."""

    counted: ClassVar[bool] = False
    view: str

    @property
    def name(self):
        return f"view-{self.view}-gradients"

    def size(self, exp):
        return None

    def compute(self, exp, model):
        return input_gradient_stats(model.estimator, exp.X, exp.y, view=self.view)
