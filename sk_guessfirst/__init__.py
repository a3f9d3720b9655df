"""sk_guessfirst: hypothesis-conditioned ("Guess First") classifiers for scikit-learn.

A network scores every (input, label hypothesis) pair; it is trained with
f-divergence variational objectives and an MMD information-elimination
regulariser, and evaluated against adversarial attacks through ART.
"""

from . import adversarial, datasets, objectives, regularizers
from .estimators import (
    CNNClassifier,
    HypothesisConditionedClassifier,
    LeNet5Classifier,
    ObjectiveLoss,
    VIBClassifier,
)
from .objectives import OBJECTIVES

__version__ = "0.1.0"

__all__ = [
    "CNNClassifier",
    "HypothesisConditionedClassifier",
    "LeNet5Classifier",
    "OBJECTIVES",
    "ObjectiveLoss",
    "VIBClassifier",
    "__version__",
    "adversarial",
    "datasets",
    "objectives",
    "regularizers",
]
