"""Training on adversarial examples, inside skorch's loop.

Two methods (:data:`METHODS`): Madry et al. (2018) replace each training
batch by its L-inf PGD examples before the ordinary training step; TRADES
(Zhang et al. 2019) keeps the clean batch's loss and adds
``trades_beta * KL(f(x) || f(x'))``, x' the PGD maximiser of that KL. The
examples are crafted in torch on the live
network (switched to evaluation mode for the attack, so BatchNorm uses its
running statistics, and back), with Foolbox 3's ``LinfPGD``: no copy of the
network and no round trip through numpy per batch. Parameters take no
gradient while the attack runs, so the optimizer step that follows sees
only the training loss's.

This module sits above the estimators and the evaluation: the estimators
never import it, so training never reaches back up into evaluation code.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import StrOptions
from skorch.dataset import unpack_data

from ._base import GuessFirstNet
from ._docs import fill_doc
from ._validation import positive
from .attacked._function import LOSSES, AttackedFunction, check_loss_name
from .estimators import CNNClassifier, HypothesisConditionedClassifier

__all__ = [
    "METHODS",
    "Method",
    "AdversarialHypothesisClassifier",
    "AdversarialTrainingClassifier",
    "AdversarialTrainingMixin",
    "pgd_examples",
    "trades_kl",
]


@contextmanager
def _frozen(module: torch.nn.Module):
    """Evaluation mode and no parameter gradients, restored afterwards."""
    training = module.training
    grads = [p.requires_grad for p in module.parameters()]
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, g in zip(module.parameters(), grads, strict=True):
            p.requires_grad_(g)
        module.train(training)


def pgd_examples(
    net: GuessFirstNet,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    steps: int,
    clip_values: tuple[float, float] = (0.0, 1.0),
    loss: str | Callable = "ce",
) -> torch.Tensor:
    """L-inf PGD examples of ``(X, y)`` against the live network of ``net``.

    Madry et al.'s attack as Foolbox 3's ``LinfPGD`` runs it: one uniform
    random start in the eps ball (drawn from torch's global RNG, which
    skorch's ``random_state`` seeds and the checkpoints save), ``steps``
    signed-gradient steps of ``2.5 eps / steps`` on ``loss`` of the
    network's K outputs (for a hypothesis model: its K hypothesis scores,
    computed end to end), each projected onto the ball and the valid range.

    Parameters
    ----------
    net : fitted or training sk_guessfirst estimator
        Its ``module_`` is attacked as it is now.
    X : torch.Tensor of shape ``(n, *input_shape)``
        Inputs in ``clip_values``, on the network's device.
    y : torch.Tensor of shape (n,)
        Encoded labels 0..K-1.
    eps : float
        L-inf budget, in the scale of ``clip_values``.
    steps : int
        PGD iterations.
    clip_values : tuple of float, default=(0.0, 1.0)
        Valid input range.
    loss : {"ce", "margin"} or callable, default="ce"
        What the steps climb: a name of the evaluation's loss registry
        (``sk_guessfirst.adversarial.LOSSES``: cross-entropy, or the
        Carlini-Wagner margin), or ``loss(outputs, y) -> scalar`` on the K
        outputs (TRADES passes its KL divergence this way).

    Returns
    -------
    X_adv : torch.Tensor
        Same shape and device as X, detached.
    """
    import eagerpy as ep
    import foolbox as fb

    loss_fn = check_loss_name(loss).module() if isinstance(loss, str) else loss

    class _PGD(fb.attacks.LinfPGD):
        # Foolbox's documented hook: the loss its gradient steps climb
        def get_loss_fn(self, model, labels):
            def climbed(inputs):
                return ep.astensor(loss_fn(model(inputs).raw, labels.raw) * len(inputs))

            return climbed

    lo, hi = (float(v) for v in clip_values)
    with _frozen(net.module_) as module:
        objective = getattr(net, "objective", None)
        scores = AttackedFunction(module, objective=objective).eval()
        fmodel = fb.PyTorchModel(scores, bounds=(lo, hi), device=X.device)
        attack = _PGD(
            abs_stepsize=2.5 * float(eps) / steps, steps=int(steps), random_start=True
        )
        _, X_adv, _ = attack(fmodel, X.float(), y.long(), epsilons=float(eps))
    return X_adv.detach()


def trades_kl(clean: torch.Tensor, adversarial: torch.Tensor) -> torch.Tensor:
    """TRADES' robust term: ``KL(softmax(clean) || softmax(adversarial))``.

    Summed over the K outputs and averaged over the batch (Zhang et al. 2019,
    eq. 5; the reference code's ``KLDivLoss(reduction="sum") / batch``).

    Parameters
    ----------
    clean : torch.Tensor of shape (n, K)
        The network's outputs on the clean inputs.
    adversarial : torch.Tensor of shape (n, K)
        Its outputs on the perturbed inputs.

    Returns
    -------
    kl : torch.Tensor
        A scalar.
    """
    return F.kl_div(
        F.log_softmax(adversarial, dim=1),
        F.log_softmax(clean, dim=1),
        reduction="batchmean",
        log_target=True,
    )


@dataclass(frozen=True)
class Method:
    """One way to train on adversarial examples: what a training step does.

    ``step(net, X, y, fit_params, ordinary_step)`` crafts against the live
    network and returns the result of the estimator's own training step
    (``ordinary_step(batch)``), so the objective, IE and skorch's bookkeeping
    stay the estimator's.
    """

    name: str
    summary: str
    step: Callable


def _madry_step(net, X, y, fit_params, ordinary_step):
    X_adv = pgd_examples(
        net, X, y, eps=net.adv_eps, steps=net.adv_steps,
        clip_values=net.clip_values_, loss=net.adv_loss,
    )  # fmt: skip
    return ordinary_step((X_adv, y))


def _trades_step(net, X, y, fit_params, ordinary_step):
    with torch.no_grad(), _frozen(net.module_) as module:
        objective = getattr(net, "objective", None)
        clean = AttackedFunction(module, objective=objective)(X)
    X_adv = pgd_examples(
        net, X, y, eps=net.adv_eps, steps=net.adv_steps,
        clip_values=net.clip_values_, loss=lambda out, _: trades_kl(clean, out),
    )  # fmt: skip
    net._trades_adversarial = X_adv
    try:
        return ordinary_step((X, y))
    finally:
        del net._trades_adversarial


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "madry",
            "train on PGD examples of adv_loss (Madry et al. 2018)",
            _madry_step,
        ),
        Method(
            "trades",
            "the clean loss plus trades_beta KL(f(x) || f(x')), x' the PGD "
            "maximiser of that KL (Zhang et al. 2019)",
            _trades_step,
        ),
    )
}


@fill_doc
class AdversarialTrainingMixin:
    """Adversarial training (Madry PGD or TRADES) for an sk_guessfirst estimator.

    Put it first in the bases (``class M(AdversarialTrainingMixin, Est)``):
    its ``__init__`` adds ``adv_method``,
    ``adv_eps``, ``adv_steps``, ``adv_loss``, ``trades_beta`` and
    ``clip_values``, and runs each training batch through the method's step
    (:data:`METHODS`) before or around the estimator's own training step, so
    callbacks, checkpoints, resume and ``GridSearchCV`` work as for the
    estimator itself.

    Parameters
    ----------
    {adversarial_parameters}
    **kwargs
        The estimator's own parameters.
    """

    _adversarial_constraints = {
        "adv_method": [StrOptions(set(METHODS))],
        "adv_eps": [positive()],
        "adv_steps": [positive(numbers.Integral)],
        "adv_loss": [StrOptions(set(LOSSES))],
        "trades_beta": [positive()],
        "clip_values": [tuple, list, None],
    }

    def __init__(
        self,
        *,
        adv_method: str = "madry",
        adv_eps: float = 0.3,
        adv_steps: int = 40,
        adv_loss: str = "ce",
        trades_beta: float = 1.0,
        clip_values: tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)  # the estimator's own parameters
        self.adv_method = adv_method
        self.adv_eps = adv_eps
        self.adv_steps = adv_steps
        self.adv_loss = adv_loss
        self.trades_beta = trades_beta
        self.clip_values = clip_values

    def _train(self, X, y, epochs=None):
        self.clip_values_ = self._clip_range(X)
        return super()._train(X, y, epochs)

    def _clip_range(self, X):
        """The range the inner attack keeps its examples in: ``clip_values``,
        with X inside it, or X's own range where it is None."""
        lo, hi = float(X.min()), float(X.max())
        if self.clip_values is None:
            return (lo, hi)
        if len(self.clip_values) != 2 or not (
            float(self.clip_values[0]) < float(self.clip_values[1])
        ):
            raise ValueError(
                f"clip_values must be (low, high) with low < high, got "
                f"{self.clip_values!r}"
            )
        c_lo, c_hi = (float(v) for v in self.clip_values)
        if lo < c_lo or hi > c_hi:
            raise ValueError(
                f"X lies in [{lo:.4g}, {hi:.4g}], outside clip_values="
                f"{tuple(self.clip_values)} (the attack's budget adv_eps is in that "
                "scale): scale X into it, or pass clip_values=None to use the "
                "training data's range"
            )
        return (c_lo, c_hi)

    def train_step_single(self, batch, **fit_params):
        """One adversarial training step of ``adv_method`` on the batch."""
        Xi, yi = unpack_data(batch)
        weight = next(self.module_.parameters(), None)
        Xi = torch.as_tensor(Xi).to(Xi.device if weight is None else weight.device)
        shape = Xi.shape

        def ordinary_step(b):
            X, y = b
            return super(AdversarialTrainingMixin, self).train_step_single(
                (X.reshape(shape), y), **fit_params
            )

        X = Xi.reshape(len(Xi), *self.input_shape_)
        return METHODS[self.adv_method].step(
            self, X, yi.to(Xi.device), fit_params, ordinary_step
        )

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        X_adv = getattr(self, "_trades_adversarial", None)
        if not training or X_adv is None:
            return loss
        clean = y_pred[0] if isinstance(y_pred, tuple) else y_pred
        objective = getattr(self, "objective", None)
        adversarial = AttackedFunction(self.module_, objective=objective)(X_adv)
        kl = trades_kl(clean, adversarial)
        self._check_finite(kl, "TRADES KL term")
        self.history.record_batch("trades_kl", kl.item())
        return loss + self.trades_beta * kl

    def _loss_description(self):
        return (
            f"of {self.adv_method} adversarial training (adv_eps={self.adv_eps}) "
            f"{super()._loss_description()}"
        )


@fill_doc
class AdversarialTrainingClassifier(AdversarialTrainingMixin, CNNClassifier):
    """The baseline CNN trained on PGD adversarial examples (Madry et al. 2018).

    Each training batch is replaced by its L-inf PGD adversarial examples,
    crafted in torch on the current network (in evaluation mode, with
    Foolbox's ``LinfPGD``: one random start, steps of 2.5 adv_eps /
    adv_steps; see :func:`~sk_guessfirst.adversarial_training.pgd_examples`)
    before the cross-entropy step. The training loop is skorch's: callbacks,
    checkpoints and resume work as for the other estimators, and with
    ``random_state`` set the random starts come from the training RNG
    stream, so a resumed run equals an uninterrupted one.

    Parameters
    ----------
    {adversarial_parameters}
    module : torch module class, default=CNNModule
        The network; its parameters are routed as ``module__...``.
    criterion : torch module class, default=torch.nn.CrossEntropyLoss
        The training loss.
    {common_parameters}

    Attributes
    ----------
    {common_attributes}
    clip_values_ : tuple of float
        The range the inner attack kept its examples in: ``clip_values``, or
        the training data's range where it is None.

    Examples
    --------
    >>> from sk_guessfirst import AdversarialTrainingClassifier
    >>> from sk_guessfirst.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)  # float32 in [0, 1]
    >>> clf = AdversarialTrainingClassifier(
    ...     adv_eps=0.1, adv_steps=3, max_epochs=2, input_shape=(1, 8, 8),
    ...     random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints = {
        **CNNClassifier._parameter_constraints,
        **AdversarialTrainingMixin._adversarial_constraints,
    }


@fill_doc
class AdversarialHypothesisClassifier(
    AdversarialTrainingMixin, HypothesisConditionedClassifier
):
    """The hypothesis-conditioned classifier trained on PGD adversarial examples.

    Each training batch is replaced by its L-inf PGD examples against the
    current network before the hypothesis model's own training step (its
    objective, and the IE regulariser with ``ie_lambda > 0``), or, with
    ``adv_method="trades"``, the clean batch's objective plus TRADES' KL term
    on the softmax of the K hypothesis scores. The inner PGD climbs
    ``adv_loss`` of the K hypothesis scores computed end to end
    (:func:`~sk_guessfirst.adversarial_training.pgd_examples`), the scores
    the evaluation attacks: cross-entropy by default, or the margin loss, the
    stronger attack on these scores in the evaluation (user guide,
    "Adversarial training").

    Parameters
    ----------
    {adversarial_parameters}
    **kwargs
        The parameters of
        :class:`~sk_guessfirst.HypothesisConditionedClassifier` (``objective``,
        ``ie_lambda``, ``sigma``, ...) and skorch's.

    Attributes
    ----------
    class_weight_ : ndarray of shape (n_classes,) or None
        The class weights used in training.
    {common_attributes}
    clip_values_ : tuple of float
        The range the inner attack kept its examples in: ``clip_values``, or
        the training data's range where it is None.

    Examples
    --------
    >>> from sk_guessfirst.adversarial_training import (
    ...     AdversarialHypothesisClassifier)
    >>> from sk_guessfirst.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = AdversarialHypothesisClassifier(
    ...     adv_eps=0.1, adv_steps=2, max_epochs=1, input_shape=(1, 8, 8),
    ...     random_state=0).fit(X[:300], y[:300])
    >>> clf.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints = {
        **HypothesisConditionedClassifier._parameter_constraints,
        **AdversarialTrainingMixin._adversarial_constraints,
    }
