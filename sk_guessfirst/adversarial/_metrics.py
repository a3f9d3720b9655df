"""Robust accuracy at a fixed budget, and minimal-perturbation robustness curves."""

from __future__ import annotations

import numbers
from collections import OrderedDict
from dataclasses import dataclass, field

import joblib
import numpy as np
from art.utils import to_categorical

from ._art import as_model_input, check_fitted_net, check_X_in_range, to_art
from ._attacks import attack_norm, check_attack, make_attack

MODES = ("white-box", "black-box")
_SUBSTITUTES: OrderedDict = OrderedDict()  # data hash -> fitted LeNet5Classifier
_MAX_SUBSTITUTES = 4


def fit_substitute(X, y, **params):
    """A LeNet-5 substitute fitted on (X, y), trained once per data and parameters.

    Later calls with the same data and parameters return the same fitted
    model, so a grid search or a report never retrains it.
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


def _source_model(estimator, mode, substitute):
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "white-box":
        return estimator
    if substitute is None:
        raise ValueError(
            "mode='black-box' needs a substitute: a fitted estimator, or the training "
            "data as substitute=(X_train, y_train) to fit a LeNet-5 substitute once"
        )
    if isinstance(substitute, tuple):
        substitute = fit_substitute(*substitute)
    check_fitted_net(substitute)
    if list(substitute.classes_) != list(estimator.classes_):
        raise ValueError(
            "the substitute was fitted on other classes than the estimator"
        )
    return substitute


def _check_eps(eps):
    if not isinstance(eps, numbers.Real) or not np.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    return float(eps)


def _generate(attacker, source, X, y_enc, clip_values):
    """Run an ART attack on X in the source model's layout; return flat, clipped."""
    X_adv = attacker.generate(as_model_input(source, X), y=y_enc)
    return np.clip(X_adv.reshape(X.shape).astype(np.float32), *clip_values)


def _perturbation_norms(X_adv, X, norm):
    delta = (X_adv - X).reshape(len(X), -1)
    return np.abs(delta).max(1) if np.isinf(norm) else np.linalg.norm(delta, axis=1)


def attack_examples(
    estimator,
    X,
    y,
    *,
    attack,
    eps,
    mode="white-box",
    substitute=None,
    clip_values=(0.0, 1.0),
    verbose=0,
    **attack_params,
):
    """Adversarial examples for X, crafted on the estimator or its substitute.

    Examples whose perturbation exceeds ``eps`` in the attack's norm (C&W
    finds minimal perturbations of any size) are returned unperturbed: the
    attack failed within budget. Every output lies in ``clip_values``.

    Returns
    -------
    X_adv : ndarray of shape (n_samples, n_features)
    """
    check_fitted_net(estimator)
    check_attack(attack)
    eps = _check_eps(eps)
    X = check_X_in_range(X, clip_values)
    y_enc = np.searchsorted(estimator.classes_, np.asarray(y))
    if eps == 0 or len(X) == 0:
        return X.copy()
    source = _source_model(estimator, mode, substitute)
    art = to_art(source, clip_values=clip_values)
    attacker = make_attack(attack, art, eps, verbose=bool(verbose), **attack_params)
    X_adv = _generate(attacker, source, X, y_enc, clip_values)
    too_far = (
        _perturbation_norms(X_adv, X, attack_norm(attack)) > eps * (1 + 1e-5) + 1e-6
    )
    X_adv[too_far] = X[too_far]
    return X_adv


def adversarial_accuracy(
    estimator,
    X,
    y,
    *,
    attack,
    eps,
    mode="white-box",
    substitute=None,
    clip_values=(0.0, 1.0),
    verbose=0,
    **attack_params,
):
    """Fixed-budget robust accuracy: correct on the clean input *and* under attack.

    Clean mistakes count as failures (RobustBench convention), so the value
    never exceeds clean accuracy, and equals it at ``eps=0``.

    Parameters
    ----------
    estimator : fitted sk_guessfirst estimator
    X, y : array-like
        Inputs in ``clip_values`` and their labels.
    attack : str or art.attacks.EvasionAttack
        A name from :data:`~sk_guessfirst.adversarial.ATTACKS` or an ART attack.
    eps : float
        Budget in the attack's norm, in the scale of ``clip_values``.
    mode : {"white-box", "black-box"}, default="white-box"
        Craft on the estimator itself, or on ``substitute`` and transfer.
    substitute : fitted estimator or (X_train, y_train), default=None
        Black-box only; a tuple fits a LeNet-5 substitute once and reuses it.
    **attack_params
        Override the attack's defaults (``max_iter``, ``num_random_init``...).

    Returns
    -------
    accuracy : float
    """
    X = check_X_in_range(X, clip_values)
    X_adv = attack_examples(
        estimator,
        X,
        y,
        attack=attack,
        eps=eps,
        mode=mode,
        substitute=substitute,
        clip_values=clip_values,
        verbose=verbose,
        **attack_params,
    )
    y = np.asarray(y)
    robust = (estimator.predict(X) == y) & (estimator.predict(X_adv) == y)
    return float(robust.mean()) if len(y) else float("nan")


@dataclass
class RobustnessCurve:
    """Accuracy against budget from per-example minimal perturbations (paper Fig. 3).

    Attributes
    ----------
    minimal_perturbation : ndarray of shape (n_samples,)
        Smallest perturbation found that changes the prediction: 0 where the
        clean prediction is already wrong, inf where the attack failed.
    norm : float
        np.inf or 2.
    label : str
    """

    minimal_perturbation: np.ndarray
    norm: float
    label: str = ""
    eps: np.ndarray = field(default=None)

    def __post_init__(self):
        if self.eps is None:
            finite = self.minimal_perturbation[np.isfinite(self.minimal_perturbation)]
            top = max(float(finite.max()) if len(finite) else 1.0, 1e-3)
            self.eps = np.linspace(0.0, top * 1.05, 101)

    def accuracy_at(self, eps):
        """Share of examples classified correctly with minimal perturbation > eps."""
        return (self.minimal_perturbation[None, :] > np.atleast_1d(eps)[:, None]).mean(
            1
        )

    @property
    def accuracy(self):
        return self.accuracy_at(self.eps)

    def plot(self, ax=None, **kwargs):
        """Draw accuracy against eps with matplotlib; returns the Axes."""
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.gca()
        ax.plot(self.eps, self.accuracy, label=self.label or None, **kwargs)
        ax.set_xlabel("L-inf budget eps" if np.isinf(self.norm) else "L2 budget eps")
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
        if self.label:
            ax.legend()
        return ax


def worst_case(*curves, label="worst case"):
    """Per-example minimum over curves of one norm: the strongest attack per image."""
    norms = {c.norm for c in curves}
    if len(norms) != 1:
        raise ValueError("worst_case combines curves of one norm only")
    minimal = np.min([c.minimal_perturbation for c in curves], axis=0)
    return RobustnessCurve(minimal, norms.pop(), label)


def robustness_curve(
    estimator,
    X,
    y,
    *,
    attack="pgd",
    eps_max=1.0,
    mode="white-box",
    substitute=None,
    clip_values=(0.0, 1.0),
    n_bisections=7,
    verbose=0,
    **attack_params,
):
    """Per-example minimal perturbations and the resulting accuracy-vs-eps curve.

    - "fgsm": line search over eps in steps of ``eps_max / 100`` up to
      ``eps_max`` (the paper searched up to 1);
    - "pgd" (and "pgd-l2"): bisection on each example's budget in
      [0, eps_max], ``n_bisections`` PGD runs (from the clean input: ART
      supports per-example budgets only without a random start; the run at
      ``eps_max`` that decides which examples break at all keeps it);
    - "cw": the L2 norms of C&W's minimal perturbations.

    In black-box mode the perturbations are crafted on the substitute and an
    example counts as broken only if the transferred example fools the estimator.

    Returns
    -------
    curve : RobustnessCurve
    """
    check_fitted_net(estimator)
    X = check_X_in_range(X, clip_values)
    y = np.asarray(y)
    eps_max = _check_eps(eps_max)
    source = _source_model(estimator, mode, substitute)
    y_enc = np.searchsorted(estimator.classes_, y)
    correct = estimator.predict(X) == y
    art = to_art(source, clip_values=clip_values)

    def fooled(X_adv, idx=slice(None)):
        return estimator.predict(X_adv.astype(np.float32)) != y[idx]

    name = check_attack(attack)
    minimal = np.full(len(X), np.inf)
    if name == "fgsm":
        # One gradient sign per example (on the source model), then a line
        # search along it: the smallest eps on the grid that fools the estimator.
        onehot = to_categorical(y_enc, len(estimator.classes_))
        grad = art.loss_gradient(as_model_input(source, X), onehot)
        direction = np.sign(grad.reshape(X.shape))
        for eps in np.linspace(0, eps_max, 101)[1:]:
            todo = np.flatnonzero(np.isinf(minimal))
            if not len(todo):
                break
            X_eps = np.clip(X[todo] + eps * direction[todo], *clip_values)
            minimal[todo[fooled(X_eps, todo)]] = eps
    elif name in ("pgd", "pgd-l2"):
        lo, hi = np.zeros(len(X)), np.full(len(X), eps_max)
        X_adv = attack_examples(
            estimator,
            X,
            y,
            attack=name,
            eps=eps_max,
            mode=mode,
            substitute=substitute,
            clip_values=clip_values,
            **attack_params,
        )
        broken = fooled(X_adv)
        for _ in range(n_bisections):
            mid = (lo + hi) / 2
            eps_arr = np.where(broken, mid, eps_max).astype(np.float32)
            eps_arr = eps_arr.reshape(-1, *[1] * len(source.input_shape_))
            attacker = make_attack(
                name,
                art,
                eps_arr,
                verbose=False,
                # ART cannot start at random with per-example budgets on
                # images, so the bisection starts at the clean input.
                **{
                    "eps_step": 2.5 * eps_arr / 40,
                    **attack_params,
                    "num_random_init": 0,
                },
            )
            X_mid = _generate(attacker, source, X, y_enc, clip_values)
            ok = fooled(X_mid) & broken
            hi = np.where(ok, mid, hi)
            lo = np.where(ok | ~broken, lo, mid)
        minimal = np.where(broken, hi, np.inf)
    elif name == "cw":
        attacker = make_attack(
            "cw", art, eps_max, verbose=bool(verbose), **attack_params
        )
        X_adv = _generate(attacker, source, X, y_enc, clip_values)
        norms = _perturbation_norms(X_adv, X, 2)
        minimal = np.where(fooled(X_adv) & (norms > 0), norms, np.inf)
    else:
        raise ValueError(
            f"robustness_curve supports 'fgsm', 'pgd', 'pgd-l2' and 'cw', "
            f"got {attack!r}"
        )
    minimal[~correct] = 0.0
    return RobustnessCurve(minimal, attack_norm(name), f"{name} ({mode})")
