"""The run folder: settings, per-epoch checkpoints, and finished evaluation cells.

Everything in it is written atomically (a temporary file, then a rename), so
a run stopped at any moment (Ctrl-C, SIGKILL) leaves only complete epochs and
complete cells, and the same command resumes it::

    run.json                      the settings of the last run
    models/<model>.ckpt           last complete epoch (fit_or_resume)
    models/<model>.epoch<k>.ckpt  kept copies (--keep-epochs)
    cells/<evaluation>/<model>-e<epochs>-<params>/<cell>.pkl   one result each
    results.md / .csv / .rst      written last: the run is finished

A checkpoint is resumed only by a model with the same parameters and data
(:func:`~sk_guessfirst.checkpoint.fit_or_resume` checks both), and cells are
keyed by the model's epochs and parameters, so a changed setting never
reuses a stale result.
"""

from __future__ import annotations

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
        key = f"{model.name}-e{len(model.estimator.history)}-{model.params}"
        return self.cells / key / f"{cell}.pkl"

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
    """A trained model of the run: its name, the estimator, a parameter hash.

    The hash covers the parameters that differ from the estimator's defaults,
    so that a parameter added to the package later (at its default) does not
    orphan the cells of models trained before.
    """

    def __init__(self, name, estimator):
        self.name, self.estimator = name, estimator
        defaults = type(estimator)().get_params(deep=False)
        changed = {
            k: v
            for k, v in training_params(estimator).items()
            if k not in defaults or joblib.hash(v) != joblib.hash(defaults[k])
        }
        self.params = evaluation_hash(changed)


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
