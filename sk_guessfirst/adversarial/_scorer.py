"""A scikit-learn scorer for adversarial accuracy."""

from __future__ import annotations

from ._attacks import check_attack, check_loss, check_mode
from ._evaluate import check_eps, evaluate_attack
from ._model import check_view


class AdversarialScorer:
    """Callable ``scorer(estimator, X, y)`` returning fixed-budget robust accuracy.

    A plain class (not a closure) so that it pickles for joblib and Dask
    workers. Build it with :func:`make_adversarial_scorer`.
    """

    def __init__(self, attack, eps, mode, substitute, loss, view, attack_params):
        self.attack = attack
        self.eps = eps
        self.mode = mode
        self.substitute = substitute
        self.loss = loss
        self.view = view
        self.attack_params = attack_params

    def __call__(self, estimator, X, y):
        return evaluate_attack(
            estimator,
            X,
            y,
            attack=self.attack,
            eps=self.eps,
            mode=self.mode,
            substitute=self.substitute,
            loss=self.loss,
            view=self.view,
            **self.attack_params,
        ).accuracy

    def __repr__(self):
        return (
            f"make_adversarial_scorer(attack={self.attack!r}, eps={self.eps}, "
            f"mode={self.mode!r}, loss={self.loss!r})"
        )


def make_adversarial_scorer(
    *,
    attack,
    eps,
    mode="white-box",
    substitute=None,
    loss="worst",
    view="scores",
    random_state=0,
    **attack_params,
):
    """Make a scorer for ``GridSearchCV``/``cross_validate``: higher is more robust.

    Parameters are those of :func:`evaluate_attack`, checked here (a typo in
    an attack parameter fails now, not as NaN scores inside a search). The
    score is the robust accuracy under the per-example worst case over the
    attack's losses unless ``loss`` names one. ``random_state`` (default 0)
    makes every candidate face the same random starts. Usable alone
    (``scoring=scorer``) or in a multi-metric dict beside clean accuracy.
    Pipelines of scalers ending in an sk_guessfirst estimator are scored with
    their scalers inside the attacked function.

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
    spec = check_attack(attack)
    check_eps(eps)
    check_mode(mode, spec)
    check_loss(loss, spec)
    check_view(view)
    spec.parameters(eps, attack_params)  # unknown names raise here
    params = {**attack_params, "random_state": random_state}
    return AdversarialScorer(attack, eps, mode, substitute, loss, view, params)
