"""Any torch classifier, as the evaluation sees a fitted estimator.

The evaluation (ART, AutoAttack, Foolbox, the report, the scorer) needs a
network, its classes, the layout of one input and a ``predict``. The
package's estimators have them; a fitted skorch net has all but, for
images, the input layout; a plain ``torch.nn.Module`` has none but the
network. :class:`TorchClassifier` holds what the package cannot infer.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn


def _first_layer_width(module: nn.Module) -> int | None:
    """The input width of a module whose first weighted layer is Linear."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            return int(layer.in_features)
        if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            return None
    return None


class TorchClassifier:
    """A torch classifier for the adversarial evaluation.

    Wraps a ``torch.nn.Module`` that maps a batch of inputs of
    ``input_shape`` to K logits (or any scores whose argmax is the
    prediction), or a fitted skorch net (its ``module_``, ``classes_`` and
    device are taken). Every public evaluation entry point accepts it, and
    a fitted skorch classifier directly where its input layout can be read
    (a first ``Linear`` layer, or the attacked ``X``'s shape).

    Parameters
    ----------
    model : torch.nn.Module or fitted skorch.NeuralNet
        The network (used as it is, never trained here) or the fitted net.
    input_shape : tuple of int or None, default=None
        One input's shape, e.g. ``(1, 28, 28)``; None reads it from a first
        ``Linear`` layer.
    classes : array-like or None, default=None
        The labels of the K outputs, in order; None: a skorch net's
        ``classes_``, else ``0..K-1`` (K read from one forward pass).
    device : str or torch.device or None, default=None
        Where the network runs; None: where its parameters are (a skorch
        net's ``device``).
    batch_size : int, default=250
        Inputs per forward pass in :meth:`predict`.
    per_sample_randomness : bool, default=False
        Declares that a randomised network (dropout left on, input noise)
        draws its randomness independently for each input row, so that the
        expectation over transformation (EOT) may run its passes as one
        batch of copies (``eot_samples`` x the batch) instead of one pass
        after another: the same expectation, several times faster for a
        small network, at that many times the memory. Checked when an
        evaluation first needs it: copies of one input in one batch that
        all get the same output (randomness drawn once per batch, as random
        resizing is often written) are refused, since the batched EOT would
        then average one draw. A network that mixes per-batch and per-row
        draws passes that check and must not declare it.

    Attributes
    ----------
    module_ : torch.nn.Module
        The network.
    classes_ : ndarray
        The labels of its outputs.
    input_shape_ : tuple of int
        One input's shape.
    net_ : skorch.NeuralNet or None
        The skorch net, when one was given (its ``predict`` is used).

    Examples
    --------
    >>> import torch
    >>> from sk_guessfirst.adversarial import TorchClassifier
    >>> module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    >>> clf = TorchClassifier(module, input_shape=(1, 8, 8))
    >>> clf.classes_.tolist() == list(range(10)) and clf.input_shape_
    (1, 8, 8)
    """

    def __init__(
        self,
        model: Any,
        *,
        input_shape: tuple | None = None,
        classes: Any = None,
        device: Any = None,
        batch_size: int = 250,
        per_sample_randomness: bool = False,
    ):
        self.model = model
        self.input_shape = input_shape
        self.classes = classes
        self.device = device
        self.batch_size = batch_size
        self.per_sample_randomness = per_sample_randomness
        self._resolve()

    def _resolve(self):
        model = self.model
        self.net_ = None
        if isinstance(model, nn.Module):
            module = model
        elif hasattr(model, "module_") and isinstance(model.module_, nn.Module):
            self.net_, module = model, model.module_
        else:
            raise TypeError(
                "TorchClassifier takes a torch.nn.Module or a fitted skorch net, "
                f"got {type(model).__name__}"
                + (
                    " (not fitted: call fit first)"
                    if hasattr(model, "initialize")
                    else ""
                )
            )
        self.module_ = module
        shape = self.input_shape
        if shape is None:
            width = _first_layer_width(module)
            if width is None:
                raise ValueError(
                    f"{type(module).__name__}'s input layout cannot be read from its "
                    "first layer: pass input_shape=(C, H, W) (or (D,)), the shape of "
                    "one input"
                )
            shape = (width,)
        self.input_shape_ = tuple(int(s) for s in shape)
        if self.device is None:
            if self.net_ is not None and self.net_.device not in (None, "auto"):
                self.device = str(self.net_.device)
            else:
                param = next(module.parameters(), None)
                self.device = "cpu" if param is None else str(param.device)
        classes = self.classes
        if classes is None and self.net_ is not None:
            classes = getattr(self.net_, "classes_", None)
        if classes is None:
            probe = torch.zeros(1, *self.input_shape_, device=self.device)
            with torch.no_grad(), evaluating(module):
                k = int(module(probe).shape[-1])
            classes = np.arange(k)
        self.classes_ = np.asarray(classes)
        return self

    def predict(self, X):
        """Labels of ``X`` (flat rows or inputs of ``input_shape``)."""
        X = np.asarray(X, dtype=np.float32).reshape(len(X), *self.input_shape_)
        if self.net_ is not None:
            return np.asarray(self.net_.predict(X))
        module = self.module_
        out = []
        with torch.no_grad(), evaluating(module):
            for start in range(0, len(X), self.batch_size):
                x = torch.as_tensor(X[start : start + self.batch_size])
                out.append(module(x.to(self.device)).argmax(-1).cpu().numpy())
        index = np.concatenate(out) if out else np.zeros(0, dtype=int)
        return self.classes_[index]

    @property
    def n_features_in_(self) -> int:
        return math.prod(self.input_shape_)

    def __repr__(self):
        return (
            f"TorchClassifier({type(self.module_).__name__}, input_shape="
            f"{self.input_shape_}, classes={len(self.classes_)})"
        )


@contextmanager
def evaluating(module: nn.Module):
    """Evaluation mode (as a fitted classifier predicts), restored after."""
    training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(training)
