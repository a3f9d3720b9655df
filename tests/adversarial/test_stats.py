"""Intervals and paired comparisons (adversarial/_stats.py) against closed forms."""

import numpy as np
import pytest
from scipy.stats import beta, binomtest

from sk_guessfirst.adversarial import (
    accuracy_interval,
    adjust_pvalues,
    compare_paired,
)


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (80, 100), (100, 100)])
def test_the_interval_is_clopper_pearson(k, n):
    low, high = accuracy_interval(k, n)
    # the exact interval's closed form: beta quantiles
    expected_low = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    expected_high = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    assert low == pytest.approx(expected_low) and high == pytest.approx(expected_high)
    mask = np.r_[np.ones(k, bool), np.zeros(n - k, bool)]
    assert accuracy_interval(mask) == (low, high)


def test_the_paired_test_is_the_exact_binomial_on_discordant_pairs():
    rng = np.random.RandomState(0)
    a = rng.rand(200) < 0.6
    b = a.copy()
    b[rng.choice(200, 25, replace=False)] ^= True
    c = compare_paired(a, b)
    assert (c.only_a, c.only_b) == (int((a & ~b).sum()), int((~a & b).sum()))
    m = c.only_a + c.only_b
    assert c.pvalue == pytest.approx(binomtest(c.only_a, m, 0.5).pvalue)
    assert c.one_sided() == pytest.approx(
        binomtest(c.only_a, m, 0.5, alternative="greater").pvalue
    )
    assert compare_paired(a, a).pvalue == 1.0
    with pytest.raises(ValueError, match="same images"):
        compare_paired(a, b[:10])


def test_holm_adjusts_as_its_definition():
    p = [0.01, 0.04, 0.03]
    # sorted 0.01, 0.03, 0.04 times 3, 2, 1, then running maximum
    assert adjust_pvalues(p) == pytest.approx([0.03, 0.06, 0.06])
    assert adjust_pvalues([]) == []


def test_compare_trainings_pools_discordant_images_and_tests_trainings():
    from scipy.stats import binomtest, ttest_1samp

    from sk_guessfirst.adversarial import compare_trainings

    rng = np.random.RandomState(0)
    pairs = [(rng.rand(200) < 0.6, rng.rand(200) < q) for q in (0.5, 0.55, 0.45)]
    c = compare_trainings(pairs)
    only_a = sum(int((a & ~b).sum()) for a, b in pairs)
    only_b = sum(int((~a & b).sum()) for a, b in pairs)
    assert c.pooled_pvalue == binomtest(only_a, only_a + only_b, 0.5).pvalue
    d = [a.mean() - b.mean() for a, b in pairs]
    assert c.ttest_pvalue == pytest.approx(ttest_1samp(d, 0.0).pvalue)
    np.testing.assert_allclose(c.differences, d)
    assert "paired t-test, 2 df" in str(c)
    # one training: the t-test is undefined, said as nan
    assert np.isnan(compare_trainings(pairs[:1]).ttest_pvalue)
    with pytest.raises(ValueError, match="at least one training"):
        compare_trainings([])
