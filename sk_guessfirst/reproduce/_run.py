"""The run folder: settings, per-epoch checkpoints, and finished evaluation cells.

::

    run.json                      the settings of the run (what makes it a run folder)
    .lock                         held by the one process writing the folder
    models/<data>/<model>.ckpt           last complete epoch (fit_or_resume)
    models/<data>/<model>.epoch<k>.ckpt  kept copies (--keep-epochs)
    cells/<evaluation>/<model>-e<epochs>-<hash>/<cell>.npz   one result each
    results.csv / .rst, plots     rewritten after each model: the models so far
    results.md                    written last: the run is finished

Nothing here is read as code: checkpoints are read with
``torch.load(weights_only=True)`` and cells are plain data
(:mod:`sk_guessfirst._plaindata`), so a planted file is refused, naming it.

A cell's result depends on the data set, the training data, the attacked
images, the budget's numbers, the seed, the model's name, epochs and
parameters and, for black-box cells, the substitute. All of it is the cell's
*key*: its folder names are short hashes of it, and the cell file records it
in full. A cell whose recorded key differs from the one expected where it was
found (copied, swapped, or from another run) is refused and recomputed, as is
a damaged one. The keys are known before training: ``cells/`` and
``run.json`` alone (no weights) resume a run's evaluation on another machine.

Everything is written atomically (a temporary file, then a rename), so a run
stopped at any moment (Ctrl-C, SIGTERM, SIGKILL, a full disk) leaves only
complete epochs and cells, and the same command resumes it. One process at a
time writes a folder (an ``fcntl`` lock on ``.lock``); ``--force`` empties
only a run folder, and a folder holding anything else is never written to.
"""

from __future__ import annotations

import copy
import errno
import fcntl
import json
import os
import platform
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib

from .._plaindata import UnreadableFile, dump, load, write_json_atomic
from ..checkpoint import data_fingerprint, fit_or_resume, training_params

RUN_JSON = "run.json"
LOCK = ".lock"
FINISHED = "results.md"
# what --force may delete in a run folder: the run's own outputs, never others
_OWN_DIRS = ("models", "cells")
_OWN_FILES = ("results.md", "results.csv", "results.rst", "report.md", "medians.rst",
              "training_length.md", "training_length.rst", "training_length.png",
              "views.md", "views.rst")  # fmt: skip
_OWN_GLOBS = ("curves_*.png",)


class FolderInUse(OSError):
    """Another process holds the run folder's lock."""


def _is_own_output(path: Path) -> bool:
    return path.name in _OWN_FILES or any(path.match(g) for g in _OWN_GLOBS)


class RunDirectory:
    """The output folder of one experiment, locked for this process.

    Parameters
    ----------
    out : path-like
    settings : Settings
        The resolved settings (stored in run.json).
    data : dict
        What the cells depend on besides the settings: the data set, the
        training and attacked images' fingerprints and sizes (``reproduce``
        computes them from the arrays).
    force : bool
        Start over: delete the run's models, cells and outputs first (only
        in a run folder or an empty one).
    """

    def __init__(self, out, settings, data: dict, *, force=False):
        self.path = Path(out)
        self.settings = settings
        self.data = dict(data)
        run_json = self.path / RUN_JSON
        if self.path.exists() and not self.path.is_dir():
            raise NotADirectoryError(f"--out {self.path} is a file, not a folder")
        if self.path.is_dir() and not run_json.exists():
            others = sorted(p.name for p in self.path.iterdir() if p.name != LOCK)
            if others:
                shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
                raise FileExistsError(
                    f"{self.path} is not empty and is not a run folder (no {RUN_JSON}; "
                    f"it holds {shown}); nothing was written or deleted there. Choose "
                    "a new or empty --out (to resume carried cells, copy the run's "
                    f"{RUN_JSON} beside its cells/)"
                )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.path / LOCK, "a+")
        except OSError as exc:
            raise PermissionError(
                f"cannot write to output folder {self.path}: {exc.strerror or exc}. "
                "Choose another --out."
            ) from exc
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._lock.close()
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise FolderInUse(
                f"{self.path} is being written by another sk-guessfirst process "
                f"({_holder(self.path / LOCK)}); wait for it to finish, or choose "
                "another --out"
            ) from None
        try:
            self._open(run_json, force)
        except BaseException:
            self.close()
            raise
        self.results = self.path / FINISHED
        self.cells = self.path / "cells" / evaluation_key(settings, self.data)

    def _open(self, run_json: Path, force: bool) -> None:
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f"pid {os.getpid()} on {platform.node()}\n")
        self._lock.flush()
        previous = _read_run_json(run_json) if run_json.exists() else None
        settings = _jsonable(self.settings)
        if previous is not None and not force:
            finished = self.path / FINISHED
            # the thread count is recorded, not compared: it moves the
            # numbers of models trained from now on, not the finished ones
            if finished.exists() and _but_threads(previous.get("settings")) == (
                _but_threads(settings)
            ):
                raise FileExistsError(
                    f"{self.path} already holds a finished run with these settings "
                    f"({FINISHED}); choose another --out, raise --epochs to train "
                    "further, or pass --force to start over"
                )
        if force:
            for name in _OWN_DIRS:
                shutil.rmtree(self.path / name, ignore_errors=True)
            for p in self.path.iterdir():
                if p.is_file() and _is_own_output(p):
                    p.unlink()
        # leftovers of writes cut short (SIGKILL): the lock says no one else
        # is writing, so every temporary file here is dead
        for tmp in self.path.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        # results.md marks the run in run.json finished: a run starting now
        # (other settings, or the same ones not yet finished) is not
        (self.path / FINISHED).unlink(missing_ok=True)
        # run.json before anything else: a folder is a run folder from its
        # first file on (a failed first write leaves only the lock file)
        write_json_atomic(run_json, {"settings": settings, "data": self.data})
        (self.path / "models").mkdir(exist_ok=True)

    def close(self) -> None:
        """Release the folder's lock (also released when the process ends)."""
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()

    # -- models --------------------------------------------------------------
    def checkpoint(self, name):
        """The model's checkpoint, in a folder of its training data (other
        data, another size or subset: another model)."""
        data = (
            f"{self.data['dataset']}-{self.data['n_train']}-{self.data['train'][:10]}"
        )
        return self.path / "models" / data / f"{name}.ckpt"

    def trained(self, name, estimator, X, y, keep_epochs=()):
        """Train (or resume, or load) ``name`` to its ``max_epochs``."""
        self.checkpoint(name).parent.mkdir(parents=True, exist_ok=True)
        try:
            return fit_or_resume(
                estimator, X, y, self.checkpoint(name), keep_epochs=keep_epochs
            )
        except ValueError as exc:
            if not self.checkpoint(name).exists():
                raise
            raise FileExistsError(
                f"{exc}. Pass --force to retrain every model, or delete "
                f"{self.checkpoint(name)} to retrain {name} alone"
            ) from exc

    # -- evaluation cells ----------------------------------------------------
    def cell_path(self, model, cell):
        return self.cells / model.key / f"{cell}.npz"

    def cell_key(self, model, cell, substitute=None) -> dict:
        """Everything the cell's result depends on (recorded in the cell)."""
        key = {
            "cell": cell,
            "model": model.full_key,
            "data": self.data,
            "evaluation": _evaluation_numbers(self.settings),
        }
        if substitute is not None:
            key["substitute"] = substitute.full_key
        return json.loads(json.dumps(key, default=str))

    def cell(self, model, cell, compute: Callable[[], Any], *, substitute=None,
             log: Callable[[str], None] | None = None):  # fmt: skip
        """The stored result of ``cell``, or ``compute()``'s, stored when complete.

        A stored cell is used only if it is readable plain data and records
        the key expected here; otherwise it is recomputed (and ``log`` says
        why). Returns (result, computed_now).
        """
        found = self.stored(model, cell, substitute=substitute, log=log)
        if found is not None:
            return found[0], False
        result = compute()
        self.store(model, cell, result, substitute=substitute)
        return result, True

    def stored(self, model, cell, *, substitute=None, log=None):
        """``(result,)`` if ``cell`` is stored with the key expected here, else
        None (a refused file is said in ``log``, and left to be overwritten)."""
        path = self.cell_path(model, cell)
        if not path.exists():
            return None
        try:
            result, meta = load(path)
        except UnreadableFile as exc:
            reason = str(exc).split(" (", 1)[-1].split("); nothing", 1)[0]
            _say(log, f"  refused {path}: not a readable cell ({reason}); recomputing")
            return None
        key = self.cell_key(model, cell, substitute)
        if meta.get("key") != key:
            differ = _differing(meta.get("key"), key)
            _say(log, f"  refused {path}: it records another cell's key "
                      f"({differ}); recomputing")  # fmt: skip
            return None
        return (result,)

    def store(self, model, cell, result, *, substitute=None) -> None:
        """Write ``result`` as ``cell`` of ``model``, atomically, with its key."""
        path = self.cell_path(model, cell)
        key = self.cell_key(model, cell, substitute)
        path.parent.mkdir(parents=True, exist_ok=True)
        dump(result, path, meta={"key": key, "provenance": provenance()})


class Trained:
    """A model of the run, trained (or loaded) on first use.

    Its cells are keyed by name, epochs, the parameters that differ from the
    estimator's defaults (so that a parameter added to the package later, at
    its default, does not orphan the cells of models trained before) and the
    run's data. The key is known before training: a model whose cells are all
    stored is never trained, so a run folder's ``cells/`` alone, carried to a
    new machine, resumes the evaluation without the weights.

    Parameters
    ----------
    name : str
    estimator : estimator
        Unfitted estimator with the model's parameters (also the template that
        a checkpoint is loaded into).
    epochs : int
        The epochs the fitted model will have.
    fit : callable
        ``fit()`` returns the fitted estimator; called once, on first use.
    """

    def __init__(self, name, estimator, epochs, fit, params=None):
        self.name, self.epochs, self._fit, self._fitted = name, epochs, fit, None
        self.template = estimator
        if params is not None:  # a model from elsewhere says what it is
            self.params = dict(params)
            return
        defaults = type(estimator)().get_params(deep=False)
        self.params = {
            k: repr(v)
            for k, v in sorted(training_params(estimator).items())
            if k not in defaults or joblib.hash(v) != joblib.hash(defaults[k])
        }

    @property
    def full_key(self) -> dict:
        return {"name": self.name, "epochs": self.epochs, "params": self.params}

    @property
    def key(self):
        return f"{self.name}-e{self.epochs}-{short_hash(self.params)}"

    @property
    def estimator(self):
        """The fitted estimator (trained or loaded now if it was not yet)."""
        if self._fitted is None:
            self._fitted = self._fit()
        return self._fitted

    def at_epoch(self, epoch, fit):
        """The same model as it was after ``epoch`` epochs (a kept snapshot)."""
        snapshot = copy.copy(self)
        snapshot.epochs, snapshot._fit, snapshot._fitted = epoch, fit, None
        return snapshot


def short_hash(obj) -> str:
    return joblib.hash(json.loads(json.dumps(obj, default=str)))[:10]


def _evaluation_numbers(settings) -> dict:
    from dataclasses import asdict, replace

    from ._plan import BUDGETS

    budget = asdict(replace(BUDGETS[settings.budget], summary=""))
    return {"budget": budget, "n_eval": settings.n_eval, "seed": settings.seed}


def evaluation_key(settings, data: dict) -> str:
    """The folder of a run's cells: the budget's name and a hash of its numbers
    (not its description), the attacked images and the seed, and the data."""
    return f"{settings.budget}-{short_hash([_evaluation_numbers(settings), data])}"


def provenance() -> dict:
    """What computed a cell (recorded, not keyed: see the user guide)."""
    import numpy
    import torch

    from .. import __version__

    return {
        "sk_guessfirst": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def _differing(stored, expected) -> str:
    if not isinstance(stored, dict):
        return "no key"
    names = sorted(k for k in stored.keys() | expected.keys()
                   if stored.get(k) != expected.get(k))  # fmt: skip
    return "differs in " + ", ".join(names)


def _say(log, message):
    if log is not None:
        log(message)


def _holder(lock: Path) -> str:
    try:
        return lock.read_text().strip() or "pid unknown"
    except OSError:
        return "pid unknown"


def _read_run_json(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a readable run.json ({exc}); fix or delete it (it holds "
            "the run's settings), or choose another --out"
        ) from exc
    if not isinstance(doc, dict):
        raise ValueError(f"{path} is not a run.json (not a JSON object); delete it")
    return doc


def _jsonable(settings):
    from dataclasses import asdict

    return json.loads(json.dumps(asdict(settings), default=str))


def data_key(settings, X, y, Xe, ye):
    """What the cells depend on in the data: the data set and fingerprints of
    the training and attacked images (a changed subset, size or file is a new
    key)."""
    return {
        "dataset": settings.dataset,
        "n_train": len(X),
        "train": data_fingerprint(X, y),
        "n_eval": len(Xe),
        "eval": data_fingerprint(Xe, ye),
    }


def _but_threads(settings: dict | None) -> dict | None:
    if settings is None:
        return None
    return {k: v for k, v in settings.items() if k != "threads"}
