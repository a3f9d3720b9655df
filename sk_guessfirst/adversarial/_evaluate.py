"""Robust accuracy at a fixed budget, per example, per loss, and their worst case."""

from __future__ import annotations

import numbers
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from art.attacks import EvasionAttack
from sklearn.utils import check_random_state

from ._art import art_attack, craft_art
from ._attacks import check_attack, check_loss, check_mode
from ._autoattack import craft_autoattack
from ._foolbox import minimal_perturbations
from ._model import check_clip_values, check_view, check_Xy, resolve_target
from ._substitute import source_target


@dataclass
class AttackResult:
    """One attack at one budget: which examples survive it, per loss.

    Attributes
    ----------
    attack, eps, mode : the attack's name, budget and mode.
    clean : ndarray of bool, shape (n,)
        Examples the model classifies correctly without attack.
    robust : dict of str to ndarray of bool
        Per loss the attack ran with, the examples still classified
        correctly under attack (clean mistakes count as failures).
    params : dict
        Every parameter the attack ran with (defaults and overrides).
    flags : list of str
        Warnings the attack's own checks raised (AutoAttack's).
    details : dict
        Per-attack extras: AutoAttack's robust accuracy after each of its
        attacks, a minimal-perturbation attack's per-example sizes.
    seconds : float
    """

    attack: str
    eps: float
    mode: str
    clean: np.ndarray
    robust: dict
    params: dict = field(default_factory=dict)
    flags: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def worst(self):
        """Per-example worst case over the losses: robust to every one of them."""
        out = self.clean.copy()
        for mask in self.robust.values():
            out &= mask
        return out

    @property
    def accuracy(self):
        """Robust accuracy under the per-example worst case over losses."""
        return float(self.worst.mean()) if len(self.clean) else float("nan")

    def accuracy_by_loss(self):
        return {loss: float(mask.mean()) for loss, mask in self.robust.items()}


def check_eps(eps, name="eps"):
    if (
        not isinstance(eps, numbers.Real)
        or isinstance(eps, bool)
        or not np.isfinite(eps)
        or eps < 0
    ):
        raise ValueError(f"{name} must be a finite number >= 0, got {eps!r}")
    return float(eps)


def _instance_eps(attack, eps):
    """The budget of an ART attack instance, refusing a different ``eps``."""
    own = getattr(attack, "eps", None)
    own = None if own is None or np.ndim(own) else float(own)
    if eps is None:
        if own is None:
            raise ValueError(
                f"{type(attack).__name__} has no scalar eps: pass eps explicitly"
            )
        return own
    eps = check_eps(eps)
    if own is not None and not np.isclose(own, eps):
        raise ValueError(
            f"the ART attack instance has eps={own}, but eps={eps} was asked for: "
            "build the attack at the budget you evaluate (or leave eps=None)"
        )
    return eps


def _norms(delta, norm):
    flat = delta.reshape(len(delta), -1)
    return np.abs(flat).max(1) if np.isinf(norm) else np.linalg.norm(flat, axis=1)


def _within_budget(X_adv, X, norm, eps, clip_values):
    """Clip to the valid range; examples outside the eps ball revert to X."""
    X_adv = np.clip(X_adv, *clip_values).astype(np.float32)
    too_far = _norms(X_adv - X, norm) > eps * (1 + 1e-5) + 1e-6
    X_adv[too_far] = X[too_far]
    return X_adv


@contextmanager
def _seeded(random_state):
    """Seed numpy's and torch's global RNGs (which ART and Foolbox draw from)
    inside forks of them, so that an attack is reproducible."""
    seed = int(check_random_state(random_state).randint(2**31 - 1))
    np_state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        np.random.seed(seed)
        torch.manual_seed(seed)
        try:
            yield seed
        finally:
            np.random.set_state(np_state)


def _run(spec, target, source, X, y, y_enc, eps, loss, params, opts):
    """Adversarial examples (or minimal perturbations) of one attack with one loss."""
    if spec.library == "art":
        attack = art_attack(spec, source, eps, loss=loss, params=params, **opts)
        return craft_art(attack, source, X, y_enc), {}
    if spec.library == "autoattack":
        opts = {k: v for k, v in opts.items() if k != "verbose"}
        run = craft_autoattack(spec, source, X, y_enc, eps, params=params, **opts)
        return run.X_adv, {"flags": run.flags, "accuracy_after": run.accuracy_after}
    opts = {k: v for k, v in opts.items() if k != "verbose"}
    minimal = minimal_perturbations(
        spec, source, target, X, y, y_enc, params=params, **opts
    )
    return None, {"minimal_perturbation": minimal}


def evaluate_attack(
    estimator,
    X,
    y,
    *,
    attack,
    eps,
    mode="white-box",
    substitute=None,
    loss="worst",
    clip_values=(0.0, 1.0),
    view="scores",
    eot_samples=0,
    batch_size=250,
    random_state=None,
    verbose=0,
    **attack_params,
):
    """Run one attack at budget ``eps`` and record, per example, who survives it.

    Parameters
    ----------
    estimator : fitted sk_guessfirst estimator, or a Pipeline of scalers ending in one
    X, y : array-like
        Inputs in ``clip_values`` (any layout the estimator accepts) and labels.
    attack : str or art.attacks.EvasionAttack
        A name from :data:`~sk_guessfirst.adversarial.ATTACKS`, or an ART
        attack instance (run as it is; its eps must equal ``eps``).
    eps : float or None
        Budget in the attack's norm, in the scale of ``clip_values``; None
        takes it from an ART attack instance.
    mode : {"white-box", "black-box"}, default="white-box"
        Craft on the estimator itself, or on ``substitute`` and transfer.
    substitute : fitted estimator or (X_train, y_train), default=None
        Black-box only; a tuple fits a LeNet-5 substitute once and reuses it.
    loss : str, default="worst"
        For attacks with a choice of loss (FGSM, PGD, PGD-L2: "ce" or
        "margin"), the one to run; "worst" runs each and reports the
        per-example worst case over them.
    clip_values : tuple, default=(0.0, 1.0)
    view : str, default="scores"
        What the attacker is handed (:data:`~sk_guessfirst.adversarial.VIEWS`).
    eot_samples : int, default=0
        VIB only: attack the expectation over this many draws of z (a
        randomised function) instead of the mean encoder.
    batch_size : int, default=250
    random_state : int, RandomState or None, default=None
        Seeds the attack's random starts (numpy's and torch's RNGs, in
        forks that leave the global state alone); the same seed gives the
        same result.
    **attack_params
        Override the attack's defaults (``max_iter``, ``num_random_init``...);
        unknown names raise.

    Returns
    -------
    result : AttackResult
    """
    start = time.perf_counter()
    target = resolve_target(estimator)
    clip_values = check_clip_values(clip_values)
    X, y, y_enc = check_Xy(target, X, y, clip_values)
    check_view(view)
    if isinstance(attack, EvasionAttack):
        eps = _instance_eps(attack, eps)
        check_mode(mode)
        if attack_params or loss != "worst":
            raise ValueError(
                "an ART attack instance runs as it was built: pass no attack "
                "parameters or loss with it"
            )
        name, norm = type(attack).__name__, float(getattr(attack, "norm", np.inf))
        losses, params, spec = ("instance",), {}, None
    else:
        spec = check_attack(attack)
        eps = check_eps(eps)
        check_mode(mode, spec)
        losses = check_loss(loss, spec)
        params = spec.parameters(eps, attack_params)
        name, norm = spec.name, spec.norm
    source = source_target(target, mode, substitute, spec)
    clean = target.predict(X) == y
    result = AttackResult(name, eps, mode, clean, {}, params=params)
    opts = dict(clip_values=clip_values, view=view, eot_samples=eot_samples,
                batch_size=batch_size, verbose=verbose)
    seeded = nullcontext() if random_state is None else _seeded(random_state)
    with seeded as seed:
        if seed is not None and spec is not None and "seed" in params:
            if "seed" not in attack_params:
                params["seed"] = seed
        for each in losses:
            if not len(X) or (eps == 0 and not (spec and spec.minimal)):
                result.robust[each] = clean.copy()
                continue
            if spec is None:
                X_adv, extra = craft_art(attack, source, X, y_enc), {}
            else:
                X_adv, extra = _run(spec, target, source, X, y, y_enc, eps, each,
                                    params, opts)
            result.flags += extra.pop("flags", [])
            result.details.update(extra)
            if X_adv is None:  # a minimal-perturbation attack
                survives = extra["minimal_perturbation"] > eps
            else:
                X_adv = _within_budget(X_adv, X, norm, eps, clip_values)
                survives = target.predict(X_adv) == y
            result.robust[each] = clean & survives
    result.seconds = time.perf_counter() - start
    return result


def adversarial_accuracy(estimator, X, y, *, attack, eps, **kwargs):
    """Fixed-budget robust accuracy: correct on the clean input *and* under attack.

    The per-example worst case over the attack's losses (cross-entropy and
    margin for FGSM and PGD) unless ``loss`` names one. Clean mistakes count
    as failures (RobustBench convention), so the value never exceeds clean
    accuracy, and equals it at ``eps=0``. Takes the parameters of
    :func:`evaluate_attack`.

    Returns
    -------
    accuracy : float

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_guessfirst import CNNClassifier
    >>> from sk_guessfirst.adversarial import adversarial_accuracy
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = CNNClassifier(max_epochs=5, random_state=0).fit(X / 16, y)
    >>> adversarial_accuracy(clf, X[:50] / 16, y[:50], attack="pgd", eps=0.0)
    ...  # doctest: +SKIP
    """
    return evaluate_attack(estimator, X, y, attack=attack, eps=eps, **kwargs).accuracy


def attack_examples(
    estimator,
    X,
    y,
    *,
    attack,
    eps,
    mode="white-box",
    substitute=None,
    loss=None,
    clip_values=(0.0, 1.0),
    view="scores",
    batch_size=250,
    verbose=0,
    **attack_params,
):
    """Adversarial examples for X, crafted on the estimator or its substitute.

    For the fixed-budget attacks (ART's, AutoAttack's) with one ``loss``
    (default: the attack's first, e.g. "ce").
    Examples whose perturbation exceeds ``eps`` in the attack's norm are
    returned unperturbed (the attack failed within budget); every output lies
    in ``clip_values``.

    Returns
    -------
    X_adv : ndarray of shape (n_samples, n_features)
    """
    target = resolve_target(estimator)
    clip_values = check_clip_values(clip_values)
    X, y, y_enc = check_Xy(target, X, y, clip_values)
    if isinstance(attack, EvasionAttack):
        eps = _instance_eps(attack, eps)
        source = source_target(target, mode, substitute)
        X_adv = craft_art(attack, source, X, y_enc)
        norm = float(getattr(attack, "norm", np.inf))
    else:
        spec = check_attack(attack)
        eps = check_eps(eps)
        if spec.minimal:
            raise ValueError(
                f"{spec.name!r} finds minimal perturbations: use robustness_curve "
                "(or evaluate_attack) for it"
            )
        if loss == "worst":
            raise ValueError("attack_examples runs one loss; name it (e.g. 'ce')")
        (loss,) = check_loss(spec.losses[0] if loss is None else loss, spec)
        source = source_target(target, mode, substitute, spec)
        params = spec.parameters(eps, attack_params)
        opts = dict(clip_values=clip_values, view=view, eot_samples=0,
                    batch_size=batch_size, verbose=verbose)
        if eps == 0 or not len(X):
            return X.copy()
        X_adv, _ = _run(spec, target, source, X, y, y_enc, eps, loss, params, opts)
        norm = spec.norm
    return _within_budget(X_adv, X, norm, eps, clip_values)

