"""Bridge from fitted sk_guessfirst estimators to ART classifiers."""

from __future__ import annotations

import copy

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._base import GuessFirstNet, resolve_device


class _Scores(nn.Module):
    """Hands ART the raw scores: K hypothesis scores end to end, or logits."""

    def __init__(self, module: nn.Module, eot_samples: int = 0):
        super().__init__()
        self.module = module
        self.eot_samples = eot_samples

    def forward(self, x):
        if self.eot_samples:
            # Expectation over transformation for the stochastic VIB: the
            # log of the mean class probability over reparametrised draws.
            return self.module(x, n_samples=self.eot_samples)
        return self.module(x)


def check_fitted_net(estimator):
    if not isinstance(estimator, GuessFirstNet):
        raise TypeError(
            "expected a fitted sk_guessfirst estimator "
            "(HypothesisConditionedClassifier, CNNClassifier, VIBClassifier, "
            "LeNet5Classifier), got "
            f"{type(estimator).__name__}"
        )
    check_is_fitted(estimator)


def to_art(estimator, *, clip_values=(0.0, 1.0), eot_samples=0):
    """Wrap a fitted estimator as an ART ``PyTorchClassifier``.

    ART sees the model's raw scores as logits: for
    :class:`~sk_guessfirst.HypothesisConditionedClassifier` all K hypothesis
    scores computed end to end from the input, so gradients flow through every
    hypothesis; for :class:`~sk_guessfirst.VIBClassifier` the mean encoder, or
    with ``eot_samples > 0`` the expectation over that many draws of z.
    Inputs have the estimator's sample shape ``input_shape_``: (n, C, H, W)
    for images (as ART's image attacks require), (n, D) for flat features.

    The network is a frozen snapshot in evaluation mode (BatchNorm uses its
    running statistics); the estimator's own module and its mode are never
    touched, so training it further does not change the ART classifier.

    Parameters
    ----------
    estimator : fitted sk_guessfirst estimator
    clip_values : tuple of float, default=(0.0, 1.0)
        Valid input range; attack budgets (eps) are in this scale.
    eot_samples : int, default=0
        VIB only: draws averaged per forward pass (expectation over transformation).

    Returns
    -------
    classifier : art.estimators.classification.PyTorchClassifier

    Examples
    --------
    >>> from sk_guessfirst.adversarial import to_art  # doctest: +SKIP
    >>> from art.attacks.evasion import ProjectedGradientDescent  # doctest: +SKIP
    >>> art_clf = to_art(fitted_clf)  # doctest: +SKIP
    >>> X_adv = ProjectedGradientDescent(art_clf, eps=0.3).generate(X)  # doctest: +SKIP
    """
    check_fitted_net(estimator)
    if eot_samples and not hasattr(estimator.module_, "encode"):
        raise ValueError("eot_samples applies to VIBClassifier only")
    lo, hi = (float(v) for v in clip_values)
    if not lo < hi:
        raise ValueError(
            f"clip_values must be (min, max) with min < max, got {clip_values}"
        )
    device = resolve_device(estimator.device) or "cpu"
    module = copy.deepcopy(estimator.module_).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    wrapper = _Scores(module, eot_samples).eval()
    return PyTorchClassifier(
        model=wrapper,
        loss=nn.CrossEntropyLoss(),
        input_shape=tuple(estimator.input_shape_),
        nb_classes=len(estimator.classes_),
        clip_values=(lo, hi),
        device_type="gpu" if torch.device(device).type == "cuda" else "cpu",
    )


def check_X_in_range(X, clip_values):
    X = np.asarray(X, dtype=np.float32)
    X = X.reshape(len(X), -1)
    lo, hi = clip_values
    if len(X) and (X.min() < lo - 1e-6 or X.max() > hi + 1e-6):
        raise ValueError(
            f"X lies in [{X.min():.3g}, {X.max():.3g}], outside clip_values "
            f"{clip_values}: "
            "attacks assume inputs in the valid range (scale images to [0, 1], or pass "
            "clip_values)"
        )
    return X


def as_model_input(estimator, X):
    """X reshaped to (n, *estimator.input_shape_), the layout ART attacks see."""
    X = np.asarray(X, dtype=np.float32)
    return X.reshape(len(X), *estimator.input_shape_)
