"""Adversarial evaluation on IBM's Adversarial Robustness Toolbox (ART).

White-box attacks differentiate the estimator itself (all K hypothesis scores
end to end); black-box attacks craft on a substitute and transfer. Budgets
(eps) are absolute in the scale of ``clip_values`` (default [0, 1]).
"""

from ._art import as_model_input, to_art
from ._attacks import ATTACKS, make_attack
from ._metrics import (
    RobustnessCurve,
    adversarial_accuracy,
    attack_examples,
    fit_substitute,
    robustness_curve,
    worst_case,
)
from ._report import RobustnessReport, input_gradient_stats, robustness_report
from ._scorer import AdversarialScorer, make_adversarial_scorer

__all__ = [
    "ATTACKS",
    "AdversarialScorer",
    "RobustnessCurve",
    "RobustnessReport",
    "adversarial_accuracy",
    "as_model_input",
    "attack_examples",
    "fit_substitute",
    "input_gradient_stats",
    "make_adversarial_scorer",
    "make_attack",
    "robustness_curve",
    "robustness_report",
    "to_art",
    "worst_case",
]
