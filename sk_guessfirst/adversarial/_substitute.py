"""The substitute model of black-box (transfer) attacks."""

from __future__ import annotations

from collections import OrderedDict

import joblib
import numpy as np

from ._attacks import check_mode
from ._model import resolve_target

_SUBSTITUTES: OrderedDict = OrderedDict()  # data hash -> fitted LeNet5Classifier
_MAX_SUBSTITUTES = 4


def fit_substitute(X, y, **params):
    """A LeNet-5 substitute fitted on (X, y), trained once per data and parameters.

    Later calls with the same data and parameters return the same fitted
    model, so a grid search or a report never retrains it.

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

    params = {"max_epochs": 10, "random_state": 0, **params}
    key = joblib.hash((np.asarray(X), np.asarray(y), sorted(params.items())))
    if key not in _SUBSTITUTES:
        _SUBSTITUTES[key] = LeNet5Classifier(**params).fit(X, y)
        while len(_SUBSTITUTES) > _MAX_SUBSTITUTES:
            _SUBSTITUTES.popitem(last=False)
    _SUBSTITUTES.move_to_end(key)
    return _SUBSTITUTES[key]


def source_target(target, mode, substitute, spec=None):
    """What the attack differentiates: the target itself, or its substitute."""
    check_mode(mode, spec)
    if mode == "white-box":
        return target
    if substitute is None:
        raise ValueError(
            "mode='black-box' needs a substitute: a fitted estimator, or the training "
            "data as substitute=(X_train, y_train) to fit a LeNet-5 substitute once"
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
