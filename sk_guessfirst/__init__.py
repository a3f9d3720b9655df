"""sk_guessfirst: hypothesis-conditioned ("Guess First") classifiers for scikit-learn.

A network scores every (input, label hypothesis) pair; it is trained with
f-divergence variational objectives and an MMD information-elimination
regulariser, and evaluated against adversarial attacks through ART.
"""

import importlib

from . import datasets, objectives, regularizers
from ._version import __version__
from .adversarial_training import (
    AdversarialHypothesisClassifier,
    AdversarialTrainingClassifier,
)
from .estimators import (
    CNNClassifier,
    HypothesisConditionedClassifier,
    LeNet5Classifier,
    ObjectiveLoss,
    VIBClassifier,
)
from .objectives import OBJECTIVES


def __getattr__(name):
    # The adversarial part imports ART, Foolbox and AutoAttack (seconds):
    # loaded on first use, so that importing the estimators stays light.
    if name == "adversarial":
        return importlib.import_module(".adversarial", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AdversarialHypothesisClassifier",
    "AdversarialTrainingClassifier",
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
