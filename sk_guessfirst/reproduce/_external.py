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
from ._run import Trained, check_name


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
    name = check_name(name or path.stem, "--name" if name else "the file's stem")
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
    k = _outputs_per_input(module, tuple(clf.input_shape_), path)
    if k != len(classes):
        raise ValueError(
            f"{path.name} outputs {k} scores per input, but {settings.dataset} has "
            f"{len(classes)} classes"
        )
    with open_experiment(settings, out, X, y, Xt, yt, force=force, log=log) as exp:
        model = Trained(
            name,
            clf,
            0,
            lambda: clf,
            params={"sha256": _sha256(path), "input_shape": list(clf.input_shape_)},
        )
        about = (
            f"{path.name}, sha256 {model.params['sha256']}, input shape "
            f"{tuple(clf.input_shape_)}, {k} classes {[c.item() for c in classes]}"
        )
        log(f"{model.name}: {about}; {len(exp.X)} attacked images")
        return exp.evaluate_all([model], t0, about)


def _outputs_per_input(module, shape: tuple, path: Path) -> int:
    """How many scores the program gives an input of ``shape``; a clear error
    where it takes no such input or only one batch size."""
    answers = {}
    for batch in (1, 2):
        try:
            with torch.no_grad():
                answers[batch] = module(torch.zeros(batch, *shape)).shape[-1]
        except Exception as exc:  # torch.export's guards raise many kinds
            answers[batch] = str(exc).strip().splitlines()[0] if str(exc) else exc
    ok = [b for b, a in answers.items() if isinstance(a, int)]
    if len(ok) == 2:
        return int(answers[1])
    if len(ok) == 1:
        raise ValueError(
            f"{path.name} takes batches of {ok[0]} input only (it was exported with "
            "a fixed batch size); export it with a dynamic batch: "
            "torch.export.export(model.eval(), (torch.zeros(2, *input_shape),), "
            "dynamic_shapes=({0: torch.export.Dim('batch')},))"
        )
    raise ValueError(
        f"{path.name} does not take inputs of shape {shape} (--input-shape "
        f"{' '.join(map(str, shape))}): {answers[2]}. Pass --input-shape as the "
        "shape of one input the model was exported with (without the batch), "
        "e.g. 1 28 28 for MNIST images or 784 for flat rows"
    )
