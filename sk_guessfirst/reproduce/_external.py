"""The experiment's evaluation of a model saved elsewhere (``sk-guessfirst evaluate``).

The model is a ``torch.export`` file (a graph and tensors, read as data); it
is evaluated like one of the experiment's models, cell by cell in a run
folder (resumable), against the experiment's substitute, and the same
table, curves and report are written for it.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import torch

from ..adversarial import TorchClassifier, load_exported
from ..datasets import load_experiment_data
from ._experiment import open_experiment
from ._progress import Log
from ._run import Trained


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def evaluate_saved_model(
    path,
    settings,
    out,
    *,
    input_shape: tuple,
    name: str | None = None,
    force: bool = False,
    verbose: int = 1,
    download: bool = False,
) -> list:
    """Evaluate the ``torch.export`` model at ``path`` on ``settings``'s data
    and protocol into the run folder ``out``; returns the table rows.

    Parameters
    ----------
    path : path-like
        A ``.pt2`` file written by ``torch.export.save``; the program maps a
        batch of inputs of ``input_shape`` to K logits, K the data set's
        classes in order.
    settings : Settings
        The data set, budget, attacks, curves and report (``models`` must be
        None: the model is the file's).
    out : path-like
        The run folder (a rerun resumes from its cells).
    input_shape : tuple of int
        One input's shape, e.g. ``(1, 28, 28)``.
    name : str or None, default=None
        The model's column in the tables (default: the file's stem).
    force, verbose, download
        As in :func:`~sk_guessfirst.reproduce.reproduce`.

    Returns
    -------
    rows : list of Row
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    if settings.models is not None:
        raise ValueError("evaluate takes the model from its file: pass no models")
    settings = settings.resolved()
    log = Log(verbose)
    t0 = time.perf_counter()
    module = load_exported(path)  # before anything is written
    X, y, Xt, yt = load_experiment_data(
        settings.dataset, n_train=settings.n_train, seed=settings.seed,
        data_home=settings.data_home, download=download,
    )  # fmt: skip
    classes = np.unique(y)
    clf = TorchClassifier(module, input_shape=tuple(input_shape), classes=classes)
    with torch.no_grad():
        k = module(torch.zeros(1, *clf.input_shape_)).shape[-1]
    if k != len(classes):
        raise ValueError(
            f"{path.name} outputs {k} scores per input, but {settings.dataset} has "
            f"{len(classes)} classes"
        )
    with open_experiment(settings, out, X, y, Xt, yt, force=force, log=log) as exp:
        model = Trained(
            name or path.stem,
            clf,
            0,
            lambda: clf,
            params={"sha256": _sha256(path), "input_shape": list(clf.input_shape_)},
        )
        log(
            f"{model.name}: {path} ({model.params['sha256'][:12]}), {len(exp.X)} images"
        )
        return exp.evaluate_all([model], t0)
