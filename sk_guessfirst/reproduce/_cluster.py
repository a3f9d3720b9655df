"""An experiment's missing cells computed on a Dask cluster.

``reproduce --workers N`` starts a ``LocalCluster`` of N processes on this
machine; ``--scheduler ADDRESS`` uses a running one. The task graph is the
experiment's own: one task trains (or resumes) each model that has a
missing cell, the substitute's black-box crafts are tasks that every
model's black-box cells wait on, and each missing cell is a task that
waits on its model (and the substitute, its clean mask and its crafts
where it needs them). Workers return every result to this process, which
writes it (atomically, with its key) as it arrives; the serial pass that
follows then finds every cell stored and writes the tables, so a run on a
cluster writes what a serial run writes.

Workers train into the run folder's ``models/`` (checkpoints after every
epoch, so a task rescheduled after its worker died resumes where the
checkpoint stands): a remote cluster needs ``--out`` on storage every
worker sees at the same path. Each task runs with ``settings.threads``
torch threads.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import distributed
import numpy as np

from ..adversarial import ATTACKS
from ._cells import Cell, Clean, Craft, LengthCell, TableCell
from ._plan import MODELS, SUBSTITUTE, Budget

SPECS = {**MODELS, SUBSTITUTE.name: SUBSTITUTE}
CONNECT_TIMEOUT_S = 5


@contextmanager
def dask_client(workers: int | None, scheduler: str | None):
    """A client of a new LocalCluster of ``workers`` processes (one thread
    each), closed on the way out (Ctrl-C included), or of the scheduler at
    ``scheduler``."""
    import distributed

    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"no Dask scheduler answers at {scheduler!r} within "
                f"{CONNECT_TIMEOUT_S} s ({type(exc).__name__}: {exc}). Start one "
                "(`dask scheduler`, then `dask worker ADDRESS` on each machine), or "
                "use --workers N for a cluster on this machine."
            ) from None
        with client:
            yield client
        return
    with (
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


# -- what runs on a worker -----------------------------------------------------


@dataclass
class _Fitted:
    """A model as a cell sees it: its name, epochs and fitted estimator."""

    name: str
    epochs: int
    estimator: Any


@dataclass
class _Context:
    """What a cell reads from its experiment (the ``_cells.Experiment``
    protocol), with the substitute, clean mask and crafts it waits on."""

    settings: Any
    budget: Budget
    X: np.ndarray | None
    y: np.ndarray | None
    sizes: dict
    substitute: Any = None
    clean_mask: Any = None
    crafts: Any = None

    def clean(self, model):
        return self.clean_mask

    def transferred(self, attack, eps, loss):
        return self.crafts[attack, eps, loss].X_adv


def _threads(settings):
    import torch

    torch.set_num_threads(int(settings.threads))


class TorchThreads(distributed.WorkerPlugin):
    """A Dask worker plugin: ``threads`` torch threads on every worker, also
    on one the nanny restarts (for work that is not this module's tasks,
    such as GridSearchCV's through joblib)."""

    def __init__(self, threads: int):
        self.threads = int(threads)

    def setup(self, worker):
        import torch

        torch.set_num_threads(self.threads)


def _load_data(settings, n_eval, expected):
    """The experiment's data, loaded where the task runs (recomputable, unlike
    scattered arrays, when a worker dies), checked against the client's."""
    from ..checkpoint import data_fingerprint
    from ..datasets import load_experiment_data

    X, y, Xt, yt = load_experiment_data(
        settings.dataset, n_train=settings.n_train, seed=settings.seed,
        data_home=settings.data_home,
    )  # fmt: skip
    data = {"X_train": X, "y_train": y, "X": Xt[:n_eval], "y": yt[:n_eval]}
    found = (data_fingerprint(X, y), data_fingerprint(data["X"], data["y"]))
    if found != expected:
        raise ValueError(
            f"this worker's {settings.dataset} data differs from the client's "
            "(other files under --data-home?): fingerprints "
            f"{found} against {expected}"
        )
    return data


def _train(name, settings, data, path, keep_epochs):
    from ..checkpoint import fit_or_resume

    _threads(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    return fit_or_resume(
        SPECS[name].make(settings),
        data["X_train"],
        data["y_train"],
        path,
        keep_epochs=keep_epochs,
    )


def _snapshot(name, settings, path, fitted):
    """The kept snapshot at ``path`` (written while ``fitted`` trained)."""
    from sklearn.base import clone

    from ..checkpoint import load_checkpoint

    return load_checkpoint(path, clone(SPECS[name].make(settings)))


def _compute(cell, context, data, name, epochs, estimator, substitute, clean, crafts):
    _threads(context.settings)
    sub = None if substitute is None else _Fitted(SUBSTITUTE.name, 0, substitute)
    ctx = _Context(
        context.settings, context.budget, data["X"], data["y"], context.sizes,
        sub, clean, None if crafts is None else dict(zip(*crafts, strict=True)),
    )  # fmt: skip
    return cell.compute(ctx, _Fitted(name, epochs, estimator))


# -- the client's side -----------------------------------------------------------


class ClusterRun:
    """Submits an experiment's missing cells and writes their results."""

    def __init__(self, exp, client) -> None:
        self.exp, self.client = exp, client
        self._fits: dict = {}
        self._cells: dict = {}  # (model key, cell name) -> future
        self._written: dict = {}  # future -> (trained, cell)
        from ..checkpoint import data_fingerprint

        s = exp.settings
        expected = (
            data_fingerprint(exp.X_train, exp.y_train),
            data_fingerprint(exp.X, exp.y),
        )
        self._data = client.submit(
            _load_data, s, len(exp.X), expected, key="data", pure=False
        )
        self._context = _Context(s, exp.budget, None, None, exp.sizes)

    def stored(self, trained, cell):
        found = self.exp.run.stored(
            trained, cell.name, substitute=self._via(cell), log=self.exp.log
        )
        return None if found is None else found[0]

    def _via(self, cell):
        return self.exp.substitute if cell.uses_substitute else None

    def fitted(self, trained, snapshot_of=None):
        """The future of ``trained``'s fitted estimator, submitted once."""
        if trained.key in self._fits:
            return self._fits[trained.key]
        s = self.exp.settings
        if snapshot_of is not None:  # a kept epoch of a model being trained
            path = self.exp.snapshot(snapshot_of, trained.epochs)
            future = self.client.submit(
                _snapshot, trained.name, s, path, self.fitted(snapshot_of),
                key=f"snapshot-{trained.key}", pure=False,
            )  # fmt: skip
        else:
            future = self.client.submit(
                _train, trained.name, s, self._data,
                self.exp.run.checkpoint(trained.name), tuple(s.keep_epochs),
                key=f"train-{trained.key}", pure=False,
            )  # fmt: skip
        self._fits[trained.key] = future
        return future

    def result(self, trained, cell, snapshot_of=None):
        """The cell's stored result, or the future of its computation."""
        key = (trained.key, cell.name)
        if key in self._cells:
            return self._cells[key]
        found = self.stored(trained, cell)
        if found is not None:
            self._cells[key] = found
            return found
        sub = self.exp.substitute
        needs_sub = cell.uses_substitute or isinstance(cell, LengthCell)
        clean = crafts = None
        if isinstance(cell, TableCell) and cell.mode == "black-box":
            clean = self.result(trained, Clean(), snapshot_of)
            losses = ATTACKS[cell.attack].losses
            keys = [(cell.attack, cell.eps, loss) for loss in losses]
            crafts = (keys, [self.result(sub, Craft(*k)) for k in keys])
        future = self.client.submit(
            _compute, cell, self._context, self._data, trained.name, trained.epochs,
            self.fitted(trained, snapshot_of),
            self.fitted(sub) if needs_sub else None, clean, crafts,
            key=f"cell-{trained.key}-{cell.name}", pure=False,
        )  # fmt: skip
        self._cells[key] = future
        self._written[future] = (trained, cell)
        return future

    def run(self, plan, progress_log):
        """Compute every missing cell of ``plan`` ((trained, cell, snapshot_of)
        triples), writing each result as it arrives."""
        import distributed

        for trained, cell, snapshot_of in plan:
            self.result(trained, cell, snapshot_of)
        futures = list(self._written)
        progress_log(f"{len(futures)} cells to compute on the cluster")
        for done, future in enumerate(distributed.as_completed(futures), 1):
            trained, cell = self._written[future]
            result = future.result()
            self.exp.run.store(trained, cell.name, result, substitute=self._via(cell))
            progress_log(f"  [{done}/{len(futures)}] {cell.describe(trained)}: "
                         f"done on the cluster")  # fmt: skip


def compute_on_cluster(exp, names, client) -> None:
    """Every missing cell of the models ``names`` of ``exp``, on ``client``'s
    cluster, written into the run folder."""
    ClusterRun(exp, client).run(exp.plan(names), exp.log)


__all__ = ["ClusterRun", "Cell", "compute_on_cluster", "dask_client"]
