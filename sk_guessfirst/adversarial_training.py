"""Training on adversarial examples (Madry et al. 2018), inside skorch's loop.

Each training batch is replaced by its L-inf PGD examples before the
ordinary training step. The examples are crafted in torch on the live
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
from contextlib import contextmanager

import torch
from skorch.dataset import unpack_data

from ._base import GuessFirstNet, positive
from ._docs import fill_doc
from .estimators import CNNClassifier, HypothesisConditionedClassifier

__all__ = [
    "AdversarialHypothesisClassifier",
    "AdversarialTrainingClassifier",
    "AdversarialTrainingMixin",
    "pgd_examples",
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
) -> torch.Tensor:
    """L-inf PGD examples of ``(X, y)`` against the live network of ``net``.

    Madry et al.'s attack as Foolbox 3's ``LinfPGD`` runs it: one uniform
    random start in the eps ball (drawn from torch's global RNG, which
    skorch's ``random_state`` seeds and the checkpoints save), ``steps``
    signed-gradient steps of ``2.5 eps / steps`` on the cross-entropy of the
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

    Returns
    -------
    X_adv : torch.Tensor
        Same shape and device as X, detached.
    """
    import foolbox as fb

    from .adversarial._model import AttackedFunction

    lo, hi = (float(v) for v in clip_values)
    with _frozen(net.module_) as module:
        objective = getattr(net, "objective", None)
        scores = AttackedFunction(module, objective=objective).eval()
        fmodel = fb.PyTorchModel(scores, bounds=(lo, hi), device=X.device)
        attack = fb.attacks.LinfPGD(
            abs_stepsize=2.5 * float(eps) / steps, steps=int(steps), random_start=True
        )
        _, X_adv, _ = attack(fmodel, X.float(), y.long(), epsilons=float(eps))
    return X_adv.detach()


class AdversarialTrainingMixin:
    """Madry-style adversarial training for an sk_guessfirst estimator.

    Put it first in the bases (``class M(AdversarialTrainingMixin, Est)``):
    it adds ``adv_eps``, ``adv_steps`` and ``clip_values`` and replaces each
    training batch by :func:`pgd_examples` against the current network
    before the estimator's own training step, so callbacks, checkpoints,
    resume and ``GridSearchCV`` work as for the estimator itself.
    """

    _adversarial_constraints = {
        "adv_eps": [positive()],
        "adv_steps": [positive(numbers.Integral)],
        "clip_values": [tuple, list],
    }

    def train_step_single(self, batch, **fit_params):
        """Replace the batch by PGD examples against the current network, then step."""
        Xi, yi = unpack_data(batch)
        weight = next(self.module_.parameters(), None)
        Xi = torch.as_tensor(Xi).to(Xi.device if weight is None else weight.device)
        X_adv = pgd_examples(
            self,
            Xi.reshape(len(Xi), *self.input_shape_),
            yi.to(Xi.device),
            eps=self.adv_eps,
            steps=self.adv_steps,
            clip_values=tuple(self.clip_values),
        )
        return super().train_step_single((X_adv.reshape(Xi.shape), yi), **fit_params)

    def _loss_description(self):
        return f"of PGD adversarial training (adv_eps={self.adv_eps})"


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
    adv_eps : float, default=0.3
        L-inf budget of the training attack, in the scale of the inputs
        ([0, 1] pixels; Madry et al. used 0.3 on MNIST).
    adv_steps : int, default=40
        PGD iterations per batch (Madry et al.: 40). Training costs about
        ``adv_steps + 1`` times a plain epoch.
    clip_values : tuple, default=(0.0, 1.0)
        Valid input range (X outside it is refused: the budget is in its scale).
    module : torch module class, default=CNNModule
        The network; its parameters are routed as ``module__...``.
    criterion : torch module class, default=torch.nn.CrossEntropyLoss
        The training loss.
    {common_parameters}

    Attributes
    ----------
    {common_attributes}

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

    def __init__(self, *, adv_eps=0.3, adv_steps=40, clip_values=(0.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        self.adv_eps = adv_eps
        self.adv_steps = adv_steps
        self.clip_values = clip_values

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
    objective, and the IE regulariser with ``ie_lambda > 0``). The attack
    climbs the cross-entropy of the K hypothesis scores, computed end to end
    (:func:`~sk_guessfirst.adversarial_training.pgd_examples`): the loss the
    evaluation's PGD uses too, so the model is trained against the attack it
    is measured with. Whether that is the strongest inner maximisation for
    these scores (the margin loss was the stronger attack in the evaluation)
    is still to be measured.

    Parameters
    ----------
    adv_eps : float, default=0.3
        L-inf budget of the training attack, in the scale of the inputs.
    adv_steps : int, default=40
        PGD iterations per batch.
    clip_values : tuple, default=(0.0, 1.0)
        Valid input range.
    **kwargs
        The parameters of
        :class:`~sk_guessfirst.HypothesisConditionedClassifier` (``objective``,
        ``ie_lambda``, ``sigma``, ...) and skorch's.

    Attributes
    ----------
    {common_attributes}

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

    def __init__(self, *, adv_eps=0.3, adv_steps=40, clip_values=(0.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        self.adv_eps = adv_eps
        self.adv_steps = adv_steps
        self.clip_values = clip_values

    _parameter_constraints = {
        **HypothesisConditionedClassifier._parameter_constraints,
        **AdversarialTrainingMixin._adversarial_constraints,
    }
