"""What every sk_guessfirst estimator shares: scikit-learn input validation,
label encoding, ``device="auto"``, ``random_state`` and fixed-size batches, on
top of skorch's :class:`~skorch.NeuralNetClassifier`.
"""

from __future__ import annotations

import math
import numbers
import warnings
from contextlib import contextmanager, nullcontext
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import ArrayLike
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring, EpochTimer, PassthroughScoring, PrintLog
from skorch.dataset import unpack_data
from skorch.utils import to_numpy
from torch.utils.data import Dataset

from ._devices import (
    check_device_available,
    forked_rng,
    resolve_device,
    rng_state,
)
from ._iterators import batch_iterator
from ._signals import raised_by_callback, sigint_watch
from ._validation import (
    check_image_layout,
    non_negative,
    positive,
    unpack_dataset,
)
from .modules import trunk_kind


def _valid_accuracy(net, X, y):
    # skorch hands this the *encoded* validation targets, so compare with the
    # argmax of the scores rather than with predict(), which decodes labels.
    scores = to_numpy(net.forward(X))
    return float(np.mean(scores.argmax(1) == to_numpy(y)))


class _Noisy:
    """Training batches with Gaussian noise of std ``sigma`` added to X (Cohen et
    al. 2019's training for randomized smoothing), drawn from torch's global
    RNG, which ``random_state`` seeds: the same seed gives the same noise."""

    def __init__(self, batches, sigma):
        self.batches = batches
        self.sigma = float(sigma)

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for Xi, yi in self.batches:
            if not isinstance(Xi, torch.Tensor):
                raise TypeError(
                    f"train_noise={self.sigma} adds noise to tensor batches; the "
                    f"training iterator yields {type(Xi).__name__}: pass X as an "
                    "array or tensor"
                )
            yield Xi + self.sigma * torch.randn_like(Xi), yi


class GuessFirstNet(NeuralNetClassifier):
    """Base class; not for direct use (subclasses set module and loss)."""

    # Declared once, checked in fit with scikit-learn's own validator (as
    # imbalanced-learn does); subclasses add their parameters.
    _parameter_constraints: dict = {
        "lr": [positive()],
        "max_epochs": [positive(numbers.Integral)],  # an untrained net predicts noise
        "batch_size": [positive(numbers.Integral), Options(numbers.Integral, {-1})],
        "device": [str, torch.device, None],
        "random_state": ["random_state"],
        "input_shape": [tuple, list, None],
        "classes": ["array-like", None],
        "predict_nonlinearity": [StrOptions({"auto"})],
        "warm_start": ["boolean"],
        "train_noise": [non_negative()],
    }

    # skorch's __init__ stores these three as instance attributes, but
    # scikit-learn requires that __init__ sets nothing but parameters. Class
    # level defaults keep skorch's reads working until ``initialize`` sets them.
    history_ = None
    initialized_ = False
    virtual_params_: dict = {}

    def __init__(
        self,
        module: Any,
        *,
        criterion: Any,
        optimizer: Any = torch.optim.Adam,
        lr: float = 1e-3,
        max_epochs: int = 10,
        batch_size: int = 250,
        input_shape: tuple[int, ...] | None = None,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        train_noise: float = 0.0,
        train_split: Any = None,
        callbacks: Any = None,
        verbose: int = 0,
        warm_start: bool = False,
        **kwargs: Any,
    ) -> None:
        # skorch lets __init__ store a module instance only before its
        # class-level ``initialized_`` exists, which ours always does
        self.__dict__["_constructing"] = True
        # In-memory arrays are sliced as tensors rather than gathered sample
        # by sample (see _iterators); a user's own iterator still wins.
        kwargs.setdefault("iterator_train", batch_iterator)
        kwargs.setdefault("iterator_valid", batch_iterator)
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            device=device,
            train_split=train_split,
            callbacks=callbacks,
            verbose=verbose,
            warm_start=warm_start,
            **kwargs,
        )
        self.input_shape = input_shape
        self.random_state = random_state
        self.train_noise = train_noise
        for name in ("history_", "initialized_", "virtual_params_", "_constructing"):
            self.__dict__.pop(name, None)

    def __setattr__(self, name, attr):
        if vars(self).get("_constructing"):
            object.__setattr__(self, name, attr)  # parameters, as skorch's first init
        else:
            super().__setattr__(name, attr)

    @property
    def _default_callbacks(self):
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            (
                "valid_acc",
                EpochScoring(_valid_accuracy, name="valid_acc", lower_is_better=False),
            ),
            ("print_log", PrintLog()),
        ]

    # -- scikit-learn plumbing ---------------------------------------------
    @property
    def classes_(self):
        """Sorted class labels seen in fit (or given by ``classes``)."""
        try:
            return self.classes_inferred_
        except AttributeError:
            raise AttributeError(
                f"{type(self).__name__} is not fitted yet: classes_ is set by fit"
            ) from None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    def _get_param_names(self):
        # skorch lists every public-looking attribute, which includes its
        # private bookkeeping (_params_to_validate); parameters are public.
        return [k for k in super()._get_param_names() if not k.startswith("_")]

    def set_params(self, **params):
        # ``device`` is a plain parameter, checked in fit (as scikit-learn
        # wants) and resolved at use. A fitted net's other parameters make
        # skorch re-initialise its module at once, on the device: a bad one is
        # refused before anything changes.
        device = params.pop("device", self.device)
        if self.initialized_ and set(params) - {"callbacks"}:
            resolve_device(device)
        vars(self)["device"] = device
        # skorch resolves every key that starts with "callbacks" as a callback
        # sub-parameter at once; the ``callbacks`` list itself is a plain
        # parameter, checked when the net is initialised.
        if "callbacks" in params:
            vars(self)["callbacks"] = params.pop("callbacks")
            if self.initialized_:
                self._initialize_callbacks()
        if not params:
            return self
        if not self.initialized_:  # nothing built yet: plain attributes
            super().set_params(**params)
            return self
        with self._resolved_device():  # "auto" resolved for skorch
            super().set_params(**params)
        return self

    def __sklearn_is_fitted__(self):
        return bool(self.initialized_) and hasattr(self, "classes_inferred_")

    def _validate_hyperparameters(self):
        """Check parameters in ``fit`` (scikit-learn: never in ``__init__``).

        ``predict_nonlinearity`` must stay "auto": probabilities come from the
        objective's density-ratio link, not from a user function.
        """
        params = self.get_params(deep=False)
        validate_parameter_constraints(
            self._parameter_constraints,
            {k: params[k] for k in self._parameter_constraints},
            caller_name=type(self).__name__,
        )
        resolve_device(self.device)
        check_device_available(self.device)
        self._check_monitors()
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            if not shape or any(int(s) < 1 for s in shape) or len(shape) > 3:
                raise ValueError(
                    f"input_shape must be None, (D,), (H, W) or (C, H, W) with "
                    f"positive "
                    f"sizes, got {self.input_shape!r}"
                )

    def _check_monitors(self):
        """A callback that watches a validation score needs a validation split."""
        if self.train_split is not None:
            return
        for entry in self.callbacks or []:
            cb = entry[1] if isinstance(entry, tuple) else entry
            monitor = getattr(cb, "monitor", None)
            if isinstance(monitor, str) and monitor.startswith("valid"):
                raise ValueError(
                    f"{type(cb).__name__} monitors {monitor!r}, but train_split=None "
                    f"(the default of {type(self).__name__}; skorch's is "
                    "ValidSplit(5)) computes no validation scores. Pass "
                    "train_split=skorch.dataset.ValidSplit(0.2), or "
                    f"{type(cb).__name__}(monitor="
                    f"{monitor.replace('valid', 'train', 1)!r})"
                )

    def _validate_X(self, X, reset):
        """Return X as float32 (n, features), checking shape and values."""
        if sp.issparse(X):
            raise TypeError(
                f"{type(self).__name__} does not accept sparse input: got "
                f"{type(X).__name__}. Convert it with X.toarray() first."
            )
        shape = None
        if hasattr(X, "shape") and len(X.shape) > 2:
            X = np.asarray(X)
            shape = check_image_layout(X.shape, type(self).__name__)
            X = X.reshape(len(X), math.prod(shape))
        X = validate_data(self, X, reset=reset, dtype=np.float32, ensure_min_samples=1)
        if reset:
            self.input_shape_ = self._resolve_input_shape(shape, X.shape[1])
        elif shape is not None:
            # (n, H, W) matches a fitted (1, H, W): compare the trailing dims
            fitted = tuple(self.input_shape_)
            if math.prod(shape) != math.prod(fitted) or shape != fitted[-len(shape) :]:
                raise ValueError(
                    f"X has samples of shape {shape}, but {type(self).__name__} was "
                    f"fitted on shape {self.input_shape_}"
                )
        # torch refuses non-writeable arrays without a warning; own a copy then.
        return np.require(X, dtype=np.float32, requirements=["C", "W"])

    def _resolve_input_shape(self, data_shape, n_features):
        if self.input_shape is not None:
            shape = tuple(int(s) for s in self.input_shape)
            shape = (1, *shape) if len(shape) == 2 else shape
        elif data_shape is not None:
            shape = (1, *data_shape) if len(data_shape) == 2 else tuple(data_shape)
        else:
            # Flat rows are flat features, whatever their width: images are
            # said, as (n, H, W) / (n, C, H, W) arrays or input_shape=.
            shape = (n_features,)
        if math.prod(shape) != n_features:
            raise ValueError(
                f"input_shape={shape} needs {math.prod(shape)} features per sample, "
                f"but X has {n_features}"
            )
        return shape

    def _validate_y(self, y, classes=None):
        """Encode y to 0..K-1 against ``classes_``, set on the first fit."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is "
                "None (pass the labels, or a Dataset of (x, y) pairs as X)"
            )
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if classes is None and not self.__sklearn_is_fitted__():
            classes = (
                self.classes if self.classes is not None and len(self.classes) else None
            )
        if classes is not None or not self.__sklearn_is_fitted__():
            labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if len(labels) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes, but "
                    f"y has only one class ({labels[0] if len(labels) else 'empty'})."
                )
            self.classes_inferred_ = labels
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(
                f"y contains labels {unknown[:5].tolist()} not in classes_ "
                f"{self.classes_.tolist()}"
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def check_data(self, X, y):
        # Validation and label encoding already happened in fit/partial_fit;
        # skorch's version would re-infer classes from the *encoded* y.
        pass

    @contextmanager
    def _resolved_device(self):
        """Run skorch code with ``self.device`` resolved from "auto"."""
        requested = self.device
        self.device = resolve_device(requested)
        try:
            yield
        finally:
            self.device = requested

    def _seeded(self, resume):
        """Run training inside a fork of torch's RNG seeded from random_state.

        ``resume`` continues from the state saved at the end of the last
        epoch (``rng_state_``), so that training k epochs, then n - k more
        with ``partial_fit`` (or from a checkpoint), equals training n epochs
        at once, bit for bit on the same machine.
        """
        if self.random_state is None:
            return nullcontext()
        state = getattr(self, "rng_state_", None) if resume else None
        return forked_rng(self._torch_seed() if state is None else state, keep=self)

    def _torch_seed(self):
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _capturerng_state(self):
        if self.random_state is not None:
            self.rng_state_ = rng_state()

    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
        # before any callback runs, so a checkpoint saves the state that the
        # next epoch starts from
        self._capturerng_state()

    # -- fitting -------------------------------------------------------------
    # fit and partial_fit are overridden (skorch's own advice is to leave them
    # alone) because scikit-learn's contract puts validation and label
    # encoding there, before skorch builds the module from their results.
    def fit(
        self, X: ArrayLike | Dataset, y: ArrayLike | None = None, **fit_params: Any
    ) -> Self:
        """Validate X and y, (re)build the network and train for ``max_epochs``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
            Inputs, finite floats (images scaled to [0, 1] by convention); or a
            torch ``Dataset`` of (x, y) pairs (skorch's ``Dataset`` and
            ``TensorDataset`` included), with ``y=None``.
        y : array-like of shape (n_samples,) or None
            Class labels of any type (ints, strings); None when X is a Dataset.
        **fit_params : dict
            ``epochs=n`` trains n epochs instead of ``max_epochs`` (skorch's
            ``fit_loop`` argument); other fit parameters are refused.

        Returns
        -------
        self

        Notes
        -----
        A ``KeyboardInterrupt`` (Ctrl-C) stops training and propagates to the
        caller, unlike skorch's default, which returns a cut-short model as if
        it had finished. A callback that stops training the skorch way (by
        raising ``KeyboardInterrupt``, as ``EarlyStopping`` does) returns the
        fitted model, as in skorch.
        """
        X, y, epochs = self._fit_inputs(X, y, fit_params)
        self._validate_hyperparameters()
        reset = not (self.warm_start and self.__sklearn_is_fitted__())
        X = self._validate_X(X, reset=reset)
        if reset:
            self.__dict__.pop("classes_inferred_", None)
        y = self._validate_y(y)
        with self._seeded(resume=not reset), self._resolved_device():
            if reset:
                self.initialize()
            return self._train(X, y, epochs)

    def partial_fit(
        self,
        X: ArrayLike | Dataset,
        y: ArrayLike | None = None,
        classes: ArrayLike | None = None,
        **fit_params: Any,
    ) -> Self:
        """Train for ``max_epochs`` more epochs without re-initialising.

        ``classes`` lists every label when the first batch may not show them all.
        With ``random_state`` set, the shuffling continues where the previous
        call stopped: ``fit`` for k epochs then ``partial_fit`` for n - k equals
        ``fit`` for n. X may be a Dataset (see :meth:`fit`).
        """
        X, y, epochs = self._fit_inputs(X, y, fit_params)
        self._validate_hyperparameters()
        first = not self.__sklearn_is_fitted__()
        X = self._validate_X(X, reset=first)
        y = self._validate_y(y, classes=classes if first else None)
        with self._seeded(resume=not first), self._resolved_device():
            if first:
                self.initialize()
            return self._train(X, y, epochs)

    def _train(self, X, y, epochs=None):
        # skorch's partial_fit, minus its `except KeyboardInterrupt: pass`:
        # Ctrl-C must reach the caller, not pass a cut-short model off as fitted,
        # while a callback's deliberate stop (EarlyStopping) ends training.
        # Inside the loop, callbacks see skorch's y: the encoded labels
        # 0..K-1. predict() then answers in them too, so that a scoring
        # callback (EpochScoring("accuracy")) compares like with like.
        vars(self)["_encoded_labels"] = True
        try:
            self.notify("on_train_begin", X=X, y=y)
            with sigint_watch() as signalled:
                try:
                    self.fit_loop(X, y, epochs=epochs)
                except KeyboardInterrupt as exc:
                    if signalled() or not raised_by_callback(exc):
                        raise
            self.notify("on_train_end", X=X, y=y)
        finally:
            vars(self).pop("_encoded_labels", None)
        self._warn_if_at_chance(X, y)
        return self

    def _warn_if_at_chance(self, X, y, n=1000):
        """ConvergenceWarning when training ends no better than the majority
        class on (up to n of) the training data: a collapse, never silent."""
        if len(self.history) == 0:
            return
        idx = np.random.RandomState(0).permutation(len(X))[:n]
        # X is validated already: validating it again as a user's X would
        # warn that a DataFrame's feature names went missing
        scores = self._scores_of_validated(X[idx])
        accuracy = float(np.mean(scores.argmax(1) == y[idx]))
        majority = float(np.bincount(y[idx]).max() / len(idx))
        if accuracy <= majority + 0.02:
            warnings.warn(
                f"{type(self).__name__} ended training at chance: {accuracy:.1%} "
                f"training accuracy after {len(self.history)} epochs (the majority "
                f"class alone: {majority:.1%}). {self._collapse_hint()}",
                ConvergenceWarning,
                stacklevel=4,  # the caller of fit
            )

    def _collapse_hint(self):
        return "Train longer, raise lr, or check the labels."

    def _fit_inputs(self, X, y, fit_params):
        """(X, y, epochs) of a fit call: a Dataset unpacked, skorch's ``epochs``
        taken, every other fit parameter refused."""
        X, y = unpack_dataset(X, y)
        fit_params = dict(fit_params)
        epochs = fit_params.pop("epochs", None)
        # skorch would hand the rest to module.forward; ours take none, and a
        # silently ignored sample_weight would be worse than an error.
        if fit_params:
            raise TypeError(
                f"{type(self).__name__}.fit got unexpected parameters "
                f"{sorted(fit_params)}; sample_weight and other fit parameters are "
                "not supported (resample the data instead)."
            )
        return X, y, epochs

    def initialize(self) -> Self:
        """Build the network: from the data in ``fit``, or, for skorch's
        ``initialize()`` then ``load_params(...)`` workflow, from the
        ``input_shape`` and ``classes`` parameters."""
        if not hasattr(self, "input_shape_") or not hasattr(self, "classes_inferred_"):
            if self.input_shape is None or self.classes is None:
                raise ValueError(
                    f"{type(self).__name__} builds its network from the data: call "
                    "fit(X, y) (or partial_fit), or pass input_shape=... and "
                    "classes=... to initialize() without data (e.g. to load_params)"
                )
            self._validate_hyperparameters()
            n_features = math.prod(tuple(self.input_shape))
            self.input_shape_ = self._resolve_input_shape(None, n_features)
            self.n_features_in_ = n_features
            self._validate_y(np.asarray(self.classes))
        with self._resolved_device():
            if self.compile and torch.device(self.device).type == "cpu":
                warnings.warn(
                    "compile=True on the CPU: torch.compile spends a fixed 20-40 s "
                    "compiling the network (measured on 2 cores: a 2-epoch digits "
                    "fit 2.6 s -> 41 s for the CNN, 3.7 s -> 24 s for the "
                    "hypothesis model), and again when the mode changes (training "
                    "to prediction); it pays off only where training runs many "
                    "minutes. Leave compile=False for short fits.",
                    UserWarning,
                    stacklevel=3,
                )
            return super().initialize()

    def load_params(self, *args, **kwargs):
        """skorch's ``load_params``, with ``device="auto"`` resolved."""
        with self._resolved_device():
            return super().load_params(*args, **kwargs)

    # a class named for convolutions warns where flat rows make it an MLP
    _convolutional = False

    def _module_kwargs(self):
        """Parameters of the module that come from the estimator and the data."""
        return {"input_shape": self.input_shape_, "n_classes": len(self.classes_)}

    def initialize_module(self):
        routed = self.get_params_for("module")
        if isinstance(self.module, torch.nn.Module):
            if routed:  # skorch would silently rebuild it from its class
                raise ValueError(
                    f"module is an instance, so module__ parameters {sorted(routed)}"
                    " cannot reach it; pass the class (module=MyModule) with them, or"
                    " build the instance with them"
                )
            self.module_ = self.module  # used as given, as skorch does
            self.input_kind_ = "own"
            return self
        kwargs = {**self._module_kwargs(), **routed}
        self.module_ = self.initialized_instance(self.module, kwargs)
        own = kwargs.get("trunk") is not None
        kind = trunk_kind(self.input_shape_)
        self.input_kind_ = "own" if own else kind.name
        if self._convolutional and not own and not kind.convolutional:
            side = math.isqrt(math.prod(self.input_shape_))
            hint = (
                f" (input_shape=(1, {side}, {side}) for {side}x{side} images)"
                if side * side == math.prod(self.input_shape_) and side >= 8
                else ""
            )
            warnings.warn(
                f"{type(self).__name__} got flat rows of {self.input_shape_[0]} "
                "features and builds an MLP trunk, not convolutions: pass images "
                f"as (n, H, W) or (n, C, H, W) arrays, or input_shape=...{hint}",
                UserWarning,
                stacklevel=2,
            )
        return self

    def get_iterator(self, dataset, training=False):
        """Training batches have a fixed size (paper Appendix F: the DV estimate
        depends on it): the last incomplete batch is dropped, and
        n < batch_size gives one batch of n."""
        if not training:
            return super().get_iterator(dataset, training=False)
        kwargs = self.get_params_for("iterator_train")
        size = kwargs.get("batch_size", self.batch_size)
        size = len(dataset) if size == -1 else min(size, len(dataset))
        kwargs.update(batch_size=size, drop_last=True)
        kwargs.setdefault("shuffle", True)
        batches = self.iterator_train(dataset, **kwargs)
        return _Noisy(batches, self.train_noise) if self.train_noise else batches

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        self._check_finite(loss, "loss")
        return loss

    def _check_finite(self, value, what):
        if not torch.isfinite(value).all():
            epoch = len(self.history) if self.history is not None else 0
            raise FloatingPointError(
                f"{type(self).__name__}: non-finite {what} ({float(value.detach())}) "
                f"{self._loss_description()} at epoch {epoch}. "
                "The model is not usable; "
                "lower lr, change the objective, or check X for extreme values."
            )

    def _loss_description(self):
        return "of the cross-entropy loss"

    # -- prediction ----------------------------------------------------------
    def evaluation_step(self, batch, training=False):
        """Score a batch at the fixed shape (batch_size rows), padding the last one.

        float32 kernels round differently for different batch shapes, so
        without padding a sample's scores would change in the 7th digit with
        the batch it happens to share. Evaluating every batch at one shape
        makes predictions independent of how X is split.
        """
        Xi, _ = unpack_data(batch)
        n, size = len(Xi), self.batch_size
        if training or size == -1 or n >= size or not isinstance(Xi, torch.Tensor):
            return super().evaluation_step(batch, training=training)
        padded = torch.cat([Xi, Xi.new_zeros((size - n, *Xi.shape[1:]))])
        out = super().evaluation_step((padded, None), training=training)
        return tuple(o[:n] for o in out) if isinstance(out, tuple) else out[:n]

    def forward_iter(self, X, training=False, device="cpu"):
        # With random_state set, sampling at prediction (VIB's draws of z)
        # is reproducible, and never advances the training RNG stream.
        seeded = (
            nullcontext()
            if self.random_state is None
            else forked_rng(self._torch_seed())
        )
        with self._resolved_device(), seeded:
            yield from super().forward_iter(X, training=training, device=device)

    def _scores(self, X):
        """(n, K) float64 scores of X as a user gives it (validated)."""
        X, _ = unpack_dataset(X, None, targets_allowed=True)
        check_is_fitted(self)
        return self._scores_of_validated(self._validate_X(X, reset=False))

    def _scores_of_validated(self, X):
        """(n, K) float64 scores, written batch by batch into one array.

        Nothing of a batch outlives it (skorch's ``forward`` keeps every
        batch's output until the end, and those small long-lived buffers
        between the freed per-batch temporaries fragment the heap: resident
        memory then grew with n far beyond the output's size).
        """
        out, start = None, 0
        for batch in self.forward_iter(X, training=False):
            scores = to_numpy(batch)
            if out is None:
                out = np.empty((len(X), *scores.shape[1:]), dtype=np.float64)
            if start + len(scores) > len(out):  # more rows than X: never from X
                raise RuntimeError("the network returned more scores than inputs")
            out[start : start + len(scores)] = scores
            start += len(scores)
        # skorch's scoring callbacks replay the epoch's cached batches, which
        # are fewer than X when the last incomplete batch was dropped
        return out[:start]

    def _proba_from_scores(self, scores):
        return torch.softmax(scores, dim=1)

    def decision_function(self, X: ArrayLike | Dataset) -> np.ndarray:
        """Raw scores: the (n, K) hypothesis scores or logits.

        For two classes, scikit-learn's convention: the (n,) difference
        ``score[:, 1] - score[:, 0]``, positive for ``classes_[1]``.
        """
        scores = self._scores(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict_proba(self, X: ArrayLike | Dataset) -> np.ndarray:
        """Class probabilities p(k | x), shape (n, K)."""
        scores = torch.as_tensor(self._scores(X))
        return self._proba_from_scores(scores).numpy()

    def predict(self, X: ArrayLike | Dataset) -> np.ndarray:
        """Labels: ``classes_[argmax_k score(x, k)]``.

        X may be a torch Dataset (its targets, if any, are ignored). Called by a
        callback during training, it returns the encoded labels 0..K-1, the y
        that skorch hands callbacks.
        """
        best = self._scores(X).argmax(axis=1)
        return best if vars(self).get("_encoded_labels") else self.classes_[best]

    def __setstate__(self, state):
        requested = state.get("device")
        state["device"] = resolve_device(requested)
        super().__setstate__(state)
        # skorch may leave a torch.device (the map location) in the parameter
        if requested == "auto":
            self.device = "auto"
        elif isinstance(self.device, torch.device):
            self.device = str(self.device)
