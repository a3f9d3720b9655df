"""How much label information a fitted model's representation carries.

The IE regulariser asks that each hypothesis-conditioned representation Z_k,
taken alone, carry no information about the true label Y (paper Section 2.3,
Appendix D). This module measures it, for any fitted estimator, by two
independent methods:

- **kNN** (Ross 2014; Kraskov et al. 2004's construction for a discrete Y):
  :func:`knn_mutual_information`, the estimator scikit-learn's
  ``mutual_info_classif`` runs on one feature at a time, here on the whole
  representation (no maintained library estimates multivariate continuous
  against discrete MI; the tests check it equals scikit-learn's in one
  dimension and the closed form of Gaussian mixtures in several);
- **a probe lower bound**: ``I(Z; Y) >= H(Y) - CE``, CE the held-out
  cross-entropy of a linear probe (scikit-learn's ``LogisticRegression``)
  trained on Z to predict Y (:func:`probe_mutual_information`).

Beside them: the probe's accuracy, and the MMD the regulariser itself
computes. Per hypothesis and jointly over the K of them, because the label
can live in how the K representations of one input compare although no
single one carries it. All in nats.

I(X; Z), where it is finite (:func:`input_information`): through VIB's
stochastic encoder q(z | x), or through any representation with stated
Gaussian noise injected, Z + N(0, s^2 I) (for a deterministic network I(X; Z)
itself is infinite or constant, Goldfeld et al. 2019). With X uniform over
the n inputs given, Z is a mixture of n Gaussians, whose information has
closed-form bounds from pairwise distances (Kolchinsky & Tracey 2017): the
Bhattacharyya distance bounds it from below, the KL divergence from above,
both at most log n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from scipy.special import digamma
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KDTree, NearestNeighbors
from sklearn.preprocessing import StandardScaler

from ._plaindata import plain_type
from .regularizers import class_mmd

__all__ = [
    "two_gaussians_label_information",
    "InformationMeasures",
    "InputInformation",
    "MixtureInformation",
    "gaussian_mixture_information",
    "input_information",
    "information_measures",
    "knn_mutual_information",
    "probe_mutual_information",
    "representation",
]


def representation(estimator: Any, X: Any, *, batch_size: int = 500) -> np.ndarray:
    """The representation a fitted estimator's output layer reads, per input.

    For the hypothesis model: Z of shape (n, K, D), the hypothesis-conditioned
    representation the IE regulariser acts on (one D-vector per hypothesis).
    For any other network with an ``out`` layer (CNN, LeNet-5, VIB): the
    input of that layer, as (n, 1, D): the matching layer, unconditioned (for
    VIB, decoded from the mean of q(z | x)).

    Parameters
    ----------
    estimator : fitted sk_guessfirst estimator
        Its network is run in evaluation mode (its mode restored).
    X : array-like
        Inputs, flat rows or the model's layout.
    batch_size : int, default=500
        Inputs per forward pass.

    Returns
    -------
    Z : ndarray of shape (n, K, D) or (n, 1, D)
    """
    module = estimator.module_
    if not hasattr(module, "out"):
        raise TypeError(
            f"{type(module).__name__} has no 'out' layer whose input to read; "
            "representation() knows the package's networks"
        )
    captured: list[torch.Tensor] = []
    handle = None
    if not hasattr(module, "forward_train") or hasattr(module, "encode"):
        handle = module.out.register_forward_pre_hook(
            lambda mod, args: captured.append(args[0].detach())
        )

    def read(x):
        if handle is None:  # the hypothesis model: its Z
            captured.append(module.forward_train(x)[1].detach())
        elif hasattr(module, "encode"):  # VIB: at the mean encoder
            module(x, n_samples=0)
        else:
            module(x)

    try:
        _run_batches(estimator, X, read, batch_size)
    finally:
        if handle is not None:
            handle.remove()
    Z = torch.cat(captured).cpu().numpy().astype(np.float64)
    return Z if Z.ndim == 3 else Z[:, None, :]


def _run_batches(estimator, X, read, batch_size):
    """Call ``read`` on each batch of X (as tensors in the model's layout and
    on its device) with the network in evaluation mode, its mode restored."""
    module = estimator.module_
    X = np.asarray(X, dtype=np.float32)
    X = X.reshape(len(X), *estimator.input_shape_)
    device = next(module.parameters()).device
    training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(X), batch_size):
                read(torch.as_tensor(X[i : i + batch_size], device=device))
    finally:
        module.train(training)


def knn_mutual_information(
    Z: Any, y: Any, *, k: int = 3, random_state: int | None = 0
) -> float:
    """I(Z; Y) in nats by Ross (2014)'s k-nearest-neighbour estimator.

    For each point, the distance to its k-th neighbour among points of its
    own label sets a radius; counting every point within it gives
    ``psi(N) + psi(k) - <psi(N_y)> - <psi(m)>``. The same construction as
    scikit-learn's ``mutual_info_classif`` (which takes one feature at a
    time), on the whole of Z: Euclidean distances on standardised columns,
    with the same tiny noise to break ties. Negative estimates are 0.

    Parameters
    ----------
    Z : array-like of shape (n, D)
        The representation.
    y : array-like of shape (n,)
        Discrete labels.
    k : int, default=3
        Neighbours.
    random_state : int or None, default=0
        Seeds the tie-breaking noise.

    Returns
    -------
    mi : float
    """
    Z = np.asarray(Z, dtype=np.float64).reshape(len(y), -1)
    y = np.asarray(y)
    Z = StandardScaler().fit_transform(Z)
    rng = np.random.default_rng(random_state)
    # scikit-learn's tie-breaking: noise of 1e-10 times max(1, mean |Z|)
    Z = Z + 1e-10 * np.maximum(1, np.mean(np.abs(Z), axis=0)) * rng.standard_normal(
        Z.shape
    )
    n = len(Z)
    radius = np.empty(n)
    label_counts = np.empty(n)
    k_all = np.empty(n)
    for label in np.unique(y):
        mask = y == label
        count = int(mask.sum())
        if count > 1:
            kk = min(k, count - 1)
            dist = NearestNeighbors(n_neighbors=kk).fit(Z[mask]).kneighbors()[0]
            radius[mask] = np.nextafter(dist[:, -1], 0)
            k_all[mask] = kk
        label_counts[mask] = count
    keep = label_counts > 1
    Z, radius = Z[keep], radius[keep]
    counts = KDTree(Z).query_radius(Z, radius, count_only=True)
    mi = (
        digamma(keep.sum())
        + np.mean(digamma(k_all[keep]))
        - np.mean(digamma(label_counts[keep]))
        - np.mean(digamma(np.asarray(counts)))
    )
    return float(max(0.0, mi))


def probe_mutual_information(
    Z: Any, y: Any, *, test_size: float = 0.5, random_state: int | None = 0
) -> tuple[float, float]:
    """A lower bound on I(Z; Y) and the accuracy of a held-out linear probe.

    ``H(Y) - CE``, CE the cross-entropy (nats) on the held-out part of a
    multinomial logistic regression fitted on the rest (stratified split);
    H(Y) the held-out labels' empirical entropy. Any classifier's held-out
    cross-entropy bounds H(Y | Z) from above up to sampling error, so the
    bound is never above the truth by more than that error; a linear probe
    makes it the information a linear read-out finds.

    Parameters
    ----------
    Z : array-like of shape (n, D)
        The representation.
    y : array-like of shape (n,)
        Discrete labels (every class at least twice, for the stratified split).
    test_size : float, default=0.5
        Held-out share.
    random_state : int or None, default=0
        Seeds the split.

    Returns
    -------
    bound, accuracy : float, float
    """
    Z = np.asarray(Z, dtype=np.float64).reshape(len(y), -1)
    y = np.asarray(y)
    Z_tr, Z_te, y_tr, y_te = train_test_split(
        Z, y, test_size=test_size, stratify=y, random_state=random_state
    )
    scaler = StandardScaler().fit(Z_tr)
    probe = LogisticRegression(max_iter=2000).fit(scaler.transform(Z_tr), y_tr)
    proba = probe.predict_proba(scaler.transform(Z_te))
    index = np.searchsorted(probe.classes_, y_te)
    ce = -np.mean(np.log(np.clip(proba[np.arange(len(y_te)), index], 1e-12, None)))
    accuracy = float(np.mean(probe.classes_[proba.argmax(1)] == y_te))
    return _entropy(y_te) - float(ce), accuracy


def _entropy(y) -> float:
    """Empirical entropy of the labels y, in nats."""
    _, counts = np.unique(y, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


@plain_type
@dataclass
class InformationMeasures:
    """Label information in a model's representation (nats).

    Attributes
    ----------
    knn, probe, probe_accuracy, mmd : ndarray of shape (K,)
        Per hypothesis k (one entry for an unconditioned network): the kNN
        estimate of I(Z_k; Y), the probe's lower bound and accuracy, and the
        IE regulariser's MMD spread of Z_k across classes.
    joint_probe, joint_probe_accuracy : float
        The probe on all K representations of an input at once:
        I((Z_1..Z_K); Y) from below.
    entropy : float
        H(Y) of the labels, the most any of these can be.
    n : int
        Inputs measured.
    """

    knn: np.ndarray
    probe: np.ndarray
    probe_accuracy: np.ndarray
    mmd: np.ndarray
    joint_probe: float
    joint_probe_accuracy: float
    entropy: float
    n: int

    def __repr__(self):
        return (
            f"InformationMeasures(n={self.n}, H(Y)={self.entropy:.3f}: per "
            f"hypothesis kNN {self.knn.mean():.3f}, probe {self.probe.mean():.3f} "
            f"(accuracy {self.probe_accuracy.mean():.1%}); joint probe "
            f"{self.joint_probe:.3f} (accuracy {self.joint_probe_accuracy:.1%}))"
        )


def information_measures(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    k: int = 3,
    sigma: float | str | None = None,
    random_state: int | None = 0,
) -> InformationMeasures:
    """Label information in ``estimator``'s representation of X.

    Parameters
    ----------
    estimator : fitted sk_guessfirst estimator
        See :func:`representation` for the layer read.
    X, y : array-like
        Inputs (held-out ones: the training set's labels are memorised) and
        their labels.
    k : int, default=3
        Neighbours of the kNN estimator.
    sigma : float, "median" or None, default=None
        Kernel bandwidth of the MMD column; None takes the estimator's own
        (``"median"`` for a model without one).
    random_state : int or None, default=0
        Seeds the probe's split and the kNN tie-breaking.

    Returns
    -------
    measures : InformationMeasures
    """
    y = np.asarray(y)
    Z = representation(estimator, X)
    bandwidth = sigma if sigma is not None else getattr(estimator, "sigma", "median")
    y_enc = np.searchsorted(np.unique(y), y)
    knn, probe, acc, mmd = [], [], [], []
    for j in range(Z.shape[1]):
        knn.append(knn_mutual_information(Z[:, j], y, k=k, random_state=random_state))
        bound, accuracy = probe_mutual_information(
            Z[:, j], y, random_state=random_state
        )
        probe.append(bound)
        acc.append(accuracy)
        zj = torch.as_tensor(Z[:, j], dtype=torch.float32)
        mmd.append(float(class_mmd(zj[None], torch.as_tensor(y_enc), bandwidth)[0]))
    joint, joint_acc = probe_mutual_information(
        Z.reshape(len(Z), -1), y, random_state=random_state
    )
    return InformationMeasures(
        knn=np.array(knn), probe=np.array(probe), probe_accuracy=np.array(acc),
        mmd=np.array(mmd), joint_probe=float(joint),
        joint_probe_accuracy=float(joint_acc),
        entropy=_entropy(y), n=len(y),
    )  # fmt: skip


class MixtureInformation(NamedTuple):
    """I(X; Z) of a Gaussian channel from n inputs: bounds and estimate (nats).

    Parameters
    ----------
    lower : float
        The Bhattacharyya pairwise bound, from below.
    estimate : float
        The Monte Carlo estimate.
    stderr : float
        Its standard error.
    upper : float
        The KL pairwise bound, from above.
    """

    lower: float
    estimate: float
    stderr: float
    upper: float


def gaussian_mixture_information(
    means: Any,
    stds: Any,
    *,
    n_samples: int = 8,
    random_state: int | None = 0,
    chunk: int = 32,
) -> MixtureInformation:
    """I(X; Z) for X uniform over n points and Z | X=i ~ N(means[i], diag(stds[i]^2)).

    Z is a mixture of n Gaussians. Kolchinsky & Tracey (2017)'s pairwise
    estimators of its entropy, less the known H(Z | X), give closed-form
    bounds::

        I_D = log n - mean_i log sum_j exp(-D(p_i, p_j))

    with D the Bhattacharyya distance (a lower bound) and the KL divergence
    (an upper bound), both in [0, log n]: log n when the n Gaussians do not
    overlap, 0 when they coincide. Between them, a Monte Carlo estimate,
    unbiased up to the log's curvature: the mean over ``n_samples`` draws
    z ~ p_i per point of ``log p_i(z) - log mean_j p_j(z)``, with its
    standard error. Float64, O(n^2 D).

    Parameters
    ----------
    means : array-like of shape (n, D)
        The means of the n Gaussians, one per input.
    stds : array-like of shape (n, D), (D,) or scalar
        Standard deviations (> 0), per point and dimension or shared.
    n_samples : int, default=8
        Draws per point of the Monte Carlo estimate.
    random_state : int or None, default=0
        Seeds the draws.
    chunk : int, default=32
        Rows of a pairwise matrix computed at once (memory: chunk * n * D
        floats).

    Returns
    -------
    information : MixtureInformation
        ``lower``, ``estimate``, ``stderr``, ``upper``.
    """
    m = torch.as_tensor(np.asarray(means, dtype=np.float64))
    if m.ndim != 2:
        raise ValueError(f"means must be 2-D (n, D); got shape {tuple(m.shape)}")
    s = torch.as_tensor(np.asarray(stds, dtype=np.float64)).expand_as(m)
    if not bool((s > 0).all()) or not bool(torch.isfinite(s).all()):
        raise ValueError("stds must be finite and > 0")
    v = s.square()
    n, dims = m.shape
    log_v, inv = v.log(), 1 / v
    if bool((v == v[:1]).all()):  # one covariance: distances of the means
        w = m / s[:1]
        sq = torch.cdist(w, w).square()
        kl, bhat = sq / 2, sq / 8
    else:
        # KL(p_i || p_j), expanded into matrix products
        kl = 0.5 * (
            log_v.sum(1)[None, :] - log_v.sum(1)[:, None] + v @ inv.T
            + _sq_mahalanobis(m, m, inv) - dims
        )  # fmt: skip
        bhat = torch.empty(n, n, dtype=torch.float64)
        for i in range(0, n, chunk):
            rows = slice(i, i + chunk)
            vbar = (v[rows, None] + v[None]) / 2
            bhat[rows] = ((m[rows, None] - m[None]).square() / vbar).sum(
                -1
            ) / 8 + 0.5 * (vbar.log() - (log_v[rows, None] + log_v[None]) / 2).sum(-1)
    log_n = float(np.log(n))

    def bound(d):
        return log_n - float(torch.logsumexp(-d.clamp_min(0), 1).mean())

    # Monte Carlo: z = m_i + s_i e; log p_j(z) up to the shared 2 pi term
    gen = torch.Generator().manual_seed(0 if random_state is None else random_state)
    if random_state is None:
        gen.seed()
    terms = []
    for _ in range(n_samples):
        e = torch.randn(n, dims, generator=gen, dtype=torch.float64)
        z = m + s * e
        log_p = -0.5 * (_sq_mahalanobis(z, m, inv) + log_v.sum(1)[None, :])
        own = -0.5 * (e.square().sum(1) + log_v.sum(1))
        terms.append(own - (torch.logsumexp(log_p, 1) - log_n))
    t = torch.cat(terms)
    return MixtureInformation(
        lower=min(max(bound(bhat), 0.0), log_n),
        estimate=float(t.mean()),
        stderr=float(t.std() / np.sqrt(len(t))),
        upper=min(max(bound(kl), 0.0), log_n),
    )


def _sq_mahalanobis(z, m, inv):
    """sum_d (z_id - m_jd)^2 inv_jd for every pair (i, j), as matrix products."""
    return z.square() @ inv.T - 2 * z @ (m * inv).T + (m.square() * inv).sum(1)[None, :]


@plain_type
@dataclass
class InputInformation:
    """Bounds on I(X; Z) for X uniform over the n inputs measured (nats).

    Attributes
    ----------
    lower, estimate, stderr, upper : ndarray of shape (K,)
        Per hypothesis k (one entry for an unconditioned network): the
        Bhattacharyya bound, the Monte Carlo estimate and its standard error,
        the KL bound (:func:`gaussian_mixture_information`).
    cap : float
        log n: the most I(X; Z) can be over n inputs. Bounds at the cap say
        the channel tells every input apart; more inputs would be needed to
        say how much more it keeps.
    noise : float or None
        The std of the injected noise; None for VIB's own encoder.
    n : int
        Inputs measured.
    """

    lower: np.ndarray
    estimate: np.ndarray
    stderr: np.ndarray
    upper: np.ndarray
    cap: float
    noise: float | None
    n: int

    def __repr__(self):
        channel = "VIB's encoder" if self.noise is None else f"noise {self.noise:g}"
        return (
            f"InputInformation(n={self.n}, {channel}: I(X; Z) "
            f"{self.estimate.mean():.3f} in [{self.lower.mean():.3f}, "
            f"{self.upper.mean():.3f}] nats, "
            f"cap log n = {self.cap:.3f})"
        )


def input_information(
    estimator: Any,
    X: Any,
    *,
    noise: float | None = None,
    batch_size: int = 500,
    random_state: int | None = 0,
) -> InputInformation:
    """I(X; Z) and its bounds where it is finite, X uniform over the inputs given.

    With ``noise=None``: through VIB's stochastic encoder, Z ~ q(z | x) (the
    bottleneck before the decoder). With ``noise=s``: through the
    representation :func:`representation` reads plus N(0, s^2 I), for any
    fitted estimator (per hypothesis for the hypothesis model). The value
    depends on s against the representation's scale, so state s with it.

    Parameters
    ----------
    estimator : fitted sk_guessfirst estimator
        See :func:`representation` for the layer read with ``noise``.
    X : array-like
        Inputs (at most a few thousand: the bounds are O(n^2)).
    noise : float > 0 or None, default=None
        Std of the injected Gaussian noise; None reads VIB's own q(z | x).
    batch_size : int, default=500
        Inputs per forward pass.
    random_state : int or None, default=0
        Seeds the Monte Carlo estimate.

    Returns
    -------
    information : InputInformation

    Raises
    ------
    ValueError
        ``noise=None`` on a deterministic network, whose I(X; Z) is infinite
        or constant; or ``noise`` not > 0.
    """
    if noise is None:
        module = estimator.module_
        if not hasattr(module, "encode"):
            raise ValueError(
                f"{type(estimator).__name__}'s representation is deterministic: "
                "its I(X; Z) is infinite (or constant), not a number to report. "
                "Pass noise=s to measure Z + N(0, s^2 I), or use a VIBClassifier"
            )
        parts: list[tuple[torch.Tensor, torch.Tensor]] = []
        _run_batches(estimator, X, lambda x: parts.append(module.encode(x)), batch_size)
        means = [torch.cat([p[0] for p in parts]).double().cpu().numpy()]
        stds: list[Any] = [torch.cat([p[1] for p in parts]).double().cpu().numpy()]
    else:
        if not (isinstance(noise, (int, float)) and np.isfinite(noise) and noise > 0):
            raise ValueError(f"noise must be a number > 0 (the std s); got {noise!r}")
        Z = representation(estimator, X, batch_size=batch_size)
        means = [Z[:, j] for j in range(Z.shape[1])]
        stds = [float(noise)] * len(means)
    values = np.array([
        gaussian_mixture_information(m, s, random_state=random_state)
        for m, s in zip(means, stds, strict=True)
    ])  # fmt: skip
    return InputInformation(
        **{field: values[:, i] for i, field in enumerate(MixtureInformation._fields)},
        cap=float(np.log(len(means[0]))),
        noise=None if noise is None else float(noise), n=len(means[0]),
    )  # fmt: skip


def two_gaussians_label_information(delta: float) -> float:
    """I(Z; Y) in nats of Y uniform on {0, 1} and Z | Y ~ N(+-delta/2, 1)
    (one dimension): H(Y) - H(Y|Z) by quadrature (no closed form in
    elementary functions). The reference the estimators are validated
    against; with more dimensions of pure noise the value is the same.

    Parameters
    ----------
    delta : float
        Distance between the two class means, in standard deviations.

    Returns
    -------
    information : float
        In [0, log 2].

    Examples
    --------
    >>> round(two_gaussians_label_information(0.0), 6)
    0.0
    >>> round(two_gaussians_label_information(4.0), 3)
    0.633
    """
    from scipy import integrate
    from scipy.stats import norm

    def integrand(z: float) -> float:
        a, b = norm.pdf(z, -delta / 2), norm.pdf(z, delta / 2)
        p = a / (a + b)
        h = -sum(q * np.log(q) for q in (p, 1 - p) if q > 0)
        return float(0.5 * (a + b) * h)

    return float(np.log(2) - integrate.quad(integrand, -20, 20)[0])
