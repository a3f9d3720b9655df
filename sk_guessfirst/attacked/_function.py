"""The function an attacker differentiates: a frozen snapshot of a fitted estimator.

Every attack library (ART, AutoAttack, Foolbox) sees the same torch module:
inputs in the estimator's sample layout (n, C, H, W) or (n, D), in the pixel
range, mapped to the K outputs of the chosen *view* (what the attacker is
handed; the raw scores by default). A Pipeline's scalers are folded into the
module, so its transform is part of the attacked function.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from torch import Tensor, nn

from .._base import GuessFirstNet
from .._devices import forked_rng, resolve_device
from ..objectives import Objective, get_objective
from ._bpda import StraightThrough
from ._torch_classifier import TorchClassifier, evaluating


@dataclass(frozen=True)
class View:
    """What the attacker is handed: the K outputs an attack's loss is applied
    to, as a function ``apply(scores, objective)`` of the raw scores V of a
    fitted net and its :class:`~sk_guessfirst.objectives.Objective`; the
    network run in ``precision`` (None: its own), with straight-through
    gradients for non-differentiable operations when ``straight_through``
    (BPDA, :mod:`._bpda`), and, with ``smoothing`` > 0, its probabilities
    averaged over passes on inputs with Gaussian noise of that std (gradients
    of a shattered function averaged into a usable direction)."""

    name: str
    summary: str
    apply: Callable[[Tensor, Objective], Tensor]
    straight_through: bool = False
    precision: torch.dtype | None = None
    smoothing: float = 0.0  # Gaussian input noise whose passes are averaged


PROBA_FLOOR = 1e-7


def _log_of_probabilities(outputs: Tensor) -> Tensor:
    """log(outputs) where every output lies in [0, 1] (probabilities, a
    sigmoid); the outputs themselves otherwise. The log of a logit is not
    defined where it is negative: clamped there, it would hand the attack a
    constant, zero-gradient function (a randomised model's EOT outputs,
    log-probabilities, are all negative)."""
    if bool(((outputs >= 0) & (outputs <= 1)).all()):
        return torch.log(outputs.clamp_min(torch.finfo(outputs.dtype).tiny))
    return outputs


SMOOTHING_DRAWS = 8

VIEWS: dict[str, View] = {
    v.name: v
    for v in (
        View(
            "scores",
            "the raw scores V (hypothesis scores or logits): the honest default",
            lambda scores, objective: scores,
        ),
        View(
            "activated",
            "g(V), the objective's output activation (identity for dv, energy and "
            "the baselines)",
            lambda scores, objective: objective.activation(scores),
        ),
        View("sigmoid", "sigmoid(V)", lambda scores, objective: torch.sigmoid(scores)),
        View(
            "bpda",
            "the raw scores with straight-through gradients for rounding, "
            "thresholds, sign and casts (BPDA; the values are unchanged): the "
            "adaptive attack on a non-differentiable defence",
            lambda scores, objective: scores,
            straight_through=True,
        ),
        View(
            "log-outputs",
            "log of the outputs, computed in float64: the logits (up to a constant) "
            "of a model whose outputs are probabilities, where float32 saturates "
            "(the adaptive attack on a softmax output); outputs outside [0, 1] "
            "(logits, log-probabilities) are on a log scale already and are handed "
            "over as they are, in float64",
            lambda scores, objective: _log_of_probabilities(scores),
            precision=torch.float64,
        ),
        View(
            "noise-averaged",
            "log of the class probabilities averaged over 8 passes on inputs with "
            "Gaussian noise of std 0.05: the adaptive attack on shattered "
            "(high-frequency) gradients",
            lambda scores, objective: scores,
            smoothing=0.05,
        ),
        View(
            "probabilities",
            "p(k|x), the model's predict_proba: for attacks that require "
            "probabilities (ART's SimBA); a gradient attack on it may saturate, "
            "which the robustness report checks",
            lambda scores, objective: objective.proba(scores),
        ),
        View(
            "clipped-log-proba",
            "log of p(k|x) clipped to [1e-7, 1] (what a Keras-style cross-entropy on "
            "probabilities differentiates)",
            lambda scores, objective: torch.log(
                objective.proba(scores).clamp(PROBA_FLOOR, 1.0)
            ),
        ),
    )
}


def _objective(net) -> str | None:
    return getattr(net, "objective", None)  # None: a baseline's logits


class Affine(nn.Module):
    """``x * scale + offset`` on flat features: a fitted scaler, in torch."""

    def __init__(self, scale, offset):
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.register_buffer("offset", torch.as_tensor(offset, dtype=torch.float32))

    def forward(self, x):
        flat = x.reshape(len(x), -1) * self.scale + self.offset
        return flat.reshape(x.shape)


def _scaler_as_affine(step):
    """(scale, offset) of a fitted scaler, or None if it is not one we can fold."""
    if step is None or step == "passthrough":
        return 1.0, 0.0
    if isinstance(step, StandardScaler):
        scale = 1.0 / step.scale_ if step.scale_ is not None else 1.0
        mean = step.mean_ if step.mean_ is not None else 0.0
        return scale, -np.asarray(mean) * scale
    if isinstance(step, MinMaxScaler):
        if step.clip:
            return None  # clipping is not affine
        return step.scale_, step.min_
    if isinstance(step, MaxAbsScaler):
        return 1.0 / step.scale_, 0.0
    return None


@dataclass
class Target:
    """A fitted classifier (an sk_guessfirst net or a TorchClassifier), and the
    folded transform of its Pipeline."""

    estimator: object  # what the user passed: the net or the Pipeline
    net: GuessFirstNet | TorchClassifier
    transform: nn.Module | None = None

    @property
    def classes_(self):
        return self.net.classes_

    @property
    def input_shape(self):
        return tuple(self.net.input_shape_)

    def encode(self, y, name="y"):
        """Labels to indices 0..K-1, refusing labels the model does not know."""
        y = np.asarray(y)
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(
                f"{name} contains labels {unknown[:5].tolist()} that the model was not "
                f"fitted on (classes_ = {self.classes_.tolist()})"
            )
        return np.searchsorted(self.classes_, y)

    def predict(self, X, votes: int = 1):
        """Predicted labels; with ``votes > 1`` (a randomised model), the
        majority vote over that many passes, ties to the smaller class."""
        X = np.asarray(X, dtype=np.float32)
        if votes > 1:
            passes = np.stack([self.predict(X) for _ in range(votes)])
            index = np.searchsorted(self.classes_, passes)
            counts = np.apply_along_axis(
                np.bincount, 0, index, minlength=len(self.classes_)
            )
            return self.classes_[counts.argmax(0)]
        if isinstance(self.estimator, Pipeline):
            return self.estimator.predict(X)
        return self.net.predict(X)  # an estimator, or a TorchClassifier

    def as_input(self, X):
        """X reshaped to (n, *input_shape), the layout attacks see."""
        X = np.asarray(X, dtype=np.float32)
        return X.reshape(len(X), *self.input_shape)


def resolve_target(estimator, sample_shape: tuple | None = None) -> Target:
    """Check that ``estimator`` is a fitted classifier the evaluation can
    differentiate (an sk_guessfirst estimator, a fitted skorch net, a
    :class:`TorchClassifier`), or a Pipeline of foldable scalers ending in
    one; return it as a :class:`Target`. ``sample_shape`` (the attacked X's
    shape past its first axis) gives a skorch net's input layout where its
    first layer does not."""
    if isinstance(estimator, Target):
        return estimator
    if isinstance(estimator, Pipeline):
        check_is_fitted(estimator)
        *steps, (_, net) = estimator.steps
        scale: Any = 1.0
        offset: Any = 0.0
        for name, step in steps:
            affine = _scaler_as_affine(step)
            if affine is None:
                raise TypeError(
                    f"Pipeline step {name!r} ({type(step).__name__}) cannot be part of "
                    "an attacked function: only StandardScaler, MinMaxScaler "
                    "(clip=False), MaxAbsScaler and 'passthrough' are differentiable "
                    "here. Transform X before the attack, or drop the step."
                )
            s, o = affine
            scale, offset = scale * np.asarray(s), np.asarray(offset) * s + o
        target = resolve_target(net, sample_shape)
        target.estimator = estimator
        if steps:
            n = math.prod(target.input_shape)
            target.transform = Affine(
                np.broadcast_to(scale, (n,)).copy(),
                np.broadcast_to(offset, (n,)).copy(),
            )
        return target
    if isinstance(estimator, TorchClassifier):
        return Target(estimator, estimator)
    if isinstance(estimator, nn.Module):
        raise TypeError(
            f"a torch module ({type(estimator).__name__}) does not say its classes "
            "or input layout: wrap it as TorchClassifier(module, input_shape=..., "
            "classes=...) from sk_guessfirst.adversarial"
        )
    if isinstance(estimator, NeuralNet) and not isinstance(estimator, GuessFirstNet):
        if not getattr(estimator, "initialized_", False):
            raise NotFittedError(
                f"this {type(estimator).__name__} is not fitted yet: call fit first"
            )
        shape = tuple(sample_shape) if sample_shape and len(sample_shape) > 1 else None
        return Target(estimator, TorchClassifier(estimator, input_shape=shape))
    if not isinstance(estimator, GuessFirstNet):
        raise TypeError(
            "expected a fitted classifier: an sk_guessfirst estimator, a fitted "
            "skorch net, a TorchClassifier wrapping a torch module, or a Pipeline "
            f"ending in one; got {type(estimator).__name__}"
        )
    check_is_fitted(estimator)
    return Target(estimator, estimator)


class AttackedFunction(nn.Module):
    """inputs -> K outputs of ``view``: what every attack library differentiates."""

    def __init__(
        self, module, view="scores", objective=None, transform=None, eot=0,
        precision=None, eot_batched=False,
    ):  # fmt: skip
        super().__init__()
        self.module = module
        # names, looked up per call: the module pickles like any other
        self.view = check_view(view)
        self.objective = objective
        self.transform = transform
        self.eot = eot
        self.precision = precision  # the module's dtype if not float32
        # the EOT passes as one batch of copies (per_sample_randomness, checked)
        self.eot_batched = eot_batched

    def forward(self, x):
        view = VIEWS[self.view]
        # float32 in (or the module's precision): ART's HopSkipJump and
        # FeatureSqueezing hand over float64 (ART 1.20.1), which the float32
        # weights refuse
        dtype = self.precision or torch.float32
        inputs = x
        if x.is_floating_point() and x.dtype != dtype:
            x = x.to(dtype)
        if self.transform is not None:
            x = self.transform(x)
        with StraightThrough() if view.straight_through else nullcontext():
            if view.smoothing:
                draws = [
                    torch.softmax(
                        self._scores(x + view.smoothing * torch.randn_like(x)), -1
                    )
                    for _ in range(SMOOTHING_DRAWS)
                ]
                scores = torch.log(torch.stack(draws).mean(0).clamp_min(1e-30))
            else:
                scores = self._scores(x)
        out = view.apply(scores, get_objective(self.objective))
        if out.dtype != torch.float32:
            out = out.float()
        if torch.is_grad_enabled() and inputs.requires_grad and not out.requires_grad:
            # the network does not differentiate its input (a threshold, a
            # detach): an all-zero gradient, which the checks flag and BPDA
            # answers, never a crash inside an attack library
            out = out + 0.0 * inputs.reshape(len(inputs), -1).sum(1, keepdim=True)
        return out

    def _scores(self, x):
        # VIB: the mean encoder (eot=0), or the expectation over
        # transformation, the log of the mean class probability over draws;
        # any other randomised model: the same expectation over its passes
        if hasattr(self.module, "encode"):
            return self.module(x, n_samples=self.eot)
        if self.eot:
            if self.eot_batched:  # the passes as one batch of copies
                passes = self.module(_tiled(x, self.eot)).view(self.eot, len(x), -1)
            else:
                passes = torch.stack([self.module(x) for _ in range(self.eot)])
            proba = torch.softmax(passes, -1).mean(0)
            return torch.log(proba.clamp_min(1e-30))
        return self.module(x)


def check_view(view):
    if view not in VIEWS:
        raise ValueError(f"view must be one of {sorted(VIEWS)}, got {view!r}")
    return view


def attacked_function(
    estimator: Any,
    *,
    view: str = "scores",
    eot_samples: int = 0,
) -> AttackedFunction:
    """The frozen, eval-mode torch module an attacker differentiates.

    A deep copy of the fitted network (BatchNorm on its running statistics,
    no parameter requires grad), so training the estimator further never
    changes it, and attacking it never touches the estimator.

    Parameters
    ----------
    estimator : fitted classifier, or Pipeline of scalers ending in one
        The model.
    view : str, default="scores"
        What the module outputs (:data:`VIEWS`).
    eot_samples : int, default=0
        Average this many passes (VIB: draws of z), the expectation over
        transformation of a randomised model.

    Returns
    -------
    module : torch.nn.Module
        Inputs of shape ``(n, *input_shape)`` to the K outputs of ``view``.
    """
    target = resolve_target(estimator)
    check_view(view)
    module = copy.deepcopy(target.net.module_).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    transform = copy.deepcopy(target.transform)
    objective = _objective(target.net)
    batched = bool(eot_samples) and draws_per_row(target)
    precision = VIEWS[view].precision
    if precision is not None:
        wide = AttackedFunction(
            _in_precision(copy.deepcopy(module), precision), view, objective,
            None if transform is None else copy.deepcopy(transform).to(precision),
            eot_samples, precision, eot_batched=batched,
        ).eval().to(device_of(target))  # fmt: skip
        if _runs(wide, target):
            return wide
    fn = AttackedFunction(
        module, view, objective, transform, eot_samples, eot_batched=batched
    )
    return fn.eval().to(device_of(target))


def _in_precision(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    """``module`` computing in ``dtype`` (its copy's parameters and buffers);
    a program that cannot be converted (a torch.export file) stays as it is."""
    try:
        return module.to(dtype)
    except (RuntimeError, TypeError, NotImplementedError):
        return module


def _runs(fn: AttackedFunction, target: Target) -> bool:
    """Whether ``fn`` computes in its precision (a network that casts to
    float32 itself, or a fixed program, does not: it keeps its own)."""
    x = torch.zeros(2, *target.input_shape, device=device_of(target))
    try:
        with torch.no_grad():
            fn(x)
    except (RuntimeError, TypeError):
        return False
    return True


def is_stochastic(target: Target, n: int = 8) -> bool:
    """Whether the network's outputs change between two evaluation-mode
    passes on the same inputs (dropout left on, noise layers, sampling).
    The network itself is run, in evaluation mode for the two passes (its
    mode restored), not a copy: every evaluation asks this."""
    module = target.net.module_
    if hasattr(module, "encode"):  # VIB: its mean encoder is what it predicts
        return False
    x = _probe_inputs(target, n)
    with torch.no_grad(), forked_rng(0), evaluating(module):
        return not torch.equal(module(x), module(x))


def draws_per_row(target: Target, copies: int = 8) -> bool:
    """Whether the target declares ``per_sample_randomness`` (a
    :class:`TorchClassifier`), checked: ``copies`` copies of one input in one
    batch must not all get the same output (a network that draws once per
    batch, or none at all). Raises ValueError where the check fails."""
    if not getattr(target.net, "per_sample_randomness", False):
        return False
    module = target.net.module_
    x = _probe_inputs(target, 1)
    with torch.no_grad(), forked_rng(0), evaluating(module):
        out = module(_tiled(x, copies))
    if torch.equal(out, out[:1].expand_as(out)):
        raise ValueError(
            f"per_sample_randomness=True, but {copies} copies of one input in one "
            "batch all got the same output: the network draws its randomness once "
            "per batch (or not at all), so the expectation over transformation "
            "cannot run its passes as one batch. Leave per_sample_randomness=False "
            "(the passes then run one after another)."
        )
    return True


def _probe_inputs(target: Target, n: int) -> Tensor:
    """``n`` fixed random inputs of the target's layout, on its device."""
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, *target.input_shape, generator=g).to(device_of(target))


def _tiled(x: Tensor, copies: int) -> Tensor:
    """The batch ``x`` repeated ``copies`` times along its first axis."""
    return x.repeat(copies, *([1] * (x.dim() - 1)))


def device_of(target: Target) -> str:
    return resolve_device(target.net.device) or "cpu"


class MarginLoss(nn.Module):
    """Carlini-Wagner margin on the K outputs, for attacks to *maximise*:
    ``max_{j != y} o_j - o_y`` averaged over the batch.

    Takes labels as indices or one-hot rows (ART hands custom losses one-hot
    labels). Unlike cross-entropy it does not saturate when one output
    dominates, which is what makes it the adaptive loss for hypothesis scores.
    """

    def forward(self, outputs, y):
        if y.dim() == 2:
            y = y.argmax(1)
        y = y.long()
        true = outputs.gather(1, y.view(-1, 1)).squeeze(1)
        others = outputs.masked_fill(F.one_hot(y, outputs.shape[1]).bool(), -torch.inf)
        return (others.max(1).values - true).mean()


@dataclass(frozen=True)
class Loss:
    """A loss an attack maximises on the K outputs, as a torch module."""

    name: str
    summary: str
    module: Callable[[], nn.Module]
    word: str = ""  # how reports name it in a sentence (default: ``name``)

    @property
    def spoken(self) -> str:
        return self.word or self.name


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss(
            "ce",
            "cross-entropy on the K outputs (softmax over hypotheses)",
            nn.CrossEntropyLoss,
            word="cross-entropy",
        ),
        Loss(
            "margin",
            "Carlini-Wagner margin max_{j != y} o_j - o_y on the K outputs",
            MarginLoss,
        ),
    )
}


def check_loss_name(loss: str) -> Loss:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    return LOSSES[loss]


def norms(delta, norm):
    """Per-example size of ``delta`` in ``norm`` (np.inf or 2), all features."""
    flat = delta.reshape(len(delta), -1)
    return np.abs(flat).max(1) if np.isinf(norm) else np.linalg.norm(flat, axis=1)


def check_X_in_range(X, clip_values, name="X"):
    X = np.asarray(X, dtype=np.float32)
    X = X.reshape(len(X), -1)
    lo, hi = clip_values
    if len(X) and (X.min() < lo - 1e-6 or X.max() > hi + 1e-6):
        raise ValueError(
            f"{name} lies in [{X.min():.3g}, {X.max():.3g}], outside clip_values "
            f"{tuple(clip_values)}: attacks assume inputs in the valid range (scale "
            "images to [0, 1], or pass clip_values)"
        )
    return X


def check_clip_values(clip_values):
    lo, hi = (float(v) for v in clip_values)
    if not lo < hi:
        raise ValueError(
            f"clip_values must be (min, max) with min < max, got {clip_values}"
        )
    return lo, hi


def check_Xy(target, X, y, clip_values):
    """Validated flat X in range and encoded y, with errors that name the argument."""
    X = check_X_in_range(X, clip_values)
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(
            f"y must be 1-D with one label per row of X: X has {len(X)} rows, "
            f"y has shape {y.shape}"
        )
    n_features = math.prod(target.input_shape)
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features per sample, but the model was fitted on "
            f"{n_features} (input_shape {target.input_shape})"
        )
    return X, y, target.encode(y)
