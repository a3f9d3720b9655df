"""The p-values of docs/results.rst come from the package's comparison
functions on the cells carried in runs/ (read with the read-only run API):
each claim below is recomputed with ``compare_paired`` / ``compare_trainings``
and its counts and p-value must be what the page prints."""

from pathlib import Path

import pytest

from sk_guessfirst.adversarial import compare_paired, compare_trainings
from sk_guessfirst.reproduce import open_run

REPO = Path(__file__).resolve().parents[1]
RESULTS = (REPO / "docs/results.rst").read_text()
# the page's line breaks fall anywhere: compare with single spaces
PAGE = " ".join(RESULTS.split())
S25 = "certify-sigma0.25-n10000-n0100-alpha0.001"
S50 = "certify-sigma0.5-n10000-n0100-alpha0.001"

# (run folder, A, B, cell, certified radius, A-only images, B-only images,
#  the p-value as the page prints it)
PAIRED = [
    ("mnist-at", "C-DV-AT", "AT", "white-box-autoattack-0.3", None, 13, 7, "p = 0.26"),
    ("mnist-at", "C-JS-IE-AT", "AT", "white-box-autoattack-0.3", None, 16, 9,
     "p = 0.23"),
    ("mnist-certify", "C-DV+N0.5", "CNN+N0.5", S50, 1.5, 70, 30, "p < 0.001"),
    ("mnist-certify", "C-JS-IE+N0.5", "CNN+N0.5", S50, 1.5, 75, 26, "p < 0.001"),
    ("mnist-certify", "C-DV+N0.25", "CNN+N0.25", S25, 0.5, 8, 13, "p = 0.38"),
    ("mnist-certify", "C-JS-IE+N0.25", "CNN+N0.25", S25, 0.5, 7, 11, "0.48"),
    ("mnist-certify", "C-DV+N0.5", "CNN+N0.5", S50, 0.5, 8, 8, "p = 1.0"),
    ("fashion-certify", "C-DV+N0.25", "CNN+N0.25", S25, 0.75, 18, 33, "p = 0.049"),
    ("fashion-certify", "C-DV+N0.5", "CNN+N0.5", S50, 1.0, 28, 13, "p = 0.028"),
    ("fashion-certify", "C-DV+N0.5", "CNN+N0.5", S50, 1.5, 29, 21, "p = 0.32"),
    ("fashion-certify", "C-JS-IE+N0.5", "CNN+N0.5", S50, 1.5, 31, 24, "0.42"),
    # 2026-12-07: TRADES with beta 6, and the certification's second training
    ("mnist-at", "TRADES-6", "TRADES", "white-box-autoattack-0.3", None, 28, 45,
     "p = 0.060"),
    ("mnist-at", "C-DV-TRADES-6", "TRADES-6", "clean", None, 2, 5, "p = 0.45"),
    ("mnist-at", "C-DV-TRADES-6", "TRADES-6", "white-box-pgd-0.3", None, 8, 17,
     "p = 0.11"),
    ("mnist-certify-s1", "C-DV+N0.5", "CNN+N0.5", S50, 1.5, 66, 32, "p < 0.001"),
    ("mnist-certify-s1", "C-JS-IE+N0.5", "CNN+N0.5", S50, 1.5, 63, 30, "p < 0.001"),
    ("mnist-at", "AT", "TRADES-6", "white-box-autoattack-0.3", None, 153, 2,
     "p < 0.001"),
    ("mnist-at", "C-DV-TRADES-6", "TRADES-6", "white-box-autoattack-0.3", None, 83, 9,
     "p < 0.001"),
    ("mnist-at", "AT", "C-DV-TRADES-6", "white-box-autoattack-0.3", None, 80, 3,
     "p < 0.001"),
    ("mnist-certify-s2", "C-DV+N0.5", "CNN+N0.5", S50, 1.5, 53, 26, "p = 0.003"),
    ("mnist-certify-s2", "C-JS-IE+N0.5", "CNN+N0.5", S50, 1.5, 58, 28, "p = 0.002"),
    # the masking reports' worst case (200 images): C-DV-TRADES-6 against TRADES-6
    ("mnist-at", "C-DV-TRADES-6", "TRADES-6", "report-0.3", None, 24, 4, "p < 0.001"),
]  # fmt: skip

# Fashion-MNIST AT against C-DV-AT over three trainings (seeds 0, 1, 2):
# (cell, AT-only images, C-DV-AT-only images, pooled p as printed)
TRAININGS = [
    ("white-box-autoattack-0.15", 34, 62, "p = 0.006"),
    ("white-box-pgd-0.15", 48, 58, "p = 0.38"),
    ("clean", 49, 50, "p = 1.0"),
]


def _matches(p: float, printed: str) -> bool:
    """Whether the page's ``p = 0.26`` / ``p < 0.001`` / ``0.48`` is ``p``
    rounded to the digits printed."""
    token = printed.split()[-1]
    if "<" in printed:
        return p < float(token)
    digits = len(token.split(".")[1])
    return round(p, digits) == float(token)


@pytest.mark.parametrize("claim", PAIRED, ids=lambda c: f"{c[0]}-{c[1]}-{c[4]}")
def test_paired_p_values_on_the_page_are_the_packages(claim):
    folder, a, b, cell, radius, only_a, only_b, printed = claim
    run = open_run(REPO / "runs" / folder)
    c = compare_paired(
        run.mask(a, cell, radius=radius), run.mask(b, cell, radius=radius)
    )
    assert (c.only_a, c.only_b) == (only_a, only_b)
    assert _matches(c.pvalue, printed), c
    assert printed in PAGE


@pytest.mark.parametrize("claim", TRAININGS, ids=lambda c: c[0])
def test_the_comparison_over_trainings_on_the_page_is_the_packages(claim):
    cell, only_at, only_cdv, printed = claim
    runs = [open_run(REPO / "runs" / f) for f in
            ("fashion-at", "fashion-at-s1", "fashion-at-s2")]  # fmt: skip
    t = compare_trainings([(r.mask("AT", cell), r.mask("C-DV-AT", cell)) for r in runs])
    only_a = sum(c.only_a for c in t.trainings)
    only_b = sum(c.only_b for c in t.trainings)
    assert (only_a, only_b) == (only_at, only_cdv)
    assert _matches(t.pooled_pvalue, printed), t
    assert f"{only_a} against {only_b}" in PAGE and printed in PAGE


# The certification's three trainings (seeds 0, 1, 2) at r = 1.5, each hypothesis
# model against the CNN: (A, A-only images, CNN-only images, pooled p as printed,
# the paired t-test's p as printed, both t-test p after Holm as printed)
CERTIFIED = [
    ("C-DV+N0.5", 189, 88, "p < 1e-8", "0.012"),
    ("C-JS-IE+N0.5", 196, 84, "p < 1e-8", "0.024"),
]
CERTIFY_RUNS = ("mnist-certify", "mnist-certify-s1", "mnist-certify-s2")


def test_the_certification_over_three_trainings_on_the_page_is_the_packages():
    from sk_guessfirst.adversarial import adjust_pvalues

    runs = [open_run(REPO / "runs" / f) for f in CERTIFY_RUNS]
    ttests = []
    for a, only_a, only_cnn, pooled, ttest in CERTIFIED:
        t = compare_trainings([
            (r.mask(a, S50, radius=1.5), r.mask("CNN+N0.5", S50, radius=1.5))
            for r in runs
        ])  # fmt: skip
        assert sum(c.only_a for c in t.trainings) == only_a
        assert sum(c.only_b for c in t.trainings) == only_cnn
        assert f"{only_a} against {only_cnn}" in PAGE and pooled in PAGE
        assert _matches(t.pooled_pvalue, pooled) and _matches(t.ttest_pvalue, ttest)
        ttests.append(t.ttest_pvalue)
    holm = adjust_pvalues(ttests, method="holm")
    assert all(round(p, 3) == 0.024 for p in holm)
    assert "p = 0.012 and 0.024, both 0.024 after Holm" in PAGE
