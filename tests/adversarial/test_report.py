"""The robustness report (adversarial/_report.py) on real models."""

import numpy as np
import pytest
from budgets import LIGHT_REPORT

from sk_guessfirst.adversarial import (
    AttackResult,
    RobustnessReport,
    robustness_report,
)


@pytest.mark.slow
def test_report_on_an_undefended_cnn(cnn, digits):
    X, y, Xt, yt = digits
    report = robustness_report(
        cnn, Xt[:50], yt[:50], eps=0.1, substitute=(X, y), attack_params=LIGHT_REPORT
    )
    passed = {c.name: c.passed for c in report.checks}
    for name in (
        "single-step vs iterative",
        "growing eps",
        "input gradients",
        "transfer vs white-box",
    ):
        assert passed[name], str(report)
    assert report.worst_case <= min(report.accuracies.values())
    assert all(r.eps == 0.1 for r in report.results.values())
    assert "n_queries" in str(report) and "max_iter" in str(report)


def test_report_worst_case_is_per_example_over_attacks_at_its_eps():
    T, F = True, False
    clean = np.array([T, T, T, T])

    def result(mask, eps=0.1):
        return AttackResult("pgd", eps, "white-box", clean, {"ce": np.array(mask)})

    report = RobustnessReport(eps=0.1)
    report.results = {"FGSM": result([T, F, T, T]), "PGD": result([T, T, F, T])}
    # 2 of 4 survive both, though each attack alone leaves 3 of 4
    assert report.worst_case == 0.5
    assert report.accuracies == {"FGSM": 0.75, "PGD": 0.75}


@pytest.mark.slow
def test_report_flags_masked_gradients(saturated, digits):
    _, _, Xt, yt = digits
    # the flags alone (what the remedies do about them: test_zoo.py)
    report = robustness_report(
        saturated, Xt[:40], yt[:40], eps=0.1, attack_params=LIGHT_REPORT,
        adaptive=False,
    )  # fmt: skip
    assert report.adaptive == []
    flagged = {c.name for c in report.flags}
    assert "input gradients" in flagged
    assert "cross-entropy vs margin loss" in flagged
    # no substitute given: the transfer check is listed as not run, and why
    assert "transfer vs white-box" not in {c.name for c in report.checks}
    why = report.not_run["transfer vs white-box"]
    assert f"[n/a] transfer vs white-box: {why}" in str(report)
    assert "substitute" in why
