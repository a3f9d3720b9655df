"""The MMD estimator of the IE regulariser against known distributions."""

import numpy as np
import pytest
import torch

from sk_guessfirst.regularizers import (
    class_mmd,
    median_bandwidth,
    mmd2_unbiased,
    pairwise_sq_dists,
)


def _two_gaussians(shift, n=200, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=torch.float64)
    b = torch.randn(n, d, generator=g, dtype=torch.float64)
    b[:, 0] += shift
    return a, b


def test_equal_distributions_average_to_zero():
    # unbiased: the mean over many draws is ~0 (single draws may be negative)
    values = [
        float(mmd2_unbiased(*_two_gaussians(0.0, n=60, seed=s), 1.0)) for s in range(60)
    ]
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values))
    assert min(values) < 0 < max(values)


def test_mmd_grows_with_distance():
    values = [
        float(mmd2_unbiased(*_two_gaussians(m), 1.0)) for m in (0.5, 1.0, 2.0, 4.0)
    ]
    assert values[0] > 0 and all(np.diff(values) > 0)


def test_closed_form_for_gaussians():
    # For N(0, I) vs N(m e1, I) and a Gaussian kernel of width s in d dims:
    # MMD^2 = 2 (s^2/(s^2+2))^(d/2) (1 - exp(-m^2 / (2 (s^2 + 2))))
    s, m, d = 1.5, 1.0, 4
    expected = (
        2 * (s**2 / (s**2 + 2)) ** (d / 2) * (1 - np.exp(-(m**2) / (2 * (s**2 + 2))))
    )
    values = [
        float(mmd2_unbiased(*_two_gaussians(m, n=400, d=d, seed=k), s))
        for k in range(10)
    ]
    assert np.mean(values) == pytest.approx(expected, rel=0.1)


def test_class_mmd_two_classes_is_quarter_mmd():
    a, b = _two_gaussians(1.0, n=50)
    z = torch.cat([a, b])
    y = torch.cat([torch.zeros(50), torch.ones(50)]).long()
    assert float(class_mmd(z, y, 1.3)) == pytest.approx(
        float(mmd2_unbiased(a, b, 1.3)) / 4
    )


def test_class_mmd_matches_naive_loops():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(3, 30, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (30,), generator=g)
    y[0] = 4  # a singleton class is left out
    sigma = 0.9
    got = class_mmd(z, y, sigma)
    for h in range(3):
        classes = [c for c in range(5) if (y == c).sum() >= 2]

        def k(a, b):
            return torch.exp(-((a - b) ** 2).sum() / (2 * sigma**2))

        G = np.zeros((len(classes), len(classes)))
        for i, cj in enumerate(classes):
            for j, cl in enumerate(classes):
                A, B = z[h][y == cj], z[h][y == cl]
                vals = [
                    float(k(a, b))
                    for ia, a in enumerate(A)
                    for ib, b in enumerate(B)
                    if i != j or ia != ib
                ]
                G[i, j] = np.mean(vals)
        C = len(classes)
        expected = (np.trace(G) - G.sum() / C) / C
        assert float(got[h]) == pytest.approx(expected, rel=1e-9)


def test_class_mmd_zero_when_labels_carry_no_information():
    # labels assigned independently of z: the spread averages to ~0
    g = torch.Generator().manual_seed(2)
    values = []
    for _ in range(40):
        z = torch.randn(120, 3, generator=g, dtype=torch.float64)
        y = torch.randint(0, 3, (120,), generator=g)
        values.append(float(class_mmd(z, y, "median")))
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values))


def test_fewer_than_two_usable_classes_gives_zero_with_graph():
    z = torch.randn(4, 3, requires_grad=True)
    r = class_mmd(z, torch.tensor([0, 0, 0, 1]), 1.0)
    assert float(r.detach()) == 0.0 and r.requires_grad


def test_median_bandwidth():
    z = torch.tensor([[0.0], [1.0], [3.0]])
    # distances 1, 3, 2 -> median 2
    assert float(median_bandwidth(pairwise_sq_dists(z))) == pytest.approx(2.0)
