"""A scikit-learn scorer for adversarial accuracy."""

from __future__ import annotations

from ._metrics import adversarial_accuracy


class AdversarialScorer:
    """Callable ``scorer(estimator, X, y)`` returning fixed-budget robust accuracy.

    A plain class (not a closure) so that it pickles for joblib and Dask
    workers. Build it with :func:`make_adversarial_scorer`.
    """

    def __init__(self, attack, eps, mode, substitute, attack_params):
        self.attack = attack
        self.eps = eps
        self.mode = mode
        self.substitute = substitute
        self.attack_params = attack_params

    def __call__(self, estimator, X, y):
        return adversarial_accuracy(
            estimator,
            X,
            y,
            attack=self.attack,
            eps=self.eps,
            mode=self.mode,
            substitute=self.substitute,
            **self.attack_params,
        )

    def __repr__(self):
        return (
            f"make_adversarial_scorer(attack={self.attack!r}, eps={self.eps}, "
            f"mode={self.mode!r})"
        )


def make_adversarial_scorer(
    *, attack, eps, mode="white-box", substitute=None, **attack_params
):
    """Make a scorer for ``GridSearchCV``/``cross_validate``: higher is more robust.

    Parameters are those of :func:`adversarial_accuracy`. Usable alone
    (``scoring=scorer``) or in a multi-metric dict beside clean accuracy.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sk_guessfirst import HypothesisConditionedClassifier
    >>> from sk_guessfirst.adversarial import make_adversarial_scorer
    >>> scorer = make_adversarial_scorer(attack="pgd", eps=0.1)
    >>> search = GridSearchCV(
    ...     HypothesisConditionedClassifier(),
    ...     {"ie_lambda": [0.0, 0.01], "sigma": ["median", 1.0]},
    ...     scoring={"clean": "accuracy", "pgd": scorer}, refit="pgd")
    """
    from ._attacks import check_attack
    from ._metrics import MODES, _check_eps

    check_attack(attack)
    _check_eps(eps)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return AdversarialScorer(attack, eps, mode, substitute, attack_params)
