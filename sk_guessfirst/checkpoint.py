"""Training that survives being stopped: a checkpoint after every epoch, and resume.

skorch's ``Checkpoint``/``LoadInitState`` pair restores parameters, optimizer
and history, but not the random number generator, and a resumed ``fit`` then
trains ``max_epochs`` *more* epochs (skorch issue 674). Here a checkpoint holds
the estimator's whole trained state after every epoch (weights, optimizer,
criterion, history, fitted attributes and torch's RNG state ``rng_state_``),
and :func:`fit_or_resume` trains to exactly ``max_epochs`` epochs in total:
with ``random_state`` set, a run stopped at any moment (Ctrl-C, SIGKILL, power
cut) and resumed gives the same model, bit for bit on the same machine, as a
run that was never stopped.

A checkpoint is data, not code. It is one file written by ``torch.save`` and
read by ``torch.load(weights_only=True)``: tensors, numbers, strings, lists
and dicts only, with the history and the fitted attributes as JSON. Reading a
file planted by someone else therefore runs nothing; a file that is not such a
checkpoint is refused with a ``ValueError`` naming it. Like skorch's
``load_params``, loading needs an estimator with the run's parameters: the
checkpoint says which parameters it was trained with (and refuses others), the
estimator supplies the code.

Files are written to a temporary name and renamed into place, so a
checkpoint on disk is always a complete epoch.
"""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.history import History

from ._plaindata import write_atomic

__all__ = [
    "TrainingCheckpoint",
    "check_checkpoint",
    "checkpoint_epochs",
    "data_fingerprint",
    "fit_or_resume",
    "load_checkpoint",
    "snapshot_path",
    "training_params",
    "weights_fingerprint",
]

FORMAT = 2
KIND = "sk_guessfirst training checkpoint"
# Parameters that may differ between the run that wrote a checkpoint and the
# one that resumes it: how long to train, how to report, where to compute.
_RESUMABLE_CHANGES = {"max_epochs", "callbacks", "verbose", "device", "warm_start"}
# Fitted attributes besides the torch state, stored as JSON (arrays with dtype).
_FITTED = ("classes_inferred_", "input_shape_", "n_features_in_", "feature_names_in_",
           "class_weight_")  # fmt: skip


def data_fingerprint(X, y) -> str:
    """A hash of the training data: a checkpoint is never resumed on other data.

    Flat and image layouts of the same samples hash alike (the network is
    built from ``input_shape_``, which the checkpoint holds).

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        The training inputs.
    y : array-like of shape (n_samples,)
        The training labels.

    Returns
    -------
    fingerprint : str
        A hexadecimal digest (joblib's hash).
    """
    X = np.asarray(X)
    return joblib.hash((X.reshape(len(X), -1), np.asarray(y)))


def weights_fingerprint(estimator) -> str:
    """A hash of a fitted network's tensors: which training a result came from.

    Two trainings with the same parameters and data give other weights on
    another thread count, processor or library version; a result is
    recorded with the fingerprint of the weights it was computed on, so
    results of two trainings are never combined.

    Parameters
    ----------
    estimator : fitted estimator
        A skorch net of this package, a
        :class:`~sk_guessfirst.adversarial.TorchClassifier`, or a Pipeline
        ending in one (its other steps are hashed too).

    Returns
    -------
    fingerprint : str
        SHA-256 (hexadecimal) of every module's and criterion's state
        (names, dtypes, shapes and bytes), whatever the device.
    """
    import hashlib

    from sklearn.pipeline import Pipeline

    digest = hashlib.sha256()
    if isinstance(estimator, Pipeline):
        digest.update(joblib.hash(estimator[:-1]).encode())
        estimator = estimator[-1]
    names = [*getattr(estimator, "_modules", []), *getattr(estimator, "_criteria", [])]
    modules = {n: getattr(estimator, n + "_") for n in names}
    if not modules and isinstance(getattr(estimator, "module_", None), torch.nn.Module):
        modules = {"module": estimator.module_}
    if not modules:
        raise TypeError(
            f"{type(estimator).__name__} holds no fitted torch module to fingerprint"
        )
    for name in sorted(modules):
        for key, tensor in sorted(modules[name].state_dict().items()):
            flat = tensor.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{name}.{key}:{flat.dtype}:{tuple(tensor.shape)};".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def training_params(estimator) -> dict:
    """The parameters a trained model depends on (not how long, where, or how
    verbosely it trained).

    Parameters
    ----------
    estimator : sk_guessfirst estimator
        Fitted or not.

    Returns
    -------
    params : dict
        ``get_params(deep=False)`` without ``max_epochs``, ``callbacks``,
        ``verbose``, ``device`` and ``warm_start``.
    """
    params = estimator.get_params(deep=False)
    return {k: v for k, v in params.items() if k not in _RESUMABLE_CHANGES}


def snapshot_path(path, epoch: int) -> Path:
    """Where :class:`TrainingCheckpoint` keeps its copy of epoch ``epoch``.

    Parameters
    ----------
    path : str or Path
        The checkpoint.
    epoch : int
        The epoch whose copy is meant.

    Returns
    -------
    path : Path
        ``<stem>.epoch<epoch><suffix>`` beside ``path``.
    """
    path = Path(path)
    return path.with_name(f"{path.stem}.epoch{epoch}{path.suffix}")


# -- the state of a fitted estimator, as data ----------------------------------
def _json_value(value):
    if isinstance(value, np.ndarray):
        return {"dtype": value.dtype.str, "values": value.tolist()}
    if isinstance(value, tuple):
        return {"tuple": list(value)}
    return {"value": value}


def _from_json_value(doc):
    if "dtype" in doc:
        return np.asarray(doc["values"], dtype=np.dtype(doc["dtype"]))
    if "tuple" in doc:
        return tuple(doc["tuple"])
    return doc["value"]


def _state(net, max_epochs: int, data: str) -> dict:
    """Everything :func:`_restore_into` needs, as tensors and JSON strings."""
    params = training_params(net)
    fitted = {k: _json_value(getattr(net, k)) for k in _FITTED if hasattr(net, k)}
    torch_state = {
        kind: {name: getattr(net, name + "_").state_dict() for name in names}
        for kind, names in (
            ("modules", net._modules),
            ("criteria", net._criteria),
            ("optimizers", net._optimizers),
        )
    }
    rng = getattr(net, "rng_state_", None)
    return {
        "kind": KIND,
        "format": FORMAT,
        "estimator": type(net).__name__,
        "max_epochs": int(max_epochs),
        "data": data,
        # hashes decide; reprs explain a refusal
        "params": json.dumps(
            {k: [_fingerprint(v), repr(v)] for k, v in params.items()}
        ),
        "fitted": json.dumps(fitted, default=_plain_scalar),
        "history": json.dumps(net.history.to_list(), default=_plain_scalar),
        "torch": torch_state,
        "rng": None if rng is None else {"cpu": rng["cpu"], "cuda": list(rng["cuda"])},
    }


def _fingerprint(value) -> str:
    """A parameter's identity for resuming. A torch module instance (a trunk)
    counts by its class and architecture, not its initial weights: the
    checkpoint's weights replace them."""
    if isinstance(value, torch.nn.Module):
        return joblib.hash(
            (type(value).__module__, type(value).__qualname__, repr(value))
        )
    return joblib.hash(value)


def _plain_scalar(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON data")


def _save(state: dict, path) -> None:
    write_atomic(path, lambda f: torch.save(state, f))


def _read(path) -> dict:
    """The checkpoint at ``path``, read as data (never as code)."""
    path = Path(path)
    try:
        with warnings.catch_warnings():  # of a foreign file's pickle protocol
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as exc:  # weights_only refused what it holds
        raise ValueError(
            f"{path} is not a readable training checkpoint (it holds objects other "
            "than tensors and plain data, or is damaged); nothing in it was run. "
            "Delete it to train from scratch"
        ) from exc
    except Exception as exc:  # torch raises many kinds for a foreign file
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ValueError(
            f"{path} is not a readable training checkpoint ({type(exc).__name__}: "
            f"{first}); nothing in it was run. Delete it to train from scratch"
        ) from exc
    if (
        not isinstance(state, dict)
        or state.get("kind") != KIND
        or state.get("format") != FORMAT
    ):
        raise ValueError(
            f"{path} is not a training checkpoint of this version of sk_guessfirst "
            f"(format {FORMAT}); delete it to train from scratch"
        )
    try:
        for key in ("params", "fitted", "history"):
            state[key] = json.loads(state[key])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is a damaged training checkpoint ({exc})") from exc
    return state


def checkpoint_epochs(path) -> int:
    """How many epochs the checkpoint at ``path`` holds.

    Parameters
    ----------
    path : str or Path
        A checkpoint written by :class:`TrainingCheckpoint`.

    Returns
    -------
    epochs : int
    """
    return len(_read(path)["history"])


def _restore_into(estimator, state, path):
    """``estimator`` (with the checkpoint's parameters) in the checkpoint's state."""
    _check_resumable(estimator, state, path)
    for k, doc in state["fitted"].items():
        if k not in _FITTED:
            raise ValueError(f"{path}: unexpected fitted attribute {k!r}")
        setattr(estimator, k, _from_json_value(doc))
    # building the network draws initial weights: not from the user's RNG
    with torch.random.fork_rng(devices=[]):
        estimator.initialize()
    try:
        for kind, names in (
            ("modules", estimator._modules),
            ("criteria", estimator._criteria),
            ("optimizers", estimator._optimizers),
        ):
            stored = state["torch"][kind]
            if set(stored) != set(names):
                raise ValueError(f"it holds {kind} {sorted(stored)}, not {names}")
            for name in names:
                getattr(estimator, name + "_").load_state_dict(stored[name])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise ValueError(
            f"{path} does not fit a {type(estimator).__name__} with these parameters "
            f"({exc}); delete it or choose another checkpoint path"
        ) from exc
    estimator.history_ = History(state["history"])
    if state["rng"] is not None:
        estimator.rng_state_ = {
            "cpu": state["rng"]["cpu"],
            "cuda": state["rng"]["cuda"],
        }
    estimator.set_params(max_epochs=state["max_epochs"])
    return estimator


def _check_resumable(estimator, state, path):
    if state["estimator"] != type(estimator).__name__:
        raise ValueError(
            f"{path} holds a {state['estimator']}, not a {type(estimator).__name__}; "
            "delete it or choose another checkpoint path"
        )
    ours = {
        k: [_fingerprint(v), repr(v)] for k, v in training_params(estimator).items()
    }
    theirs = state["params"]
    differ = sorted(
        k
        for k in ours.keys() | theirs.keys()
        if (ours.get(k) or [None])[0] != (theirs.get(k) or [None])[0]
    )
    if differ:
        changes = ", ".join(
            f"{k}: {(theirs.get(k) or [0, '(none)'])[1]} -> "
            f"{(ours.get(k) or [0, '(none)'])[1]}"
            for k in differ
        )
        raise ValueError(
            f"{path} was trained with other parameters ({changes}); only "
            f"{sorted(_RESUMABLE_CHANGES)} may change on resume. Delete it or "
            "choose another checkpoint path"
        )


class TrainingCheckpoint(Callback):
    """Save the estimator's trained state after every epoch (atomically).

    Usually added by :func:`fit_or_resume`, which also reads it back. The file
    holds the weights, optimizer, criterion, history, fitted attributes and
    RNG state, the parameters trained with, the total number of epochs asked
    for, and a fingerprint of the training data (module docstring: as data).

    Parameters
    ----------
    path : str or Path
        The checkpoint file, overwritten after each epoch.
    max_epochs : int
        The total number of epochs the run is to reach.
    data : str
        :func:`data_fingerprint` of the training data.
    keep_epochs : iterable of int, default=()
        Epochs of which a separate copy is kept (:func:`snapshot_path`), e.g.
        to evaluate the model at several training lengths.
    """

    def __init__(self, path, max_epochs, data, keep_epochs=()):
        self.path = path
        self.max_epochs = max_epochs
        self.data = data
        self.keep_epochs = keep_epochs

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        state = _state(net, self.max_epochs, self.data)
        _save(state, self.path)
        if epoch in set(self.keep_epochs):
            _save(state, snapshot_path(self.path, epoch))


def load_checkpoint(path, estimator):
    """``estimator`` as the checkpoint at ``path`` left it (its last epoch).

    Parameters
    ----------
    path : str or Path
        A checkpoint written by :class:`TrainingCheckpoint`.
    estimator : sk_guessfirst estimator
        With the parameters the checkpoint was trained with (only
        ``max_epochs``, ``callbacks``, ``verbose``, ``device`` and
        ``warm_start`` may differ); it is initialised and given the stored
        state. Its ``max_epochs`` becomes the total the run was asked to
        reach; its callbacks stay its own.

    Returns
    -------
    estimator : the fitted estimator passed in.

    Raises
    ------
    ValueError
        The file is not a checkpoint of this package (nothing in it ran), or
        was trained with other parameters.
    """
    return _restore_into(estimator, _read(path), path)


def fit_or_resume(estimator, X, y, path, *, keep_epochs=()):
    """Train ``estimator`` to ``max_epochs`` epochs in total, resuming from ``path``.

    Without a checkpoint at ``path`` this is ``estimator.fit(X, y)`` with a
    :class:`TrainingCheckpoint` writing ``path`` after every epoch. With one,
    training continues from its last complete epoch up to ``max_epochs`` in
    total (never ``max_epochs`` more), with the RNG state it had: given
    ``random_state``, the result equals an uninterrupted ``fit``. Raising
    ``max_epochs`` continues a finished run (e.g. 50 -> 200 epochs).

    Parameters
    ----------
    estimator : sk_guessfirst estimator
        Unfitted, or with the parameters of the checkpoint's run; only
        ``max_epochs``, ``callbacks``, ``verbose``, ``device`` and
        ``warm_start`` may differ from the run that wrote the checkpoint.
    X, y : array-like
        The training data; must be the checkpoint's (checked by fingerprint).
    path : str or Path
        Checkpoint file; its folder must exist.
    keep_epochs : iterable of int, default=()
        Epochs to keep a copy of (:func:`snapshot_path`).

    Returns
    -------
    estimator : the estimator passed in, fitted.

    Raises
    ------
    ValueError
        If the checkpoint is not one (nothing in it ran), was written for
        other parameters or data, or holds more epochs than ``max_epochs`` and
        no snapshot of that epoch.
    KeyboardInterrupt
        Propagated; the checkpoint then holds the last complete epoch.
    """
    path = Path(path)
    total = estimator.max_epochs
    data = data_fingerprint(X, y)
    checkpoint = TrainingCheckpoint(path, total, data, keep_epochs=tuple(keep_epochs))
    own = list(estimator.callbacks or [])
    verbose = estimator.verbose
    if not path.exists():
        estimator.set_params(callbacks=[*own, checkpoint])
        try:
            return estimator.fit(X, y)
        finally:
            estimator.set_params(callbacks=own or None)

    state = _resumable_state(estimator, path, data)
    done = len(state["history"])
    if done > total:
        return _finish(
            load_checkpoint(snapshot_path(path, total), estimator), total, own
        )
    resumed = _restore_into(estimator, state, path)
    if done == total:
        return _finish(resumed, total, own)
    # the device stays the estimator's ("auto" resolves at use), so a
    # GPU-trained run resumes on a machine without one
    resumed.set_params(max_epochs=total - done, callbacks=[*own, checkpoint],
                       verbose=verbose)  # fmt: skip
    try:
        resumed.partial_fit(X, y)
    finally:
        _finish(resumed, total, own)
    return resumed


def _resumable_state(estimator, path: Path, data: str) -> dict:
    """The checkpoint at ``path`` if ``estimator`` can resume it on data of
    fingerprint ``data`` to its ``max_epochs``; ValueError otherwise."""
    state = _read(path)
    _check_resumable(estimator, state, path)
    if state["data"] != data:
        raise ValueError(
            f"{path} was trained on other data than the X and y given; delete it "
            "or choose another checkpoint path"
        )
    done, total = len(state["history"]), estimator.max_epochs
    if done > total and not snapshot_path(path, total).exists():
        raise ValueError(
            f"{path} holds {done} epochs, more than max_epochs={total}, and no "
            f"copy of epoch {total}; ask for at least {done} epochs or use another path"
        )
    return state


def check_checkpoint(estimator, X, y, path) -> None:
    """Refuse, before anything is trained or written, a checkpoint that
    :func:`fit_or_resume` would refuse.

    Parameters
    ----------
    estimator : sk_guessfirst estimator
        With the parameters the run would resume with.
    X, y : array-like
        The training data.
    path : str or Path
        The checkpoint (nothing is checked when there is none).

    Raises
    ------
    ValueError
        As :func:`fit_or_resume` would: not a checkpoint, other parameters or
        data, or more epochs than ``max_epochs`` without a copy of that epoch.
    """
    path = Path(path)
    if path.exists():
        _resumable_state(estimator, path, data_fingerprint(X, y))


def _finish(estimator, total: int, callbacks: list) -> Any:
    estimator.set_params(max_epochs=total, callbacks=callbacks or None)
    return estimator
