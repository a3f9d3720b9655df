"""Bridge from fitted sk_guessfirst estimators to ART classifiers."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier

from ..attacked._function import (
    attacked_function,
    check_clip_values,
    check_loss_name,
    device_of,
    resolve_target,
)


def to_art(
    estimator: Any,
    *,
    clip_values: tuple[float, float] = (0.0, 1.0),
    loss: str = "ce",
    view: str = "scores",
    eot_samples: int = 0,
    **art_kwargs,
) -> Any:
    """Wrap a fitted estimator as an ART ``PyTorchClassifier``.

    ART sees the model's raw scores as logits: for
    :class:`~sk_guessfirst.HypothesisConditionedClassifier` all K hypothesis
    scores computed end to end from the input, so gradients flow through every
    hypothesis; for :class:`~sk_guessfirst.VIBClassifier` the mean encoder, or
    with ``eot_samples > 0`` the expectation over that many draws of z.
    Inputs have the estimator's sample shape ``input_shape_``: (n, C, H, W)
    for images (as ART's image attacks require), (n, D) for flat features.
    A Pipeline of scalers ending in an sk_guessfirst estimator is accepted;
    its scalers become part of the attacked function.

    The network is a frozen snapshot in evaluation mode (BatchNorm uses its
    running statistics); the estimator's own module and its mode are never
    touched, so training it further does not change the ART classifier.

    Parameters
    ----------
    estimator : fitted classifier, or Pipeline of scalers ending in one
        The model attacked.
    clip_values : tuple of float, default=(0.0, 1.0)
        Valid input range; attack budgets (eps) are in this scale.
    loss : {"ce", "margin"}, default="ce"
        The loss ART's gradient attacks maximise: cross-entropy over the K
        outputs, or the Carlini-Wagner margin (the adaptive loss for
        hypothesis scores, which does not saturate).
    view : {"scores", "activated", "sigmoid", "clipped-log-proba"}, default="scores"
        What the attacker is handed (see :data:`VIEWS`); anything but the raw
        scores can mask gradients, which the robustness report flags.
    eot_samples : int, default=0
        Passes averaged per forward pass (expectation over transformation):
        for VIB, draws of z; for a randomised model, its passes.
    **art_kwargs
        Passed on to ``PyTorchClassifier``: ``preprocessing_defences=[...]``
        (e.g. ART's ``FeatureSqueezing``), ``postprocessing_defences``,
        ``preprocessing`` and so on.

    Notes
    -----
    The classifier is a frozen snapshot with no optimizer: ART's trainers
    (``AdversarialTrainer``, ``AdversarialTrainerMadryPGD``) and its ``fit``
    are refused with a ``TypeError`` that says so; adversarial training is
    :class:`~sk_guessfirst.AdversarialTrainingClassifier` and
    :class:`~sk_guessfirst.AdversarialHypothesisClassifier` (Madry's PGD or
    TRADES, with the estimators' callbacks, checkpoints and searches).
    Attacks that require probabilities (``SimBA``) take
    ``view="probabilities"``; ART's own ``AutoAttack`` works as is.

    Returns
    -------
    classifier : art.estimators.classification.PyTorchClassifier

    Examples
    --------
    >>> from sk_guessfirst import CNNClassifier
    >>> from sk_guessfirst.adversarial import to_art
    >>> from sk_guessfirst.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)  # float32 in [0, 1]
    >>> clf = CNNClassifier(max_epochs=2, input_shape=(1, 8, 8), random_state=0)
    >>> art_clf = to_art(clf.fit(X, y))
    >>> art_clf.predict(X[:2].reshape(2, 1, 8, 8)).shape
    (2, 10)
    """
    target = resolve_target(estimator)
    lo, hi = check_clip_values(clip_values)
    module = attacked_function(target, view=view, eot_samples=eot_samples)
    return FrozenPyTorchClassifier(
        model=module,
        loss=check_loss_name(loss).module(),
        input_shape=target.input_shape,
        nb_classes=len(target.classes_),
        clip_values=(lo, hi),
        device_type="gpu" if torch.device(device_of(target)).type == "cuda" else "cpu",
        **art_kwargs,
    )


class FrozenPyTorchClassifier(PyTorchClassifier):
    """ART's ``PyTorchClassifier`` on a frozen snapshot: it refuses training."""

    def fit(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "to_art's classifier is a frozen snapshot of a fitted estimator and "
            "cannot be trained (ART's AdversarialTrainer and "
            "AdversarialTrainerMadryPGD call its fit): train with "
            "sk_guessfirst.AdversarialTrainingClassifier or "
            "AdversarialHypothesisClassifier (adv_method='madry' or 'trades'), "
            "then wrap the fitted model with to_art"
        )

    fit_generator = fit


def craft_art(attack_class, norm, source, X, y_enc, eps, loss, params, opts):
    """Build the ART attack ``attack_class`` at ``eps`` in ``norm`` on ``source``
    (its attacked function with ``loss``) and run it on flat X."""
    kwargs = {"norm": np.inf if np.isinf(norm) else int(norm), "eps": eps}
    kwargs.update(batch_size=opts["batch_size"], **params)
    if "verbose" in inspect.signature(attack_class.__init__).parameters:  # not FGSM
        kwargs.setdefault("verbose", bool(opts["verbose"]))
    classifier = to_art(
        source,
        clip_values=opts["clip_values"],
        loss=loss,
        view=opts["view"],
        eot_samples=opts["eot_samples"],
    )
    return generate(attack_class(classifier, **kwargs), source, X, y_enc)


def generate(attack, target, X, y_enc):
    """Run a built ART attack on flat X; returns flat adversarial examples."""
    X_adv = attack.generate(target.as_input(X), y=y_enc)
    return np.asarray(X_adv, dtype=np.float32).reshape(X.shape)
