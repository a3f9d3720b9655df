"""An experiment's missing cells computed on a Dask cluster.

``reproduce --workers N`` starts a ``LocalCluster`` of N processes on this
machine; ``--scheduler ADDRESS`` uses a running one. The task graph is the
experiment's own: one task trains (or resumes) each model that has a
missing cell, the substitute's black-box crafts are tasks that every
model's black-box cells wait on, and each missing cell is a task that
waits on its model's training (and the substitute's, its clean mask and
its crafts where it needs them). Each worker loads the data itself (checked
against this process's fingerprints) and each model from its checkpoint in
the run folder, once; tasks depend on small values only, so the scheduler
spreads them instead of keeping them where a model lies. Workers return
every result to this process, which writes it (atomically, with its key) as
it arrives; the serial pass that follows then finds every cell stored and
writes the tables, so a run on a cluster writes what a serial run writes.

Workers train into the run folder's ``models/`` (checkpoints after every
epoch, so a task rescheduled after its worker died resumes where the
checkpoint stands): a remote cluster needs ``--out`` on storage every
worker sees at the same path. Each task runs with ``settings.threads``
torch threads.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import distributed
import numpy as np

from ..adversarial import ATTACKS
from ._cells import Clean, Craft, LengthCell, TableCell
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
    # Dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in their workers, which
    # returns freed memory to the system at once: torch's many short-lived
    # tensors then page-fault anew (measured: a digits C-DV-IE fit 22.0 s in
    # a worker with it, 18.3 s without, 15.7 s in a plain process)
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
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


# What a worker process has loaded: its data and the models its tasks read,
# loaded from the run folder on first use. Tasks depend on small values only
# (a checkpoint's path), so the scheduler spreads them over the workers
# instead of running every cell where its model or the data happen to lie.
_LOADED: OrderedDict = OrderedDict()
_KEEP = 8


def _cached(key, load):
    if key not in _LOADED:
        _LOADED[key] = load()
        while len(_LOADED) > _KEEP:
            _LOADED.popitem(last=False)
    _LOADED.move_to_end(key)
    return _LOADED[key]


def _data(settings, n_eval, expected):
    """The experiment's data, loaded where the task runs, checked against the
    client's fingerprints."""

    def load():
        from ..checkpoint import data_fingerprint
        from ..datasets import load_experiment_data

        X, y, Xt, yt = load_experiment_data(
            settings.dataset, n_train=settings.n_train, seed=settings.seed,
            data_home=settings.data_home,
        )  # fmt: skip
        data = {"X_train": X, "y_train": y, "X": Xt[:n_eval], "y": yt[:n_eval]}
        found = (data_fingerprint(X, y), data_fingerprint(data["X"], data["y"]))
        if found != tuple(expected):
            raise ValueError(
                f"this worker's {settings.dataset} data differs from the client's "
                "(other files under --data-home?): fingerprints "
                f"{found} against {tuple(expected)}"
            )
        return data

    key = ("data", settings.dataset, settings.n_train, settings.seed,
           settings.data_home, n_eval)  # fmt: skip
    return _cached(key, load)


def _model(name, settings, path):
    """The model checkpointed at ``path``, loaded once per worker and file."""
    from sklearn.base import clone

    from ..checkpoint import load_checkpoint

    stat = path.stat()
    return _cached(
        ("model", str(path), stat.st_mtime_ns, stat.st_size),
        lambda: load_checkpoint(path, clone(SPECS[name].make(settings))),
    )


def _weights(name, settings, path):
    """The fingerprint of the model checkpointed at ``path`` (once per file)."""
    from ..checkpoint import weights_fingerprint

    stat = path.stat()
    return _cached(
        ("weights", str(path), stat.st_mtime_ns, stat.st_size),
        lambda: weights_fingerprint(_model(name, settings, path)),
    )


def _train(name, settings, data_ref, path, keep_epochs):
    """Train (or resume) the model into its checkpoint; returns its path and
    the fingerprint of its weights (the client settles its cells by it)."""
    from ..checkpoint import fit_or_resume, weights_fingerprint

    _threads(settings)
    data = _data(*data_ref)
    path.parent.mkdir(parents=True, exist_ok=True)
    fitted = fit_or_resume(
        SPECS[name].make(settings), data["X_train"], data["y_train"], path,
        keep_epochs=keep_epochs,
    )  # fmt: skip
    return path, weights_fingerprint(fitted)


def _snapshot_weights(name, settings, path, training):
    """The fingerprint of a kept snapshot (``training``: the task that wrote it)."""
    _threads(settings)
    return path, _weights(name, settings, path)


@dataclass
class _Computed:
    """A cell task's answer: its result, the fingerprints of the weights it
    was computed on (the model's; the substitute's or None) and the numeric
    environment it ran in."""

    result: Any
    weights: str
    substitute_weights: str | None
    environment: dict


def _value(found):
    """A dependency's value: a stored result, or a cell task's answer."""
    return found.result if isinstance(found, _Computed) else found


def _compute(cell, context, data_ref, model, substitute, clean, crafts):
    """One cell; ``model`` and ``substitute`` are (name, epochs, checkpoint
    path, the training task's result, which orders this task after it).
    Returns the result, the fingerprints of the weights it was computed on
    (the model's, the substitute's or None) and the numeric environment."""
    from ._run import provenance

    _threads(context.settings)
    s = context.settings
    data = _data(*data_ref)
    name, epochs, path, _ = model
    sub = sub_weights = None
    if substitute is not None:
        sub = _Fitted(SUBSTITUTE.name, 0, _model(SUBSTITUTE.name, s, substitute[2]))
        sub_weights = _weights(SUBSTITUTE.name, s, substitute[2])
    if crafts is not None:
        crafts = {k: _value(c) for k, c in zip(*crafts, strict=True)}
    ctx = _Context(
        s, context.budget, data["X"], data["y"], context.sizes, sub, _value(clean),
        crafts,
    )  # fmt: skip
    estimator = _model(name, s, path)
    result = cell.compute(ctx, _Fitted(name, epochs, estimator))
    return _Computed(
        result, _weights(name, s, path), sub_weights, provenance(estimator)
    )


# -- the client's side -----------------------------------------------------------


class ClusterRun:
    """Submits an experiment's missing cells and writes their results."""

    def __init__(self, exp, client) -> None:
        self.exp, self.client = exp, client
        self._fits: dict = {}
        self._cells: dict = {}  # (model key, cell name) -> future
        self._written: dict = {}  # future -> (trained, cell)
        s = exp.settings
        # the fingerprints the run folder already keys its cells by
        expected = (exp.run.data["train"], exp.run.data["eval"])
        self._data = (s, len(exp.X), expected)  # each worker loads it once
        self._context = _Context(s, exp.budget, None, None, exp.sizes)

    def stored(self, trained, cell):
        found = self.exp.run.stored(
            trained, cell.name, substitute=self._via(cell), log=self.exp.log,
            size=cell.size(self.exp),
        )  # fmt: skip
        return None if found is None else found[0]

    def _via(self, cell):
        return self.exp.substitute if cell.uses_substitute else None

    def trained(self, trained):
        """The future of ``trained``'s training task ((checkpoint path,
        weights fingerprint)), submitted once."""
        if trained.key not in self._fits:
            s = self.exp.settings
            self._fits[trained.key] = self.client.submit(
                _train, trained.name, s, self._data,
                self.exp.run.checkpoint(trained.name), tuple(s.keep_epochs),
                key=f"train-{trained.key}", pure=False,
            )  # fmt: skip
        return self._fits[trained.key]

    def weights(self, trained, snapshot_of=None):
        """The future of (checkpoint, fingerprint) of ``trained``'s weights."""
        if snapshot_of is None:
            return self.trained(trained)
        return self.client.submit(
            _snapshot_weights, trained.name, self.exp.settings,
            self.exp.snapshot(snapshot_of, trained.epochs), self.trained(snapshot_of),
            key=f"weights-{trained.key}", pure=False,
        )  # fmt: skip

    def model_ref(self, trained, snapshot_of=None):
        """(name, epochs, the checkpoint to load, the task it waits on)."""
        if snapshot_of is not None:  # a kept epoch of a model being trained
            path = self.exp.snapshot(snapshot_of, trained.epochs)
            return (trained.name, trained.epochs, path, self.trained(snapshot_of))
        path = self.exp.run.checkpoint(trained.name)
        return (trained.name, trained.epochs, path, self.trained(trained))

    def result(self, trained, cell, snapshot_of=None):
        """The cell's stored result, or the future of its computation
        (``trained``'s weights, and the substitute's where a craft is read,
        are settled before)."""
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
        if isinstance(cell, TableCell) and cell.uses_substitute:
            clean = self.result(trained, Clean(), snapshot_of)
            losses = ATTACKS[cell.attack].losses
            keys = [(cell.attack, cell.eps, loss) for loss in losses]
            crafts = (keys, [self.result(sub, Craft(*k)) for k in keys])
        future = self.client.submit(
            _compute, cell, self._context, self._data,
            self.model_ref(trained, snapshot_of),
            self.model_ref(sub) if needs_sub else None, clean, crafts,
            key=f"cell-{trained.key}-{cell.name}", pure=False,
        )  # fmt: skip
        self._cells[key] = future
        self._written[future] = (trained, cell)
        return future

    def run(self, plan, progress_log):
        """Compute every missing cell of ``plan`` ((trained, cell, snapshot_of)
        triples), writing each result as it arrives.

        A model whose cells are all stored from one training is settled from
        the store and never trained. Any other is trained (or resumed, or
        loaded) by a task that returns its weights' fingerprint; only then
        are its stored cells checked against it (those of other weights are
        refused) and its missing cells submitted.
        """
        import distributed

        exp, sub = self.exp, self.exp.substitute
        groups = exp.groups(plan)
        pending = distributed.as_completed()
        settling: dict = {}  # weights future -> trained
        waiting = []  # groups whose weights (or the substitute's) are not known
        needs_sub = False
        for trained, cells in groups.items():
            if exp.settle(trained, cells):
                continue  # every cell stored, from one training
            future = self.weights(trained, cells[0][1])
            settling[future] = trained
            pending.add(future)
            waiting.append(trained)
            needs_sub = needs_sub or any(
                c.uses_substitute or isinstance(c, LengthCell) for c, _ in cells
            )
        if needs_sub:
            future = self.trained(sub)
            settling[future] = sub
            pending.add(future)
        settled: set = set()
        added: set = set()
        done = 0
        for future in pending:
            if future in settling:
                trained = settling.pop(future)
                trained.settle(future.result()[1])
                settled.add(trained.key)
                ready = [g for g in waiting if g.key in settled]
                if needs_sub and sub.key not in settled:
                    ready = []  # their crafts and reports wait on the substitute
                for group in ready:
                    waiting.remove(group)
                    for cell, snapshot_of in groups[group]:
                        self.result(group, cell, snapshot_of)
                for submitted in set(self._written) - added:
                    added.add(submitted)
                    pending.add(submitted)
                continue
            trained, cell = self._written[future]
            computed = future.result()
            weights = computed.weights
            if weights != trained.known_weights():
                raise RuntimeError(
                    f"{cell.describe(trained)} was computed on other weights than "
                    f"{trained.name}'s training returned ({weights[:10]} against "
                    f"{str(trained.known_weights())[:10]}): a checkpoint in "
                    f"{exp.run.path / 'models'} changed during the run"
                )
            exp.run.store(
                trained, cell.name, computed.result, substitute=self._via(cell),
                weights={"model": weights, "substitute": computed.substitute_weights},
                environment=computed.environment,
            )  # fmt: skip
            done += 1
            progress_log(f"  [{done}/{len(self._written)}] {cell.describe(trained)}: "
                         f"done on the cluster")  # fmt: skip


def compute_on_cluster(exp, names, client) -> None:
    """Every missing cell of the models ``names`` of ``exp``, on ``client``'s
    cluster, written into the run folder."""
    ClusterRun(exp, client).run(exp.plan(names), exp.log)


__all__ = ["ClusterRun", "compute_on_cluster", "dask_client"]
