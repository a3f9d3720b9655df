"""The substitute model of black-box (transfer) attacks."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import joblib
import numpy as np

from ..attacked._function import resolve_target
from ._attacks import check_mode

SUBSTITUTE_DEFAULTS = {"max_epochs": 10, "random_state": 0}


def fit_substitute(X: Any, y: Any, **params) -> Any:
    """A LeNet-5 substitute fitted on (X, y).

    Fit it once and pass the fitted model as ``substitute=`` to every
    black-box evaluation; ``substitute=(X, y)`` does the same for one call
    (and a :func:`make_adversarial_scorer` scorer or a
    :func:`robustness_report` fits it once for all of its attacks).

    Parameters
    ----------
    X, y : array-like
        Training data.
    **params
        Parameters of :class:`~sk_guessfirst.LeNet5Classifier` (default
        ``max_epochs=10``, ``random_state=0``).

    Returns
    -------
    substitute : LeNet5Classifier
        Fitted.
    """
    from ..estimators import LeNet5Classifier

    return LeNet5Classifier(**{**SUBSTITUTE_DEFAULTS, **params}).fit(X, y)


class SubstituteCache:
    """Fitted substitutes by their training data and parameters, held by
    whoever evaluates many times with one ``substitute=(X, y)`` (the
    adversarial scorer, the robustness report), so it is trained once.

    Parameters
    ----------
    size : int, default=4
        Substitutes kept; the least recently used is dropped beyond it.
    """

    def __init__(self, size: int = 4):
        self.size = size
        self._fitted: OrderedDict = OrderedDict()

    def resolve(self, substitute):
        """A fitted estimator as is; ``(X, y)`` fitted once per data."""
        if not isinstance(substitute, tuple):
            return substitute
        X, y = substitute
        key = joblib.hash((np.asarray(X), np.asarray(y)))
        if key not in self._fitted:
            self._fitted[key] = fit_substitute(X, y)
            while len(self._fitted) > self.size:
                self._fitted.popitem(last=False)
        self._fitted.move_to_end(key)
        return self._fitted[key]

    def __len__(self):
        return len(self._fitted)


def source_target(target, mode, substitute, spec=None):
    """What the attack differentiates: the target itself, or its substitute."""
    if not check_mode(mode, spec).uses_substitute:
        return target
    if substitute is None:
        raise ValueError(
            "mode='black-box' needs a substitute: a fitted estimator, or the training "
            "data as substitute=(X_train, y_train) to fit a LeNet-5 substitute"
        )
    if isinstance(substitute, tuple):
        substitute = fit_substitute(*substitute)
    source = resolve_target(substitute)
    if list(source.classes_) != list(target.classes_):
        raise ValueError(
            "the substitute was fitted on other classes than the estimator: "
            f"{list(source.classes_)} vs {list(target.classes_)}"
        )
    if source.input_shape != target.input_shape:
        raise ValueError(
            f"the substitute takes inputs of shape {source.input_shape}, the "
            f"estimator {target.input_shape}"
        )
    return source
