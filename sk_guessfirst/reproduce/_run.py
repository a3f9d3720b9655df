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
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from .._plaindata import (
    UnreadableFile,
    check_mask,
    dump,
    load,
    write_json_atomic,
)
from ..checkpoint import (
    data_fingerprint,
    fit_or_resume,
    training_params,
    weights_fingerprint,
)

RUN_JSON = "run.json"
LOCK = ".lock"
FINISHED = "results.md"
# what --force may delete in a run folder: the run's own outputs, never others
_OWN_DIRS = ("models", "cells")
_OWN_FILES = ("results.md", "results.csv", "results.rst", "report.md", "medians.rst",
              "training_length.md", "training_length.rst", "training_length.png",
              "views.md", "views.rst")  # fmt: skip
_OWN_GLOBS = ("curves_*.png",)


class RunFinished(FileExistsError):
    """The folder holds a finished run with these very settings."""


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
    preflight : callable or None
        ``preflight(run)`` raises for what the run would refuse later (a
        checkpoint of other parameters); called under the lock, before
        anything in the folder changes.
    """

    def __init__(self, out, settings, data: dict, *, force=False, preflight=None):
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
            self._lock = _open_lock(self.path / LOCK)
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
            previous = _read_run_json(run_json) if run_json.exists() else None
            if preflight is not None and not force:
                preflight(self)
            self._open(run_json, previous, force)
        except BaseException:
            self.close()
            raise
        self.results = self.path / FINISHED
        self.cells = self.path / "cells" / evaluation_key(settings, self.data)
        self.environments: dict[str, set] = {}

    def _open(self, run_json: Path, previous: dict | None, force: bool) -> None:
        settings = _jsonable(self.settings)
        if previous is not None and not force:
            finished = self.path / FINISHED
            # the thread count is recorded, not compared: it moves the
            # numbers of models trained from now on, not the finished ones
            if finished.exists() and _but_threads(previous.get("settings")) == (
                _but_threads(settings)
            ):
                raise RunFinished(
                    f"{self.path} already holds a finished run with these settings "
                    f"({FINISHED}); choose another --out, raise --epochs to train "
                    "further, or pass --force to start over"
                )
        # every refusal is decided: from here on the folder changes
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f"pid {os.getpid()} on {platform.node()}\n")
        self._lock.flush()
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
        path = self.cells / model.key / f"{cell}.npz"
        if not _plain_name(model.key) or not _plain_name(cell):
            raise ValueError(
                f"the cell {model.key}/{cell} would be written outside {self.cells}: "
                "model and cell names are letters, digits and . _ + - only (no path)"
            )
        return path

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
             log: Callable[[str], None] | None = None, size=None):  # fmt: skip
        """The stored result of ``cell``, or ``compute()``'s, stored when complete.

        A stored cell is used only if it is readable plain data and records
        the key expected here; otherwise it is recomputed (and ``log`` says
        why). Returns (result, computed_now).
        """
        found = self.stored(model, cell, substitute=substitute, log=log, size=size)
        if found is not None:
            return found[0], False
        result = compute()
        self.store(model, cell, result, substitute=substitute)
        return result, True

    def read(self, model, cell, *, substitute=None, log=None, size=None):
        """``(result, meta)`` if ``cell`` is stored as readable plain data with
        the key expected here (whatever weights it records) and ``size``
        examples (when given), else None (a refused file is said in ``log``,
        and left to be overwritten)."""
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
        try:
            n = n_examples(result)
        except ValueError as exc:
            _say(log, f"  refused {path}: not a readable cell ({exc}); recomputing")
            return None
        if size is not None and n != size:
            _say(log, f"  refused {path}: it holds {n} examples, not the run's "
                      f"{size}; recomputing")  # fmt: skip
            return None
        return result, meta

    def stored(self, model, cell, *, substitute=None, log=None, size=None):
        """``(result,)`` if ``cell`` is stored with the key expected here and was
        computed on ``model``'s weights (its settled fingerprint: the model is
        trained or loaded first if :meth:`settle` did not settle it), else None
        (a refused file is said in ``log``, and left to be overwritten)."""
        found = self.read(model, cell, substitute=substitute, log=log, size=size)
        if found is None:
            return None
        result, meta = found
        recorded = recorded_weights(meta)
        if recorded != model.settled_weights():
            theirs = recorded[:10] if recorded else "none: a cell from before them"
            _say(log, f"  refused {self.cell_path(model, cell)}: computed on other "
                      f"weights (fingerprint {theirs}; this training's "
                      f"{model.settled_weights()[:10]}); recomputing")  # fmt: skip
            return None
        self._seen(model, meta)
        return (result,)

    def settle(self, model, cells, *, log=None) -> bool:
        """Settle which weights ``model``'s cells must record, from the store.

        ``cells`` are ``(cell name, substitute or None, size or None)``
        triples: every cell of the model. When all are stored with their keys
        and sizes and record one weights fingerprint (or all none: cells from
        before fingerprints, accepted as one training by the rule in
        runs/README.md), that is the model's, and it is never trained or
        loaded: returns True. Otherwise returns False, and the caller trains
        or loads the model (serially, ``model.settled_weights()`` does; on a
        cluster, the training task returns its fingerprint).
        """
        recorded = set()
        for cell, substitute, size in cells:
            found = self.read(model, cell, substitute=substitute, size=size)
            if found is None:
                return False
            recorded.add(recorded_weights(found[1]))
        if len(recorded) != 1:
            _say(log, f"  {model.name}: its stored cells record "
                      f"{len(recorded)} trainings; retraining and recomputing those "
                      "of other weights")  # fmt: skip
            return False
        model.settle(recorded.pop())
        return True

    def store(self, model, cell, result, *, substitute=None, weights=None,
              environment=None) -> None:  # fmt: skip
        """Write ``result`` as ``cell`` of ``model``, atomically, with its key,
        the weights it was computed on (``weights``: model's and substitute's
        fingerprints; by default those of the fitted models) and the numeric
        environment (``environment``: by default this process's)."""
        path = self.cell_path(model, cell)
        key = self.cell_key(model, cell, substitute)
        if weights is None:
            weights = {"model": model.settled_weights()}
            if substitute is not None:
                weights["substitute"] = substitute.known_weights()
        meta = {"key": key, "weights": weights,
                "provenance": environment or provenance(model._fitted)}  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        dump(result, path, meta=meta)
        self._seen(model, meta)

    def _seen(self, model, meta) -> None:
        env = meta.get("provenance")
        if isinstance(env, dict):
            numeric = tuple(sorted((k, str(env.get(k))) for k in NUMERIC_ENVIRONMENT))
            self.environments.setdefault(model.name, set()).add(numeric)

    def environment_note(self) -> str:
        """A sentence naming the models whose cells were computed under more
        than one numeric environment (empty when none were)."""
        parts = []
        for name, envs in self.environments.items():
            if len(envs) < 2:
                continue
            values: dict[str, set[str]] = {}
            for env in envs:
                for k, v in env:
                    values.setdefault(k, set()).add(v)
            differ = "; ".join(
                f"{k} {', '.join(sorted(v))}"
                for k, v in sorted(values.items())
                if len(v) > 1
            )
            parts.append(f"{name} ({differ})")
        if not parts:
            return ""
        return (
            "Cells computed under different numeric environments (each cell one "
            "training's weights, recorded in its provenance): " + ", ".join(parts)
        )


UNSETTLED = object()
# what moves the numbers of a computation besides its key (recorded, shown
# where the cells of one model disagree)
NUMERIC_ENVIRONMENT = ("torch", "torch_threads", "cpu_capability", "device")


def n_examples(result) -> int | None:
    """How many examples a stored result holds (None: not per example). A
    mask must be a 1-D boolean array (refused with ValueError otherwise)."""
    if isinstance(result, np.ndarray):
        return check_mask(result, "the mask")
    return getattr(result, "n_examples", None)


def recorded_weights(meta: dict) -> str | None:
    """The fingerprint of the weights a stored cell was computed on (None: a
    cell from before fingerprints)."""
    weights = meta.get("weights")
    found = weights.get("model") if isinstance(weights, dict) else None
    return found if isinstance(found, str) else None


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
        self._weights: Any = UNSETTLED
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
    def fitted(self) -> bool:
        return self._fitted is not None

    @property
    def estimator(self):
        """The fitted estimator (trained or loaded now if it was not yet)."""
        if self._fitted is None:
            self._fitted = self._fit()
            self._weights = weights_fingerprint(self._fitted)
        return self._fitted

    def settle(self, weights: str | None) -> None:
        """The weights this model's cells must record (from the store, or
        from a training elsewhere); a fitted model's are its own."""
        self._weights = weights

    def settled_weights(self) -> str | None:
        """The fingerprint of this model's weights (the model is trained or
        loaded first when it is neither fitted nor settled)."""
        if self._weights is UNSETTLED:
            self.estimator  # noqa: B018  (fits, and fingerprints)
        return self._weights

    def known_weights(self) -> str | None:
        """The fingerprint if settled or fitted, else None (never trains)."""
        return None if self._weights is UNSETTLED else self._weights

    def at_epoch(self, epoch, fit):
        """The same model as it was after ``epoch`` epochs (a kept snapshot)."""
        snapshot = copy.copy(self)
        snapshot.epochs, snapshot._fit, snapshot._fitted = epoch, fit, None
        snapshot._weights = UNSETTLED
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


def provenance(estimator=None) -> dict:
    """What computed a cell: versions and the numeric environment that moves
    numbers (threads, the processor's vector unit, the device of the
    weights). Recorded, not keyed: the weights' fingerprint is keyed."""
    import numpy
    import torch

    from .._version import __version__

    device = "cpu"
    if estimator is not None:
        net = estimator[-1] if hasattr(estimator, "steps") else estimator
        module = getattr(net, "module_", None)
        params = list(module.parameters()) if module is not None else []
        device = str(params[0].device) if params else "cpu"
    return {
        "sk_guessfirst": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "device": device,
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


def check_name(name: str, what: str = "--name") -> str:
    """``name`` if it names a model's folder of its own (ValueError if not)."""
    if not _plain_name(name):
        raise ValueError(
            f"{what} {name!r} is not a plain name: letters, digits and . _ + = - "
            "only, not starting with '.' (it names a folder inside --out)"
        )
    return name


def _plain_name(name: str) -> bool:
    """A file name of its own: no folder, no parent, not hidden."""
    return bool(_NAME.fullmatch(name)) and not name.startswith(".")


_NAME = re.compile(r"[A-Za-z0-9._+=-]+")


_NOT_A_LOCK = "{} is not a regular file; delete it (it is the run's lock file)"


def _open_lock(path: Path):
    """The folder's lock file, opened for writing without following a link; a
    lock that is a link or not a regular file is refused (writing the pid
    into it would write wherever it points)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags | os.O_NONBLOCK, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(
                exc.errno, f"{path} is a symbolic link, not the run's lock file; "
                "delete it (nothing was written through it)",
            ) from None  # fmt: skip
        if exc.errno == errno.EISDIR:
            raise OSError(exc.errno, _NOT_A_LOCK.format(path)) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, _NOT_A_LOCK.format(path))
    os.set_blocking(fd, True)
    return os.fdopen(fd, "a+")


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
    if not isinstance(doc, dict) or not all(
        isinstance(doc.get(k), dict) for k in ("settings", "data")
    ):
        raise ValueError(
            f"{path} is not a run.json (not a JSON object with the objects "
            "'settings' and 'data'); fix or delete it, or choose another --out"
        )
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
