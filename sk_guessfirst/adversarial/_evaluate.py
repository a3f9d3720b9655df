"""Robust accuracy at a fixed budget, per example, per loss, and their worst case."""

from __future__ import annotations

import numbers
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from art.attacks import EvasionAttack
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state

from .._devices import forked_rng
from .._plaindata import check_mask, plain_type
from ..attacked._function import (
    Target,
    check_clip_values,
    check_view,
    check_Xy,
    is_stochastic,
    norms,
    resolve_target,
)
from ._art import generate
from ._attacks import WORST, AttackSpec, check_attack, check_loss, check_mode
from ._backends import Outcome
from ._substitute import source_target

EOT_SAMPLES = 20  # AutoAttack's rand version: 20 EOT iterations
VOTES = 20  # passes whose majority decides a randomised model's survival


@plain_type
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

    def check_plain(self) -> None:
        """Masks of one length, boolean (a stored result is refused otherwise)."""
        n = check_mask(self.clean, "clean")
        if not isinstance(self.robust, dict):
            raise TypeError("robust is not a dict of masks")
        for loss, mask in self.robust.items():
            check_mask(mask, f"robust[{loss!r}]", n)

    @property
    def n_examples(self) -> int:
        return len(self.clean)

    @property
    def worst(self) -> np.ndarray:
        """Per-example worst case over the losses: robust to every one of them."""
        out = self.clean.copy()
        for mask in self.robust.values():
            out &= mask
        return out

    @property
    def accuracy(self) -> float:
        """Robust accuracy under the per-example worst case over losses."""
        return float(self.worst.mean()) if len(self.clean) else float("nan")

    def accuracy_by_loss(self) -> dict[str, float]:
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


def _within_budget(X_adv, X, norm, eps, clip_values):
    """Clip to the valid range; examples outside the eps ball revert to X."""
    X_adv = np.clip(X_adv, *clip_values).astype(np.float32)
    too_far = norms(X_adv - X, norm) > eps * (1 + 1e-5) + 1e-6
    X_adv[too_far] = X[too_far]
    return X_adv


@contextmanager
def _seeded(random_state):
    """Seed numpy's and torch's global RNGs (which ART and Foolbox draw from)
    inside forks of them (torch's on the CPU and every CUDA device, the
    estimators' fork), so that an attack is reproducible and the user's
    generators are left as they were."""
    seed = int(check_random_state(random_state).randint(2**31 - 1))
    np_state = np.random.get_state()
    with forked_rng(seed):
        np.random.seed(seed)
        try:
            yield seed
        finally:
            np.random.set_state(np_state)


@dataclass
class _Prepared:
    """An evaluation's checked inputs: what every attack run reads."""

    target: Target
    source: Target  # the target itself, or the black-box substitute
    X: np.ndarray
    y: np.ndarray
    y_enc: np.ndarray
    spec: AttackSpec | None  # None: an ART attack instance
    eps: float
    losses: tuple
    params: dict
    opts: dict
    flags: list  # what the preparation found (a randomised model)
    votes: int = 1  # passes whose majority decides survival (randomised: 20)

    def correct(self, X) -> np.ndarray:
        """Per example, whether the model classifies X correctly (by the
        majority over passes for a randomised model, never one pass)."""
        return self.target.predict(X, votes=self.votes) == self.y


def _run(p: _Prepared, loss: str) -> Outcome:
    """The prepared attack with one loss, run by its backend."""
    assert p.spec is not None  # an ART instance is run by its generate()
    return p.spec.backend.run(
        p.spec, p.target, p.source, p.X, p.y, p.y_enc, p.eps, loss, p.params, p.opts
    )


def _prepare(
    estimator,
    X,
    y,
    *,
    attack,
    eps,
    mode,
    substitute,
    loss,
    clip_values,
    view,
    eot_samples,
    batch_size,
    verbose,
    attack_params,
):
    """Every check an evaluation needs, before any attack runs."""
    target = resolve_target(estimator, np.shape(X)[1:])
    clip_values = check_clip_values(clip_values)
    X, y, y_enc = check_Xy(target, X, y, clip_values)
    check_view(view)
    if isinstance(attack, EvasionAttack):
        eps = _instance_eps(attack, eps)
        check_mode(mode)
        if attack_params or loss not in (WORST, None):
            raise ValueError(
                "an ART attack instance runs as it was built: pass no attack "
                "parameters or loss with it"
            )
        spec, losses, params = None, ("instance",), {}
    else:
        spec = check_attack(attack)
        eps = check_eps(eps)
        check_mode(mode, spec)
        losses = check_loss(loss, spec)
        params = spec.parameters(eps, attack_params)
    source = source_target(target, mode, substitute, spec)
    flags = []
    votes = 1
    if is_stochastic(target):
        votes = VOTES
        if not eot_samples:
            # AutoAttack's "rand" version: expectation over transformation
            eot_samples = EOT_SAMPLES
        flags.append(
            f"randomised model (its outputs differ between two passes on the same "
            f"inputs): attacked through the expectation over {eot_samples} passes "
            f"(EOT), as AutoAttack's rand version does, and each example judged by "
            f"the majority of {VOTES} passes, clean and attacked"
        )
    opts = dict(
        clip_values=clip_values,
        view=view,
        eot_samples=eot_samples,
        batch_size=batch_size,
        verbose=verbose,
    )
    return _Prepared(
        target, source, X, y, y_enc, spec, eps, losses, params, opts, flags, votes
    )


def evaluate_attack(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    attack: str,
    eps: float,
    mode: str = "white-box",
    substitute: Any = None,
    loss: str = "worst",
    clip_values: tuple[float, float] = (0.0, 1.0),
    view: str = "scores",
    eot_samples: int = 0,
    batch_size: int = 250,
    random_state: int | None = None,
    verbose: int = 0,
    **attack_params,
) -> AttackResult:
    """Run one attack at budget ``eps`` and record, per example, who survives it.

    Parameters
    ----------
    estimator : fitted classifier, or Pipeline of scalers ending in one
        The model attacked: an sk_guessfirst estimator, a fitted skorch net,
        or a :class:`TorchClassifier` wrapping any torch module.
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
        Valid input range; eps is in its scale.
    view : str, default="scores"
        What the attacker is handed (:data:`~sk_guessfirst.adversarial.VIEWS`).
    eot_samples : int, default=0
        Attack the expectation over this many passes (VIB: draws of z
        instead of the mean encoder). A model whose outputs differ between
        two passes on the same inputs (dropout left on, noise) is detected
        and attacked with 20 (AutoAttack's rand version), flagged in the
        result.
    batch_size : int, default=250
        Images per attack batch.
    random_state : int, RandomState or None, default=None
        Seeds the attack's random starts (numpy's and torch's RNGs, in
        forks that leave the global state alone); the same seed gives the
        same result.
    verbose : int, default=0
        Progress bars of the attack library, where it has them.
    **attack_params
        Override the attack's defaults (``max_iter``, ``num_random_init``...);
        unknown names raise.

    Returns
    -------
    result : AttackResult
        Per example and loss, who survives; the parameters run; any flags.
    """
    start = time.perf_counter()
    p = _prepare(
        estimator,
        X,
        y,
        attack=attack,
        eps=eps,
        mode=mode,
        substitute=substitute,
        loss=loss,
        clip_values=clip_values,
        view=view,
        eot_samples=eot_samples,
        batch_size=batch_size,
        verbose=verbose,
        attack_params=attack_params,
    )
    spec, X, y = p.spec, p.X, p.y
    name = type(attack).__name__ if spec is None else spec.name
    norm = float(getattr(attack, "norm", np.inf)) if spec is None else spec.norm
    clean = p.correct(X)
    result = AttackResult(name, p.eps, mode, clean, {}, params=p.params)
    result.flags += p.flags
    if p.opts["eot_samples"]:
        result.details["eot_samples"] = p.opts["eot_samples"]
    seeded = nullcontext() if random_state is None else _seeded(random_state)
    with seeded as seed:
        if seed is not None and "seed" in p.params and "seed" not in attack_params:
            p.params["seed"] = seed
        for each in p.losses:
            if not len(p.X) or (p.eps == 0 and not (spec and spec.minimal)):
                result.robust[each] = clean.copy()
                continue
            if spec is None:
                out = Outcome(generate(attack, p.source, X, p.y_enc))
            else:
                out = _run(p, each)
            result.flags += out.flags
            result.details.update(out.details)
            if out.X_adv is None:  # white-box minimal perturbations
                result.details["minimal_perturbation"] = out.minimal
                survives = out.minimal > p.eps
            else:
                X_adv = _within_budget(out.X_adv, X, norm, p.eps, p.opts["clip_values"])
                survives = p.correct(X_adv)
            result.robust[each] = clean & survives
    result.seconds = time.perf_counter() - start
    return result


def adversarial_accuracy(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    attack: str,
    eps: float,
    **kwargs,
) -> float:
    """Fixed-budget robust accuracy: correct on the clean input *and* under attack.

    The per-example worst case over the attack's losses (cross-entropy and
    margin for FGSM and PGD) unless ``loss`` names one. Clean mistakes count
    as failures (RobustBench convention), so the value never exceeds clean
    accuracy, and equals it at ``eps=0``.

    Parameters
    ----------
    estimator : fitted classifier, or Pipeline of scalers ending in one
        The model attacked.
    X, y : array-like
        Inputs in the valid range, and labels.
    attack : str or art.attacks.EvasionAttack
        A registry name or an ART attack instance.
    eps : float or None
        Budget in the attack's norm.
    **kwargs
        The other parameters of :func:`evaluate_attack` (``mode``,
        ``substitute``, ``loss``, ``random_state``, attack parameters...).

    Returns
    -------
    accuracy : float
        Robust accuracy in [0, 1].

    Examples
    --------
    >>> from sk_guessfirst import CNNClassifier
    >>> from sk_guessfirst.adversarial import adversarial_accuracy
    >>> from sk_guessfirst.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)  # float32 in [0, 1]
    >>> clf = CNNClassifier(max_epochs=5, input_shape=(1, 8, 8), random_state=0)
    >>> clf.fit(X, y).score(X[:50], y[:50]) > 0.9
    True
    >>> adversarial_accuracy(clf, X[:50], y[:50], attack="pgd", eps=0.3)
    0.0
    """
    return evaluate_attack(estimator, X, y, attack=attack, eps=eps, **kwargs).accuracy


def attack_examples(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    attack: str,
    eps: float,
    mode: str = "white-box",
    substitute: Any = None,
    loss: str | None = None,
    clip_values: tuple[float, float] = (0.0, 1.0),
    view: str = "scores",
    batch_size: int = 250,
    random_state: int | None = None,
    verbose: int = 0,
    **attack_params,
) -> np.ndarray:
    """Adversarial examples for X at budget ``eps``, crafted on the estimator
    or (black-box) on its substitute, with one ``loss`` (default: the
    attack's first, e.g. "ce").

    For a minimal-perturbation attack: white-box, the smallest adversarial
    found where it lies within eps; black-box, the substitute's direction
    scaled to eps. Examples whose perturbation would exceed ``eps`` are
    returned unperturbed; every output lies in ``clip_values``.

    Parameters
    ----------
    estimator : fitted classifier, or Pipeline of scalers ending in one
        The model attacked.
    X, y : array-like
        Inputs in ``clip_values`` and their labels.
    attack : str or art.attacks.EvasionAttack
        A registry name or an ART attack instance.
    eps : float or None
        Budget in the attack's norm (None: the ART instance's).
    mode : {"white-box", "black-box"}, default="white-box"
        Craft on the estimator, or on ``substitute``.
    substitute : fitted estimator or (X_train, y_train), default=None
        Black-box only.
    loss : str or None, default=None
        The one loss to run; None takes the attack's first.
    clip_values : tuple, default=(0.0, 1.0)
        Valid input range.
    view : str, default="scores"
        What the attacker is handed.
    batch_size : int, default=250
        Images per attack batch.
    random_state : int, RandomState or None, default=None
        Seeds the attack's random starts.
    verbose : int, default=0
        Progress bars of the attack library.
    **attack_params
        Overrides of the attack's defaults.

    Returns
    -------
    X_adv : ndarray of shape (n_samples, n_features)
        The adversarial examples, flat.
    """
    if loss == WORST:
        raise ValueError("attack_examples runs one loss; name it (e.g. 'ce')")
    p = _prepare(
        estimator,
        X,
        y,
        attack=attack,
        eps=eps,
        mode=mode,
        substitute=substitute,
        loss=WORST if loss is None else loss,
        clip_values=clip_values,
        view=view,
        eot_samples=0,
        batch_size=batch_size,
        verbose=verbose,
        attack_params=attack_params,
    )
    if p.spec is None:
        X_adv, norm = generate(attack, p.source, p.X, p.y_enc), getattr(attack, "norm")
    elif p.eps == 0 or not len(p.X):
        return p.X.copy()
    else:
        (loss,) = (p.losses[0],) if loss is None else p.losses
        seeded = nullcontext() if random_state is None else _seeded(random_state)
        with seeded:
            out = _run(p, loss)
        X_adv = out.X_adv
        if X_adv is None:
            found = out.minimal <= p.eps
            X_adv = np.where(found[:, None], out.found, p.X)
        norm = p.spec.norm
    return _within_budget(X_adv, p.X, float(norm), p.eps, p.opts["clip_values"])
