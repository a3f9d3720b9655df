"""The run folder: settings, per-epoch checkpoints, and finished evaluation cells.

Everything in it is written atomically (a temporary file, then a rename), so
a run stopped at any moment (Ctrl-C, SIGKILL) leaves only complete epochs and
complete cells, and the same command resumes it::

    run.json                      the settings of the last run
    models/<model>.ckpt           last complete epoch (fit_or_resume)
    models/<model>.epoch<k>.ckpt  kept copies (--keep-epochs)
    cells/<evaluation>/<model>-e<epochs>-<params>/<cell>.pkl   one result each
    results.csv / .rst, plots     rewritten after each model: the models so far
    results.md                    written last: the run is finished

A checkpoint is resumed only by a model with the same parameters and data
(:func:`~sk_guessfirst.checkpoint.fit_or_resume` checks both), and cells are
keyed by the model's epochs and parameters, so a changed setting never
reuses a stale result. The keys are known before training: ``cells/`` alone
(no weights) resumes a run's evaluation on another machine.
"""

from __future__ import annotations

import copy
import json
import pickle
import shutil
import zlib
from dataclasses import asdict
from pathlib import Path

import joblib

from ..checkpoint import fit_or_resume, save_atomic, training_params


class RunDirectory:
    """The output folder of one experiment."""

    def __init__(self, out, settings, *, force=False):
        self.path = Path(out)
        self.settings = settings
        try:
            (self.path / "models").mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise PermissionError(
                f"cannot write to output folder {self.path}: {exc}. "
                "Choose another --out."
            ) from exc
        self.results = self.path / "results.md"
        run_json = self.path / "run.json"
        previous = json.loads(run_json.read_text()) if run_json.exists() else None
        if previous is not None and not force:
            if self.results.exists() and previous.get("settings") == _jsonable(
                settings
            ):
                raise FileExistsError(
                    f"{self.path} already holds a finished run with these settings "
                    f"({self.results.name}); choose another --out, raise --epochs to "
                    "train further, or pass --force to start over"
                )
        if force:
            for name in ("models", "cells"):
                shutil.rmtree(self.path / name, ignore_errors=True)
            (self.path / "models").mkdir()
        # results.md marks the run in run.json finished: a run starting now
        # (other settings, or the same ones not yet finished) is not
        self.results.unlink(missing_ok=True)
        save_atomic_json({"settings": _jsonable(settings)}, run_json)
        self.cells = self.path / "cells" / settings.evaluation_key()

    # -- models --------------------------------------------------------------
    def checkpoint(self, name):
        return self.path / "models" / f"{name}.ckpt"

    def trained(self, name, estimator, X, y, keep_epochs=()):
        """Train (or resume, or load) ``name`` to its ``max_epochs``."""
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
        return self.cells / model.key / f"{cell}.pkl"

    def cell(self, model, cell, compute):
        """The stored result of ``cell``, or ``compute()``'s, stored when complete.

        Returns (result, computed_now).
        """
        path = self.cell_path(model, cell)
        if path.exists():
            try:
                with open(path, "rb") as f:
                    return pickle.load(f), False
            except (pickle.UnpicklingError, EOFError, AttributeError):
                path.unlink()  # unreadable: recompute rather than trust
        result = compute()
        path.parent.mkdir(parents=True, exist_ok=True)
        save_atomic(result, path)
        return result, True


class Trained:
    """A model of the run, trained (or loaded) on first use.

    Its cells are keyed by name, epochs and a hash of the parameters that
    differ from the estimator's defaults (so that a parameter added to the
    package later, at its default, does not orphan the cells of models trained
    before). The key is known before training: a model whose cells are all
    stored is never trained, so a run folder's ``cells/`` alone, carried to a
    new machine, resumes the evaluation without the weights.

    Parameters
    ----------
    name : str
    estimator : estimator
        Unfitted (or fitted) estimator with the model's parameters.
    epochs : int
        The epochs the fitted model will have.
    fit : callable
        ``fit()`` returns the fitted estimator; called once, on first use.
    """

    def __init__(self, name, estimator, epochs, fit):
        self.name, self.epochs, self._fit, self._fitted = name, epochs, fit, None
        defaults = type(estimator)().get_params(deep=False)
        changed = {
            k: v
            for k, v in training_params(estimator).items()
            if k not in defaults or joblib.hash(v) != joblib.hash(defaults[k])
        }
        self.params = evaluation_hash(changed)

    @property
    def key(self):
        return f"{self.name}-e{self.epochs}-{self.params}"

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


def table_cell(mode, attack, eps):
    """The name of a table cell; also what the studies pair their runs with."""
    return f"{mode}-{attack}-{eps}"


def cell_seed(seed, *parts):
    """A per-cell seed: the same cell always sees the same random starts."""
    return (zlib.crc32("|".join(map(str, (seed, *parts))).encode()) + seed) % 2**31


def evaluation_hash(obj):
    return joblib.hash(obj)[:10]


def _jsonable(settings):
    return json.loads(json.dumps(asdict(settings), default=str))


def save_atomic_json(obj, path):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)
