"""Information elimination (IE): an MMD surrogate for I(Z; Y) under each hypothesis.

Under a fixed hypothesis k the representation Z_k(x) should carry no
information about the true label y. With a uniform label marginal
``I(Z; Y) = (1/K) sum_j KL(p_j || p_bar)`` (paper Eq. 3); KL is replaced by the
squared MMD with a Gaussian kernel (Gretton et al. 2012; paper Appendix B),
i.e. the mean squared RKHS distance of each class's kernel mean embedding
``mu_j`` from their average ``mu_bar`` (user guide, "Information elimination (IE)").
"""

from __future__ import annotations

import torch
from torch import Tensor


def pairwise_sq_dists(z: Tensor) -> Tensor:
    """Squared distances within each batch of ``z``: (..., B, D) -> (..., B, B)."""
    sq = (z * z).sum(-1)
    d2 = sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2.0 * z @ z.transpose(-1, -2)
    return d2.clamp_min(0.0)


def median_bandwidth(d2: Tensor) -> Tensor:
    """Median pairwise distance (off-diagonal) per leading index, detached.

    The standard MMD bandwidth heuristic; returns a tensor of shape d2.shape[:-2].
    d2 is symmetric, so the upper triangle holds every distance once and has
    the same (lower) median as the whole off-diagonal; the median is taken on
    squared distances and rooted once, as the square root is monotone.
    """
    b = d2.shape[-1]
    rows, cols = torch.triu_indices(b, b, offset=1, device=d2.device)
    upper = d2.detach().flatten(-2)[..., rows * b + cols]
    return upper.median(dim=-1).values.clamp_min(1e-12).sqrt()


def class_mmd(z: Tensor, y: Tensor, sigma: float | str = "median") -> Tensor:
    """Unbiased MMD^2 spread of the class-conditional laws of ``z``.

    Parameters
    ----------
    z : Tensor of shape (H, B, D) or (B, D)
        Representations of the batch, one slice per hypothesis.
    y : LongTensor of shape (B,)
        True labels.
    sigma : float or "median", default="median"
        Gaussian kernel bandwidth ``k(a, b) = exp(-||a - b||^2 / (2 sigma^2))``.

    Returns
    -------
    R : Tensor of shape (H,) (or scalar for 2-D ``z``)
        ``R_k = (1/C) sum_j ||mu_j - mu_bar||^2`` estimated with the unbiased
        within-class terms; classes with fewer than two samples in the batch
        are left out (their within-class term is undefined). Zero when fewer
        than two classes qualify.
    """
    squeeze = z.dim() == 2
    if squeeze:
        z = z.unsqueeze(0)
    counts = torch.bincount(y, minlength=int(y.max()) + 1)
    classes = torch.nonzero(counts >= 2).flatten()
    if len(classes) < 2:
        out = z.sum(dim=(1, 2)) * 0.0  # keeps the graph and device
        return out[0] if squeeze else out
    n = counts[classes].to(z.dtype)
    members = (y.unsqueeze(1) == classes.unsqueeze(0)).to(z.dtype)  # (B, C)
    # samples of classes left out take no part in any term
    keep = members.sum(1) > 0
    if not bool(keep.all()):
        z, members = z[:, keep], members[keep]

    d2 = pairwise_sq_dists(z)  # (H, B, B)
    if isinstance(sigma, str):
        bw = median_bandwidth(d2).view(-1, 1, 1)
    else:
        bw = torch.as_tensor(float(sigma), dtype=z.dtype, device=z.device)
    kernel = torch.exp(-d2 / (2.0 * bw * bw))
    # block sums S_jl = sum_{a in I_j, b in I_l} k(z_a, z_b): (H, C, C)
    block = members.T @ kernel @ members
    pair_counts = n.unsqueeze(1) * n.unsqueeze(0)
    gram = block / pair_counts
    # unbiased within-class means: drop the n_j diagonal terms k(z, z) = 1
    diag = (torch.diagonal(block, dim1=-2, dim2=-1) - n) / (n * (n - 1.0))
    eye = torch.eye(len(n), dtype=torch.bool, device=z.device)
    gram = torch.where(eye, torch.diag_embed(diag), gram)
    c = float(len(n))
    spread = (diag.sum(-1) - gram.sum(dim=(-2, -1)) / c) / c
    return spread[0] if squeeze else spread


def backward_with_penalty(loss: Tensor, penalty: Tensor, params) -> None:
    """Backpropagate ``loss + penalty``, with ``penalty`` reaching only ``params``.

    The IE regulariser trains only the layers from the hypothesis injection to
    Z (paper Appendix F, Algorithm 1), while the objective trains every layer.
    One forward pass serves both: the penalty's gradient is taken with
    ``torch.autograd.grad`` restricted to ``params`` (autograd then skips
    every layer below them), and added to what ``loss.backward()`` leaves in
    ``.grad``.
    """
    params = list(params)
    grads = torch.autograd.grad(penalty, params, retain_graph=True)
    loss.backward()
    for p, g in zip(params, grads, strict=True):
        p.grad = g if p.grad is None else p.grad.add_(g)


def mmd2_unbiased(a: Tensor, b: Tensor, sigma: float) -> Tensor:
    """Unbiased MMD^2 between samples ``a`` (m, D) and ``b`` (n, D) (Gretton Eq. 3).

    For two classes :func:`class_mmd` equals a quarter of this:
    ``(1/2) sum_j ||mu_j - mu_bar||^2 = ||mu_0 - mu_1||^2 / 4``. Kept as the
    textbook reference estimator that tests compare against.
    """

    def mean_offdiag(k):
        m = k.shape[0]
        return (k.sum() - k.diagonal().sum()) / (m * (m - 1))

    def gauss(x, w):
        d2 = (x * x).sum(1)[:, None] + (w * w).sum(1)[None, :] - 2 * x @ w.T
        return torch.exp(-d2.clamp_min(0) / (2 * sigma**2))

    return (
        mean_offdiag(gauss(a, a)) + mean_offdiag(gauss(b, b)) - 2 * gauss(a, b).mean()
    )
