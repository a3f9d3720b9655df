"""Adversarial evaluation: ART, AutoAttack (reference code) and Foolbox 3.

White-box attacks differentiate the estimator itself (all K hypothesis scores
end to end); black-box attacks craft on a substitute and transfer. Budgets
(eps) are absolute in the scale of ``clip_values`` (default [0, 1]). Every
attack is described once in :data:`ATTACKS`.
"""

from ..attacked._function import LOSSES, VIEWS, MarginLoss, attacked_function
from ..attacked._torch_classifier import TorchClassifier
from . import _artconfig  # noqa: F401  (first: ART's config before ART's import)
from ._art import to_art
from ._attacks import ATTACKS, MODES, AttackSpec
from ._binarization import BinarizationResult, binarization_test
from ._curves import RobustnessCurve, robustness_curve, worst_case
from ._evaluate import (
    AttackResult,
    adversarial_accuracy,
    attack_examples,
    evaluate_attack,
)
from ._exported import UnsafeModelFile, load_exported
from ._report import (
    CHECKS,
    REMEDIES,
    RobustnessReport,
    input_gradient_stats,
    robustness_report,
)
from ._scorer import AdversarialScorer, make_adversarial_scorer
from ._smoothing import Certificate, Smoothing, certify
from ._stats import (
    PairedComparison,
    TrainingsComparison,
    accuracy_interval,
    adjust_pvalues,
    compare_paired,
    compare_trainings,
    format_accuracy,
)
from ._substitute import SubstituteCache, fit_substitute

__all__ = [
    "ATTACKS",
    "BinarizationResult",
    "CHECKS",
    "PairedComparison",
    "TrainingsComparison",
    "REMEDIES",
    "accuracy_interval",
    "adjust_pvalues",
    "binarization_test",
    "compare_paired",
    "compare_trainings",
    "format_accuracy",
    "AdversarialScorer",
    "AttackResult",
    "AttackSpec",
    "Certificate",
    "LOSSES",
    "MODES",
    "MarginLoss",
    "RobustnessCurve",
    "RobustnessReport",
    "Smoothing",
    "SubstituteCache",
    "TorchClassifier",
    "UnsafeModelFile",
    "VIEWS",
    "adversarial_accuracy",
    "attack_examples",
    "attacked_function",
    "certify",
    "evaluate_attack",
    "fit_substitute",
    "input_gradient_stats",
    "load_exported",
    "make_adversarial_scorer",
    "robustness_curve",
    "robustness_report",
    "to_art",
    "worst_case",
]
