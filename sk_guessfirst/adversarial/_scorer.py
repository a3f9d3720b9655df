"""A scikit-learn scorer for adversarial accuracy."""

from __future__ import annotations

from typing import Any

from ..attacked._function import check_view
from ._attacks import check_attack, check_loss, check_mode
from ._evaluate import check_eps, evaluate_attack
from ._smoothing import Smoothing
from ._stats import accuracy_interval
from ._substitute import SubstituteCache


class AdversarialScorer:
    """Callable ``scorer(estimator, X, y)`` returning fixed-budget robust accuracy.

    A plain class (not a closure) so that it pickles for joblib and Dask
    workers. Build it with :func:`make_adversarial_scorer`, which checks the
    arguments. A ``substitute=(X_train, y_train)`` is fitted once per
    process (the scorer holds a :class:`SubstituteCache`) and reused for
    every candidate.

    Parameters
    ----------
    attack, eps, mode, substitute, loss, view : see :func:`evaluate_attack`
        The attack and how it is run.
    attack_params : dict
        Overrides of the attack's defaults, and ``random_state``.
    certify : Smoothing or None
        Score by certified accuracy at L2 radius ``eps`` of this smoothing
        instead of an attack.
    interval : bool
        Return ``{"robust": acc, "robust_low": low, "robust_high": high}``
        (the exact 95% interval over the fold's images) instead of the
        accuracy alone.
    """

    def __init__(
        self, attack, eps, mode, substitute, loss, view, attack_params,
        certify=None, interval=False,
    ):  # fmt: skip
        self.attack = attack
        self.eps = eps
        self.mode = mode
        self.substitute = substitute
        self.loss = loss
        self.view = view
        self.attack_params = attack_params
        self.certify = certify
        self.interval = interval
        self.substitutes = SubstituteCache()

    def __call__(self, estimator, X, y):
        accuracy, n = self._score(estimator, X, y)
        if not self.interval:
            return accuracy
        low, high = accuracy_interval(round(accuracy * n), n)
        return {"robust": accuracy, "robust_low": low, "robust_high": high}

    def _score(self, estimator, X, y):
        """The accuracy and the number of images it is over."""
        if self.certify is not None:
            seed = self.attack_params.get("random_state")
            cert = self.certify.certify(estimator, X, y, random_state=seed)
            return cert.accuracy_at(self.eps), len(cert.prediction)
        result = evaluate_attack(
            estimator,
            X,
            y,
            attack=self.attack,
            eps=self.eps,
            mode=self.mode,
            substitute=self.substitutes.resolve(self.substitute),
            loss=self.loss,
            view=self.view,
            **self.attack_params,
        )
        return result.accuracy, len(result.clean)

    def __repr__(self):
        if self.certify is not None:
            return f"make_adversarial_scorer(certify={self.certify!r}, eps={self.eps})"
        return (
            f"make_adversarial_scorer(attack={self.attack!r}, eps={self.eps}, "
            f"mode={self.mode!r}, loss={self.loss!r})"
        )


def make_adversarial_scorer(
    *,
    attack: str | None = None,
    eps: float,
    mode: str = "white-box",
    substitute: Any = None,
    loss: str = "worst",
    view: str = "scores",
    random_state: int | None = 0,
    certify: Smoothing | None = None,
    interval: bool = False,
    **attack_params: Any,
) -> AdversarialScorer:
    """Make a scorer for ``GridSearchCV``/``cross_validate``: higher is more robust.

    Parameters are those of :func:`evaluate_attack`, checked here (a typo in
    an attack parameter fails now, not as NaN scores inside a search). The
    score is the robust accuracy under the per-example worst case over the
    attack's losses unless ``loss`` names one. ``random_state`` (default 0)
    makes every candidate face the same random starts. Usable alone
    (``scoring=scorer``) or in a multi-metric dict beside clean accuracy.
    Pipelines of scalers ending in an sk_guessfirst estimator are scored with
    their scalers inside the attacked function.

    With ``certify=Smoothing(sigma, n=...)`` instead of an attack, the score
    is the certified accuracy of the smoothed candidate at L2 radius ``eps``
    (randomized smoothing, :func:`~sk_guessfirst.adversarial.certify`): a
    lower bound on robustness that gradient masking cannot inflate.

    Parameters
    ----------
    attack : str or None
        A registry name (:data:`ATTACKS`); None with ``certify``.
    eps : float
        Budget in the attack's norm (with ``certify``: the L2 radius).
    mode : {"white-box", "black-box"}, default="white-box"
        Craft on the candidate, or on ``substitute``.
    substitute : fitted estimator or (X_train, y_train), default=None
        Black-box only.
    loss : str, default="worst"
        The loss to run, or "worst" for the per-example worst case over the
        attack's losses.
    view : str, default="scores"
        What the attacker is handed.
    random_state : int, RandomState or None, default=0
        Seeds the attack's random starts (or the smoothing's noise).
    certify : Smoothing or None, default=None
        Score by certified accuracy under this randomized smoothing.
    interval : bool, default=False
        Score with the accuracy's exact 95% interval over each fold's images:
        the scorer returns ``{"robust", "robust_low", "robust_high"}``, so a
        search given ``scoring=scorer, refit="robust"`` has
        ``mean_test_robust_low`` and ``mean_test_robust_high`` in its
        ``cv_results_`` (an accuracy on a few hundred images moves by
        several points from noise alone).
    **attack_params
        Overrides of the attack's defaults.

    Returns
    -------
    scorer : AdversarialScorer
        ``scorer(estimator, X, y)`` -> robust accuracy (a dict with
        ``interval=True``).

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
    if certify is not None:
        if attack is not None or attack_params or substitute is not None:
            raise ValueError(
                "certify= scores by certified accuracy, not by an attack: drop "
                "attack=, substitute= and the attack's parameters"
            )
        if not isinstance(certify, Smoothing):
            raise TypeError(
                "certify must be a Smoothing(sigma, n=..., n0=..., alpha=...), got "
                f"{type(certify).__name__}"
            )
        check_eps(eps)
        return AdversarialScorer(
            None, eps, "certified", None, None, "scores",
            {"random_state": random_state}, certify=certify, interval=interval,
        )  # fmt: skip
    if attack is None:
        raise ValueError("name an attack (attack='pgd', ...), or pass certify=")
    spec = check_attack(attack)
    check_eps(eps)
    check_mode(mode, spec)
    check_loss(loss, spec)
    check_view(view)
    spec.parameters(eps, attack_params)  # unknown names raise here
    params = {**attack_params, "random_state": random_state}
    return AdversarialScorer(
        attack, eps, mode, substitute, loss, view, params, interval=interval
    )
