"""Certified L2 robustness by randomized smoothing (Cohen et al. 2019), from ART.

The smoothed classifier g(x) = argmax_c P(f(x + N(0, sigma^2 I)) = c) of a
fitted estimator f is certified with ART's
``PyTorchRandomizedSmoothing.certify``, Cohen et al.'s CERTIFY: ``n0`` noisy
samples choose the class, ``n`` more bound its probability from below
(Clopper-Pearson at level ``alpha``), and the radius is
``sigma * Phi^-1(p_lower)``, or abstain when ``p_lower < 1/2``. ART's base
classifier is the model's K outputs as the evaluation attacks them (for a
hypothesis model: its K hypothesis scores, end to end; their argmax is its
prediction), so any estimator the evaluation takes can be certified.

The certificate is a statement about g, not about f: with probability at
least ``1 - alpha`` over the sampling, g's prediction is constant in the L2
ball of that radius. No gradient masking can inflate it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.stats import norm

from .._plaindata import check_vector, plain_type
from ..attacked._function import (
    attacked_function,
    check_clip_values,
    check_Xy,
    device_of,
    resolve_target,
)
from ._evaluate import _seeded


@plain_type
@dataclass
class Certificate:
    """Per-example certified predictions of a smoothed classifier.

    Attributes
    ----------
    prediction : ndarray of int
        The smoothed classifier's class index (into ``classes``), -1 where
        it abstains.
    radius : ndarray of float
        Certified L2 radius (0 where it abstains).
    y : ndarray of int
        True class indices.
    classes : ndarray
        The model's classes.
    sigma, n0, n, alpha : float, int, int, float
        The smoothing's noise and CERTIFY's sample sizes and level.
    """

    prediction: np.ndarray
    radius: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    sigma: float
    n0: int
    n: int
    alpha: float

    def check_plain(self) -> None:
        n = check_vector(self.prediction, "prediction", "i")
        check_vector(self.radius, "radius", "f", n)
        check_vector(self.y, "y", "iu", n)

    @property
    def n_examples(self) -> int:
        return len(self.y)

    @classmethod
    def concatenate(cls, parts: list[Certificate]) -> Certificate:
        """One certificate of the examples of ``parts``, in order; they must
        share the smoothing (sigma, n0, n, alpha) and the classes."""
        if not parts:
            raise ValueError("no certificates to concatenate")
        first = parts[0]
        for part in parts[1:]:
            same = (part.sigma, part.n0, part.n, part.alpha) == (
                first.sigma, first.n0, first.n, first.alpha
            ) and np.array_equal(part.classes, first.classes)  # fmt: skip
            if not same:
                raise ValueError(
                    f"cannot concatenate certificates of different smoothings or "
                    f"classes: {first!r} and {part!r}"
                )
        return cls(
            **{f: np.concatenate([getattr(p, f) for p in parts])
               for f in ("prediction", "radius", "y")},
            classes=first.classes, sigma=first.sigma, n0=first.n0, n=first.n,
            alpha=first.alpha,
        )  # fmt: skip

    @property
    def abstained(self) -> np.ndarray:
        return self.prediction < 0

    @property
    def correct(self) -> np.ndarray:
        """Certified correct at radius 0: predicted (not abstained) and right."""
        return self.prediction == self.y

    @property
    def max_radius(self) -> float:
        """The largest radius n samples can certify: every sample of one class
        gives the lower bound alpha^(1/n), so ``sigma * Phi^-1(alpha^(1/n))``."""
        return float(self.sigma * norm.ppf(self.alpha ** (1.0 / self.n)))

    def correct_at(self, radius: float) -> np.ndarray:
        """Per example, predicted correctly with a certified L2 radius of at
        least ``radius``."""
        return self.correct & (self.radius >= radius)

    def accuracy_at(self, radius: float) -> float:
        """Certified accuracy at L2 ``radius``: the share of examples predicted
        correctly with a certified radius of at least ``radius``."""
        if radius > self.max_radius:
            raise ValueError(
                f"radius {radius} is beyond what n={self.n} samples can certify "
                f"at sigma={self.sigma}, alpha={self.alpha} ({self.max_radius:.3f}): "
                "raise n or sigma"
            )
        return float(np.mean(self.correct_at(radius)))

    def __repr__(self):
        return (
            f"Certificate(sigma={self.sigma}, n={self.n}, alpha={self.alpha}: "
            f"{len(self.y)} examples, certified accuracy {self.accuracy_at(0):.1%} "
            f"at r=0, {self.abstained.mean():.1%} abstained, max radius "
            f"{self.max_radius:.3f})"
        )


@dataclass(frozen=True)
class Smoothing:
    """Randomized smoothing at noise ``sigma``, certified with ``n0`` selection
    and ``n`` estimation samples at level ``alpha`` (Cohen et al.'s CERTIFY,
    as ART runs it)."""

    sigma: float
    n: int = 10_000
    n0: int = 100
    alpha: float = 0.001
    batch_size: int = 1000

    def __post_init__(self):
        if not (np.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"sigma must be a number > 0, got {self.sigma!r}")
        for name in ("n", "n0", "batch_size"):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and value >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha must lie in (0, 0.5), got {self.alpha!r}")

    def classifier(self, estimator: Any, clip_values=(0.0, 1.0)) -> Any:
        """The smoothed classifier as ART's ``PyTorchRandomizedSmoothing``."""
        from art.estimators.certification.randomized_smoothing import (
            PyTorchRandomizedSmoothing,
        )

        target = resolve_target(estimator)
        cuda = torch.device(device_of(target)).type == "cuda"
        return PyTorchRandomizedSmoothing(
            model=attacked_function(target),
            loss=torch.nn.CrossEntropyLoss(),
            input_shape=target.input_shape,
            nb_classes=len(target.classes_),
            # no clip: the base classifier sees x + noise as Cohen et al.'s does
            clip_values=None,
            device_type="gpu" if cuda else "cpu",
            sample_size=self.n0,
            scale=float(self.sigma),
            alpha=float(self.alpha),
        )

    def noisy_classifier(self, estimator: Any) -> Any:
        """The base classifier on ``x + N(0, sigma^2 I)``, one fresh draw per
        pass, as a :class:`~sk_guessfirst.adversarial.TorchClassifier`. The
        evaluation detects it as randomised and attacks it through the
        expectation over 20 draws, i.e. the smoothed classifier's soft
        probabilities (Salman et al. 2019's attack on smoothed classifiers)."""
        from ..attacked._torch_classifier import TorchClassifier

        target = resolve_target(estimator)
        return TorchClassifier(
            _GaussianNoise(attacked_function(target), float(self.sigma)),
            input_shape=target.input_shape,
            classes=target.classes_,
        )

    def certify(
        self,
        estimator: Any,
        X: Any,
        y: Any,
        *,
        clip_values: tuple[float, float] = (0.0, 1.0),
        random_state: int | None = 0,
    ) -> Certificate:
        """Certify every row of X (see :func:`certify`)."""
        target = resolve_target(estimator)
        X, y, y_enc = check_Xy(target, X, y, check_clip_values(clip_values))
        smoothed = self.classifier(target, clip_values)
        with _seeded(random_state), torch.no_grad():
            pred, radius = smoothed.certify(
                target.as_input(X), n=int(self.n), batch_size=int(self.batch_size)
            )
        return Certificate(
            prediction=np.asarray(pred, dtype=np.int64),
            radius=np.asarray(radius, dtype=np.float64),
            y=np.asarray(y_enc, dtype=np.int64),
            classes=np.asarray(target.classes_),
            sigma=float(self.sigma),
            n0=int(self.n0),
            n=int(self.n),
            alpha=float(self.alpha),
        )


class _GaussianNoise(torch.nn.Module):
    def __init__(self, module, sigma):
        super().__init__()
        self.module, self.sigma = module, sigma

    def forward(self, x):
        return self.module(x + self.sigma * torch.randn_like(x))


def certify(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    sigma: float,
    n: int = 10_000,
    n0: int = 100,
    alpha: float = 0.001,
    batch_size: int = 1000,
    clip_values: tuple[float, float] = (0.0, 1.0),
    random_state: int | None = 0,
) -> Certificate:
    """Certified L2 radius of the smoothed ``estimator`` on every row of X.

    Cohen et al. (2019)'s CERTIFY from ART
    (``art.estimators.certification.randomized_smoothing``): ``n0`` samples of
    ``x + N(0, sigma^2 I)`` choose the class, ``n`` more give a
    Clopper-Pearson lower bound p on its probability at level ``alpha``;
    the radius is ``sigma * Phi^-1(p)``, or the smoothed classifier abstains
    (prediction -1) when p < 1/2. Train the estimator with the same noise
    (``train_noise=sigma``) for the smoothed classifier to be accurate.

    Parameters
    ----------
    estimator : fitted classifier, or Pipeline of scalers ending in one
        The base classifier (any model the evaluation takes).
    X : array-like
        Inputs in ``clip_values`` (flat rows or the model's layout).
    y : array-like of shape (n_samples,)
        True labels.
    sigma : float
        Standard deviation of the smoothing noise, in the scale of X.
    n : int, default=10000
        Estimation samples per example; the largest certifiable radius is
        ``sigma * Phi^-1(alpha^(1/n))`` (:attr:`Certificate.max_radius`).
    n0 : int, default=100
        Selection samples per example.
    alpha : float, default=0.001
        Failure probability of each certificate.
    batch_size : int, default=1000
        Noisy samples per forward pass.
    clip_values : tuple of float, default=(0.0, 1.0)
        Valid range of X (checked; the noisy samples are not clipped).
    random_state : int, RandomState or None, default=0
        Seeds the noise (numpy's global RNG, which ART draws from, forked).

    Returns
    -------
    certificate : Certificate
        ``accuracy_at(r)`` gives certified accuracy at radius r.

    Examples
    --------
    >>> from sk_guessfirst import CNNClassifier
    >>> from sk_guessfirst.adversarial import certify
    >>> from sk_guessfirst.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = CNNClassifier(train_noise=0.25, max_epochs=3, input_shape=(1, 8, 8),
    ...                     random_state=0).fit(X, y)
    >>> cert = certify(clf, X[:5], y[:5], sigma=0.25, n=200)
    >>> cert.radius.shape
    (5,)
    """
    smoothing = Smoothing(sigma=sigma, n=n, n0=n0, alpha=alpha, batch_size=batch_size)
    return smoothing.certify(
        estimator, X, y, clip_values=clip_values, random_state=random_state
    )
