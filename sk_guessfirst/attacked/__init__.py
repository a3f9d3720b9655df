"""What an attack is given: the attacked function of a fitted model.

A frozen snapshot of a fitted network (a Pipeline's scalers folded in), the
views an attacker may be handed (``VIEWS``), the losses it climbs
(``LOSSES``), the straight-through backward of non-differentiable operations
(BPDA), and ``TorchClassifier`` for any torch module. Plain torch and
scikit-learn: adversarial training (one layer up) and the evaluation (two up)
both build on it, and importing it loads no attack library.
"""

from ._bpda import StraightThrough
from ._function import (
    LOSSES,
    VIEWS,
    AttackedFunction,
    Loss,
    MarginLoss,
    View,
    attacked_function,
)
from ._torch_classifier import TorchClassifier

__all__ = [
    "LOSSES",
    "VIEWS",
    "AttackedFunction",
    "Loss",
    "MarginLoss",
    "StraightThrough",
    "TorchClassifier",
    "View",
    "attacked_function",
]
