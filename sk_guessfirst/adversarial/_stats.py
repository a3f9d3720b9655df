"""The uncertainty of a robust accuracy, and paired comparisons on the same images.

A robust accuracy on n attacked images is a binomial proportion: every number
the package prints comes with its exact (Clopper-Pearson) 95% interval
(:func:`accuracy_interval`). Two models (or two attacks) evaluated on the same
images are compared per image, by the exact McNemar test on the images one
gets right and the other wrong (:func:`compare_paired`), and a table of such
comparisons is corrected for multiplicity (Holm, :func:`adjust_pvalues`).
All three are statsmodels' own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

LEVEL = 0.95


def accuracy_interval(
    correct: ArrayLike | int, n: int | None = None, level: float = LEVEL
) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of an accuracy.

    Parameters
    ----------
    correct : array-like of bool, or int
        Per example whether it counts as correct, or the count of those.
    n : int or None, default=None
        The number of examples (with a count; None with a mask).
    level : float, default=0.95
        Confidence level.

    Returns
    -------
    low, high : float
        Bounds in [0, 1] (nan, nan for no examples).

    Examples
    --------
    >>> low, high = accuracy_interval(80, 100)
    >>> round(low, 3), round(high, 3)
    (0.708, 0.873)
    """
    from statsmodels.stats.proportion import proportion_confint

    if n is None:
        mask = np.asarray(correct, dtype=bool)
        k, n = int(mask.sum()), int(mask.size)
    else:
        k = int(correct)  # type: ignore[arg-type]
    if n == 0:
        return float("nan"), float("nan")
    low, high = proportion_confint(k, n, alpha=1 - level, method="beta")
    return float(np.nan_to_num(low)), float(np.nan_to_num(high, nan=1.0))


def format_accuracy(correct: ArrayLike, level: float = LEVEL) -> str:
    """An accuracy with its exact interval, in percent.

    Parameters
    ----------
    correct : array-like of bool
        Per example whether it counts as correct.
    level : float, default=0.95
        Confidence level.

    Returns
    -------
    text : str
        E.g. ``"81.0% [72.0, 88.2]"``.
    """
    mask = np.asarray(correct, dtype=bool)
    if not mask.size:
        return "n/a (no examples)"
    low, high = accuracy_interval(mask, level=level)
    return f"{mask.mean():.1%} [{100 * low:.1f}, {100 * high:.1f}]"


@dataclass(frozen=True)
class PairedComparison:
    """Two masks of the same images compared (exact McNemar test).

    Attributes
    ----------
    n : int
        Images compared.
    accuracy_a, accuracy_b : float
    only_a, only_b : int
        Images correct under A and not B, and the reverse (the discordant
        pairs the test reads).
    pvalue : float
        Two-sided exact McNemar p-value (binomial on the discordant pairs).
    """

    n: int
    accuracy_a: float
    accuracy_b: float
    only_a: int
    only_b: int
    pvalue: float

    @property
    def difference(self) -> float:
        """accuracy_a - accuracy_b."""
        return self.accuracy_a - self.accuracy_b

    def one_sided(self) -> float:
        """P-value of "A is not more accurate than B" (exact, one-sided)."""
        from scipy.stats import binomtest

        m = self.only_a + self.only_b
        if m == 0:
            return 1.0
        return float(binomtest(self.only_a, m, 0.5, alternative="greater").pvalue)

    def __str__(self) -> str:
        return (
            f"{self.accuracy_a:.1%} vs {self.accuracy_b:.1%} on {self.n} images "
            f"({self.only_a} vs {self.only_b} discordant, exact McNemar "
            f"p = {self.pvalue:.3g})"
        )


def compare_paired(correct_a: ArrayLike, correct_b: ArrayLike) -> PairedComparison:
    """Compare two per-image correctness masks of the same images.

    Parameters
    ----------
    correct_a, correct_b : array-like of bool, shape (n,)
        Per image, correct under A and under B (e.g. two models' ``worst``
        masks under one attack, or one model under two attacks).

    Returns
    -------
    comparison : PairedComparison

    Examples
    --------
    >>> import numpy as np
    >>> a = np.r_[np.ones(30, bool), np.zeros(70, bool)]
    >>> b = np.r_[np.ones(18, bool), np.zeros(82, bool)]
    >>> c = compare_paired(a, b)
    >>> c.only_a, c.only_b, round(c.pvalue, 5)
    (12, 0, 0.00049)
    """
    from statsmodels.stats.contingency_tables import mcnemar

    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"compare masks of the same images: shapes {a.shape} and {b.shape}"
        )
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    table = [[int((a & b).sum()), only_a], [only_b, int((~a & ~b).sum())]]
    pvalue = float(mcnemar(table, exact=True).pvalue) if only_a + only_b else 1.0
    return PairedComparison(
        len(a), float(a.mean()) if len(a) else float("nan"),
        float(b.mean()) if len(b) else float("nan"), only_a, only_b, pvalue,
    )  # fmt: skip


def adjust_pvalues(pvalues: Sequence[float], method: str = "holm") -> list[float]:
    """P-values corrected for testing several comparisons at once.

    Parameters
    ----------
    pvalues : sequence of float
        The p-values of the comparisons tested together.
    method : str, default="holm"
        statsmodels' ``multipletests`` method ("holm", "bonferroni", "fdr_bh"...).

    Returns
    -------
    adjusted : list of float
    """
    from statsmodels.stats.multitest import multipletests

    if not len(pvalues):
        return []
    return [float(p) for p in multipletests(list(pvalues), method=method)[1]]


@dataclass(frozen=True)
class TrainingsComparison:
    """Two models compared over several trainings, each on its own images.

    Attributes
    ----------
    trainings : tuple of PairedComparison
        Per training, the exact McNemar test on that training's images.
    pooled_pvalue : float
        Images as the unit: the exact binomial test on the discordant images
        summed over trainings (a stratified McNemar: under no difference each
        training's discordant pairs are binomial(1/2), so their sum is).
    ttest_pvalue : float
        Trainings as the unit: the paired t-test of the per-training
        differences against zero (what a claim about the *method* needs;
        nan with one training, or where every training differs by the same).
    """

    trainings: tuple[PairedComparison, ...]
    pooled_pvalue: float
    ttest_pvalue: float

    @property
    def differences(self) -> np.ndarray:
        """accuracy_a - accuracy_b per training."""
        return np.array([c.difference for c in self.trainings])

    def __str__(self) -> str:
        d = self.differences
        only_a = sum(c.only_a for c in self.trainings)
        only_b = sum(c.only_b for c in self.trainings)
        sd = f", sd {100 * d.std(ddof=1):.1f}" if len(d) > 1 else ""
        lines = [f"  training {i}: {c}" for i, c in enumerate(self.trainings)]
        lines += [
            f"  over {len(d)} trainings: A - B {100 * d.mean():+.1f} points{sd}",
            f"  images as the unit (stratified exact McNemar): {only_a} vs "
            f"{only_b} discordant, p = {self.pooled_pvalue:.3g}",
            f"  trainings as the unit (paired t-test, {len(d) - 1} df): "
            f"p = {self.ttest_pvalue:.3g}",
        ]
        return "\n".join(lines)


def compare_trainings(
    pairs: Sequence[tuple[ArrayLike, ArrayLike]],
) -> TrainingsComparison:
    """Compare two models over several trainings (one pair of masks each).

    Parameters
    ----------
    pairs : sequence of (correct_a, correct_b)
        Per training (e.g. per seed), the two models' per-image masks on that
        training's images.

    Returns
    -------
    comparison : TrainingsComparison

    Examples
    --------
    >>> import numpy as np
    >>> a = np.r_[np.ones(30, bool), np.zeros(70, bool)]
    >>> b = np.r_[np.ones(25, bool), np.zeros(75, bool)]
    >>> c = compare_trainings([(a, b), (a, b), (a, b)])
    >>> round(c.pooled_pvalue, 6)
    6.1e-05
    """
    from scipy.stats import binomtest, ttest_1samp

    trainings = tuple(compare_paired(a, b) for a, b in pairs)
    if not trainings:
        raise ValueError("compare at least one training")
    only_a = sum(c.only_a for c in trainings)
    m = only_a + sum(c.only_b for c in trainings)
    pooled = float(binomtest(only_a, m, 0.5).pvalue) if m else 1.0
    d = np.array([c.difference for c in trainings])
    # undefined with one training, or with no spread between trainings
    spread = len(d) > 1 and not np.all(d == d[0])
    ttest = float(ttest_1samp(d, 0.0).pvalue) if spread else float("nan")
    return TrainingsComparison(trainings, pooled, ttest)


__all__ = [
    "PairedComparison",
    "TrainingsComparison",
    "compare_trainings",
    "accuracy_interval",
    "adjust_pvalues",
    "compare_paired",
    "format_accuracy",
]
