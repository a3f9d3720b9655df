"""Training that survives being stopped: a checkpoint after every epoch, and resume.

skorch's ``Checkpoint``/``LoadInitState`` pair restores parameters, optimizer
and history, but not the random number generator, and a resumed ``fit`` then
trains ``max_epochs`` *more* epochs (skorch issue 674). Here a checkpoint is
the whole estimator, pickled after every epoch together with the state of
torch's RNG (``rng_state_``), and :func:`fit_or_resume` trains to exactly
``max_epochs`` epochs in total: with ``random_state`` set, a run stopped at
any moment (Ctrl-C, SIGKILL, power cut) and resumed gives the same model, bit
for bit on the same machine, as a run that was never stopped.

Files are written to a temporary name and renamed into place, so a
checkpoint on disk is always a complete epoch.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import joblib
import numpy as np
from skorch.callbacks import Callback

FORMAT = 1
# Parameters that may differ between the run that wrote a checkpoint and the
# one that resumes it: how long to train, how to report, where to compute.
_RESUMABLE_CHANGES = {"max_epochs", "callbacks", "verbose", "device", "warm_start"}


def data_fingerprint(X, y) -> str:
    """A hash of the training data: a checkpoint is never resumed on other data.

    Flat and image layouts of the same samples hash alike (the network is
    built from ``input_shape_``, which the checkpoint holds).
    """
    X = np.asarray(X)
    return joblib.hash((X.reshape(len(X), -1), np.asarray(y)))


def training_params(estimator) -> dict:
    """The parameters a trained model depends on (not how long, where, or how
    verbosely it trained)."""
    params = estimator.get_params(deep=False)
    return {k: v for k, v in params.items() if k not in _RESUMABLE_CHANGES}


def snapshot_path(path, epoch: int) -> Path:
    """Where :class:`TrainingCheckpoint` keeps its copy of epoch ``epoch``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.epoch{epoch}{path.suffix}")


def save_atomic(obj, path) -> None:
    """Pickle ``obj`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class TrainingCheckpoint(Callback):
    """Save the whole estimator after every epoch (atomically), to resume from.

    Usually added by :func:`fit_or_resume`, which also reads it back. The file
    holds the estimator with its optimizer, history and RNG state, the total
    number of epochs asked for, and a fingerprint of the training data.

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
        state = {
            "format": FORMAT,
            "estimator": net,
            "max_epochs": self.max_epochs,
            "data": self.data,
        }
        save_atomic(state, self.path)
        if epoch in set(self.keep_epochs):
            save_atomic(state, snapshot_path(self.path, epoch))


def load_checkpoint(path):
    """The estimator saved in a checkpoint, as it was at the end of its last epoch.

    Its ``max_epochs`` is the total the run was asked to reach and its
    ``callbacks`` are the user's own (the checkpoint callback is removed).
    """
    state = _read(path)
    return _restore(state)


def _read(path):
    path = Path(path)
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise ValueError(
            f"{path} is not a readable training checkpoint ({exc}); delete it to "
            "train from scratch"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a training checkpoint of this version of sk_guessfirst "
            f"(format {FORMAT}); delete it to train from scratch"
        )
    return state


def _restore(state):
    est = state["estimator"]
    own = [cb for cb in (est.callbacks or []) if not isinstance(cb, TrainingCheckpoint)]
    est.set_params(callbacks=own or None, max_epochs=state["max_epochs"])
    return est


def _check_resumable(estimator, state, data, path):
    saved = state["estimator"]
    if type(saved) is not type(estimator):
        raise ValueError(
            f"{path} holds a {type(saved).__name__}, not a {type(estimator).__name__}; "
            "delete it or choose another checkpoint path"
        )
    ours, theirs = training_params(estimator), training_params(saved)
    differ = sorted(
        k
        for k in ours.keys() | theirs.keys()
        if joblib.hash(ours.get(k)) != joblib.hash(theirs.get(k))
    )
    if differ:
        changes = ", ".join(
            f"{k}: {theirs.get(k)!r} -> {ours.get(k)!r}" for k in differ
        )
        raise ValueError(
            f"{path} was trained with other parameters ({changes}); only "
            f"{sorted(_RESUMABLE_CHANGES)} may change on resume. Delete it or "
            "choose another checkpoint path"
        )
    if state["data"] != data:
        raise ValueError(
            f"{path} was trained on other data than the X and y given; delete it "
            "or choose another checkpoint path"
        )


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
    estimator : the fitted estimator (the one passed in when training
        starts from scratch, the one loaded from ``path`` otherwise).

    Raises
    ------
    ValueError
        If the checkpoint was written for other parameters or data, or holds
        more epochs than ``max_epochs`` and no snapshot of that epoch.
    KeyboardInterrupt
        Propagated; the checkpoint then holds the last complete epoch.
    """
    path = Path(path)
    total = estimator.max_epochs
    data = data_fingerprint(X, y)
    checkpoint = TrainingCheckpoint(path, total, data, keep_epochs=tuple(keep_epochs))
    own = list(estimator.callbacks or [])
    if not path.exists():
        estimator.set_params(callbacks=[*own, checkpoint])
        try:
            return estimator.fit(X, y)
        finally:
            estimator.set_params(callbacks=own or None)

    state = _read(path)
    _check_resumable(estimator, state, data, path)
    done = len(state["estimator"].history)
    if done > total:
        snapshot = snapshot_path(path, total)
        if snapshot.exists():
            return load_checkpoint(snapshot)
        raise ValueError(
            f"{path} holds {done} epochs, more than max_epochs={total}, and no "
            f"copy of epoch {total}; ask for at least {done} epochs or use another path"
        )
    resumed = _restore(state)
    if done == total:
        return resumed
    # the device stays the one the checkpoint was loaded onto ("auto" resolves
    # at use), so a GPU-trained run resumes on a machine without one
    resumed.set_params(
        max_epochs=total - done, callbacks=[*own, checkpoint], verbose=estimator.verbose
    )
    try:
        resumed.partial_fit(X, y)
    finally:
        resumed.set_params(max_epochs=total, callbacks=own or None)
    return resumed
