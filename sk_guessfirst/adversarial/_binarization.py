"""The binarization test of an attack (Zimmermann et al. 2022, "Increasing
confidence in adversarial robustness evaluations").

A check of the *attack*, not of the model: for each tested image x, a binary
classifier is built from the model's own outputs with a linear readout
trained so that x and points sampled inside a smaller ball around it are
class 0 and one point on the surface of the eps ball is class 1. That point
is an adversarial example within the budget, so it exists by construction:
an attack strong enough for this model finds one. An attack that misses many
(their test failed 11 of 13 published evaluations) cannot be trusted to
measure the model's robustness, whatever number it gives.

The readout sees the model's outputs in the chosen view, so whatever masks
the model's gradients masks the binary classifier's too. A randomised model's
outputs are read as every attack reads them, the expectation over its passes
(EOT), and an image counts only where the majority of passes puts x in class 0
and the point on the surface in class 1: the adversarial then exists for the
model the attacks judge, not for one draw of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.linear_model import LogisticRegression
from torch import nn

from .._devices import forked_rng
from ..attacked._function import (
    attacked_function,
    check_Xy,
    is_stochastic,
    resolve_target,
)
from ..attacked._torch_classifier import TorchClassifier


@dataclass(frozen=True)
class BinarizationResult:
    """What the test found.

    Attributes
    ----------
    tested : int
        Images tried.
    valid : int
        Images whose readout separated the point on the surface from x and
        the inner points (the test needs a guaranteed adversarial).
    found : int
        Valid images where the attack found an adversarial within eps.
    over_passes : bool
        Whether the model is randomised: its outputs read as the expectation
        over passes, and an image valid only where the majority of passes
        keeps the readout's separation.
    """

    tested: int
    valid: int
    found: int
    over_passes: bool = False

    @property
    def success_rate(self) -> float:
        return self.found / self.valid if self.valid else float("nan")


class _Binarized(nn.Module):
    """The model's outputs, then a linear readout: logits (0, w.f + b)."""

    def __init__(self, features: nn.Module, weight: np.ndarray, bias: float):
        super().__init__()
        self.features = features
        self.readout = nn.Linear(len(weight), 1)
        with torch.no_grad():
            self.readout.weight.copy_(
                torch.as_tensor(weight[None], dtype=torch.float32)
            )
            self.readout.bias.fill_(float(bias))
        for p in self.readout.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        f = self.features(x).float()
        one = self.readout(f)
        return torch.cat([torch.zeros_like(one), one], dim=1)


def _ball(x, eps, radius, n, rng, clip_values):
    """``n`` points uniform in the L-inf ball of ``radius * eps`` around x."""
    noise = rng.uniform(-radius * eps, radius * eps, size=(n, *x.shape))
    return np.clip(x[None] + noise, *clip_values).astype(np.float32)


def binarization_test(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    eps: float,
    attack: str = "pgd",
    n_samples: int = 20,
    n_inner: int = 199,
    clip_values: tuple[float, float] = (0.0, 1.0),
    view: str = "scores",
    random_state: int = 0,
    **attack_params: Any,
) -> BinarizationResult:
    """Run the binarization test of ``attack`` at L-inf ``eps`` on ``estimator``.

    Parameters
    ----------
    estimator : fitted classifier, or Pipeline of scalers ending in one
        The model whose outputs the readouts are built on.
    X, y : array-like
        Images to test (the first ``n_samples``); y is only checked.
    eps : float
        The L-inf budget.
    attack : str, default="pgd"
        The attack tested (a name of :data:`~sk_guessfirst.adversarial.ATTACKS`),
        run with its losses; an adversarial found by any counts.
    n_samples : int, default=20
        Images tested.
    n_inner : int, default=199
        Points sampled in the ball of radius eps/2 labelled like x.
    clip_values, view, random_state
        As in :func:`~sk_guessfirst.adversarial.evaluate_attack`.
    **attack_params
        Overrides of the attack's parameters.

    Returns
    -------
    result : BinarizationResult
    """
    from ._evaluate import EOT_SAMPLES, VOTES, evaluate_attack

    target = resolve_target(estimator)
    checked, _, _ = check_Xy(target, X, y, clip_values)
    images: np.ndarray = target.as_input(checked)[:n_samples]
    randomised = is_stochastic(target)
    # a randomised model: its outputs' expectation over passes, as attacked
    eot = EOT_SAMPLES if randomised else 0
    features = attacked_function(target, view=view, eot_samples=eot)
    rng = np.random.RandomState(random_state)
    device = next(features.parameters(), torch.zeros(0)).device
    valid = found = 0
    # a randomised model's passes drawn in a fork of torch's RNG seeded from
    # random_state: the same verdict every time, the user's generator untouched
    with forked_rng(int(random_state)):
        for i, x in enumerate(images):
            inner = np.concatenate(
                [x[None], _ball(x, eps, 0.5, n_inner, rng, clip_values)]
            )
            sign = rng.choice([-1.0, 1.0], size=x.shape)
            surface = np.clip(x + eps * sign, *clip_values).astype(np.float32)[None]
            points = np.concatenate([inner, surface])
            with torch.no_grad():
                out = features(torch.as_tensor(points, device=device))
            f = out.float().cpu().numpy()
            labels = np.r_[np.zeros(len(inner), int), 1]
            readout = LogisticRegression(C=1e4, class_weight="balanced", max_iter=2000)
            readout.fit(f, labels)
            if not (readout.predict(f) == labels).all():
                continue  # no guaranteed adversarial for this image
            binary = TorchClassifier(
                _Binarized(features, readout.coef_[0], readout.intercept_[0]),
                input_shape=target.input_shape, classes=np.array([0, 1]),
            )  # fmt: skip
            if randomised and not _holds_over_passes(binary, x, surface[0], VOTES):
                continue  # one draw's separation, not the model's
            valid += 1
            result = evaluate_attack(
                binary, x[None], np.array([0]), attack=attack, eps=eps,
                clip_values=clip_values, random_state=random_state + i,
                eot_samples=1 if randomised else 0,  # features already the expectation
                **attack_params,
            )  # fmt: skip
            found += int(not result.worst[0])
    return BinarizationResult(len(images), valid, found, randomised)


def _holds_over_passes(binary: TorchClassifier, x, surface, votes: int) -> bool:
    """Whether the majority of ``votes`` passes of a randomised ``binary``
    classifier puts x in class 0 and the surface point in class 1."""
    flat = np.stack([x, surface]).reshape(2, -1)
    predicted = resolve_target(binary).predict(flat, votes=votes)
    return bool((predicted == [0, 1]).all())


__all__ = ["BinarizationResult", "binarization_test"]
