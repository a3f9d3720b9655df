"""sk_guessfirst: hypothesis-conditioned ("Guess First") classifiers for scikit-learn.

A network scores every (input, label hypothesis) pair; it is trained with
f-divergence variational objectives and an MMD information-elimination
regulariser, and evaluated against adversarial attacks through ART.

Names load on first use (PEP 562): ``import sk_guessfirst`` and the command
line's ``--help`` import no torch; ``from sk_guessfirst import CNNClassifier``
imports what the estimators need, and ``sk_guessfirst.adversarial`` the attack
libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time, __getattr__
    from . import adversarial, datasets, objectives, regularizers
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

# name -> the module that defines it (a submodule is its own)
_WHERE = {
    "AdversarialHypothesisClassifier": ".adversarial_training",
    "AdversarialTrainingClassifier": ".adversarial_training",
    "CNNClassifier": ".estimators",
    "HypothesisConditionedClassifier": ".estimators",
    "LeNet5Classifier": ".estimators",
    "ObjectiveLoss": ".estimators",
    "VIBClassifier": ".estimators",
    "OBJECTIVES": ".objectives",
    "adversarial": ".adversarial",
    "datasets": ".datasets",
    "objectives": ".objectives",
    "regularizers": ".regularizers",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(where, __name__)
    value = module if where == f".{name}" else getattr(module, name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


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
