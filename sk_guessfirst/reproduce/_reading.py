"""Run folders read, never written: their models, cells, values and keys.

What a finished (or stopped) ``reproduce``/``certify`` run holds, for analyses
that read stored results only (comparisons over trainings, curves across runs):
``open_run(path).models()``, ``.cells(model)``, ``.value(model, cell)``,
``.mask(model, cell)``. Nothing here trains, computes or writes; every file is
read as data (``_plaindata``), so a run folder received from someone else is
safe to open.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._plaindata import load
from ._run import _read_run_json


@dataclass(frozen=True)
class StoredCell:
    """One stored cell: which model (at which length) and cell, and its file."""

    model: str
    epochs: int
    name: str
    evaluation: str
    path: Path

    def read(self) -> tuple[Any, dict]:
        """Its value and its metadata (the full key, weights, provenance)."""
        return load(self.path)


def _model_folder(folder: Path) -> tuple[str, int] | None:
    """``C-DV+N0.5-e10-9b097a5c46`` -> ("C-DV+N0.5", 10); None where the name
    is not a model folder's."""
    parts = folder.name.rsplit("-", 2)
    if len(parts) != 3 or not parts[1][1:].isdigit() or parts[1][0] != "e":
        return None
    return parts[0], int(parts[1][1:])


class RunFolder:
    """A run folder opened for reading (:func:`open_run`).

    Attributes
    ----------
    path : Path
    settings : dict
        The settings it ran with (``run.json``).
    data : dict
        The data set, sizes and fingerprints of its training and attacked images.
    """

    def __init__(self, path: Path):
        self.path = path
        doc = _read_run_json(path / "run.json")
        self.settings: dict = doc["settings"]
        self.data: dict = doc["data"]

    def __repr__(self) -> str:
        return f"open_run({str(self.path)!r})"

    def cells(self, model: str | None = None, epochs: int | None = None):
        """Every stored cell (of ``model`` at ``epochs`` where given), sorted."""
        out = []
        for evaluation in sorted((self.path / "cells").glob("*/")):
            for folder in sorted(evaluation.glob("*/")):
                named = _model_folder(folder)
                if named is None or (model is not None and named[0] != model):
                    continue
                if epochs is not None and named[1] != epochs:
                    continue
                out += [
                    StoredCell(*named, f.stem, evaluation.name, f)
                    for f in sorted(folder.glob("*.npz"))
                    if not f.name.startswith("craft-")
                ]
        return out

    def models(self) -> dict[str, list[int]]:
        """Model name -> the training lengths it has cells for."""
        out: dict[str, set[int]] = {}
        for c in self.cells():
            out.setdefault(c.model, set()).add(c.epochs)
        return {m: sorted(e) for m, e in out.items()}

    def cell(self, model: str, cell: str, epochs: int | None = None) -> StoredCell:
        """The one stored cell of that name; a clear error where there is none
        or several (give ``epochs``)."""
        found = [c for c in self.cells(model, epochs) if c.name == cell]
        if len(found) == 1:
            return found[0]
        if not found:
            names = sorted({c.name for c in self.cells(model, epochs)})
            raise KeyError(
                f"{self.path} has no cell {cell!r} of {model}"
                + (f" at {epochs} epochs" if epochs is not None else "")
                + (f"; it has {names}" if names else f"; models: {list(self.models())}")
            )
        raise KeyError(
            f"{self.path} has {len(found)} cells {cell!r} of {model} (lengths "
            f"{sorted({c.epochs for c in found})}): pass epochs="
        )

    def value(self, model: str, cell: str, epochs: int | None = None) -> Any:
        """The stored result (an AttackResult, a mask, a Certificate, ...); a
        certificate stored in parts of images (``<cell>-images0-100``, ...) is
        their concatenation in image order."""
        parts = sorted(
            (
                c
                for c in self.cells(model, epochs)
                if c.name.startswith(cell + "-images")
            ),
            key=lambda c: int(c.name.rsplit("-images", 1)[1].split("-")[0]),
        )
        if not parts or any(c.name == cell for c in self.cells(model, epochs)):
            return self.cell(model, cell, epochs).read()[0]
        values = [c.read()[0] for c in parts]
        return type(values[0]).concatenate(values)

    def mask(
        self,
        model: str,
        cell: str,
        epochs: int | None = None,
        radius: float | None = None,
    ) -> np.ndarray:
        """Per attacked image, correct under the cell's attack (the worst case
        over its losses), for the clean cell correct at all, for a
        certificate certified correct at L2 ``radius``."""
        value = self.value(model, cell, epochs)
        if radius is not None:
            value = value.correct_at(radius)
        mask = np.asarray(getattr(value, "worst", value))
        if mask.dtype != bool or mask.ndim != 1:
            raise TypeError(
                f"cell {cell!r} of {model} holds a {type(value).__name__}, not a "
                "per-image result"
            )
        return mask


def open_run(path: str | Path) -> RunFolder:
    """Open a run folder of ``reproduce``, ``certify`` or ``evaluate`` for reading.

    Parameters
    ----------
    path : path-like
        The folder (it holds ``run.json`` and ``cells/``).

    Returns
    -------
    run : RunFolder

    Examples
    --------
    >>> run = open_run("runs/fashion-at-s1")  # doctest: +SKIP
    >>> run.models()  # doctest: +SKIP
    {'AT': [10], 'C-DV-AT': [10], 'substitute': [10]}
    >>> run.mask("AT", "white-box-autoattack-0.15").mean()  # doctest: +SKIP
    0.58
    """
    path = Path(path)
    if not (path / "run.json").is_file():
        raise FileNotFoundError(f"{path} is not a run folder (no run.json in it)")
    return RunFolder(path)


__all__ = ["RunFolder", "StoredCell", "open_run"]
