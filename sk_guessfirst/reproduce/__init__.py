"""The paper's experiment end to end, resumable: six models, a substitute, the protocol.

``reproduce(settings, out)`` trains CNN, C-DV, C-JS, C-DV-IE, C-JS-IE and VIB
plus a LeNet-5 substitute, attacks them (the paper's Tables 1-2 and Figure 3,
with the per-example worst case over losses and attacks, and AutoAttack) and
writes into ``out``:

- ``results.md`` / ``results.csv`` / ``results.rst``: the table, measured,
  with the paper's numbers beside it for MNIST and Fashion-MNIST;
- ``curves_<norm>_<mode>.png``: accuracy against eps from Foolbox's minimal
  perturbations (Figure 3);
- ``report.md``: the gradient-masking checklist at the table's L-inf budgets;
- ``models/`` and ``cells/``: checkpoints after every epoch and every finished
  evaluation cell, so that the same command resumes a stopped run exactly
  (``cells/`` alone resumes the evaluation: a model whose cells are all stored
  is not trained again).

Models are taken one at a time (train, evaluate, rewrite the tables), so a
run stopped part-way has the tables of the models it finished.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..adversarial import VIEWS
from ..datasets import load_experiment_data
from . import _tables
from ._experiment import open_experiment
from ._external import evaluate_saved_model
from ._plan import BUDGETS, DEFAULT_MODELS, MODELS, PROTOCOL, SUBSTITUTE, VIEW_ROWS
from ._progress import Log
from ._reading import RunFolder, StoredCell, open_run

__all__ = [
    "BUDGETS",
    "DEFAULT_MODELS",
    "MODELS",
    "PROTOCOL",
    "RunFolder",
    "Settings",
    "StoredCell",
    "evaluate_saved_model",
    "open_run",
    "reproduce",
]


@dataclass(frozen=True)
class Settings:
    """The experiment's settings; None means "the budget's value"."""

    dataset: str = "digits"
    budget: str = "quick"
    epochs: int | None = None
    n_eval: int | None = None
    n_train: int | None = None
    seed: int = 0
    device: str = "auto"
    ie_lambda: float = 0.01
    sigma: float | str = "median"
    batch_size: int = 250
    data_home: str | None = None
    attacks: tuple | None = None
    models: tuple | None = None
    curves: bool = True
    report: bool = True
    keep_epochs: tuple = ()
    views: tuple = ()
    threads: int | None = None  # torch threads per task (None: torch's default)

    def resolved(self) -> Settings:
        """The settings with the budget's defaults filled in, checked."""
        if self.budget not in BUDGETS:
            raise ValueError(
                f"budget must be one of {sorted(BUDGETS)}, got {self.budget!r}"
            )
        budget = BUDGETS[self.budget]
        protocol = {a for a, _ in PROTOCOL}
        unknown = set(self.attacks or ()) - protocol
        if unknown:
            raise ValueError(
                f"attacks {sorted(unknown)} are not in the protocol {sorted(protocol)}"
            )
        if self.views and self.attacks:
            missing = {a for a, _ in VIEW_ROWS} - set(self.attacks)
            if missing:
                raise ValueError(
                    f"--views reruns the fgsm and pgd rows: add {sorted(missing)} "
                    "to --attacks"
                )
        unknown = set(self.models or ()) - set(MODELS)
        if unknown:
            raise ValueError(f"models {sorted(unknown)} are not among {list(MODELS)}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**31):
            raise ValueError(
                f"seed must be an integer in [0, 2**31), got {self.seed!r}"
            )
        if self.threads is not None and not (
            isinstance(self.threads, int) and self.threads >= 1
        ):
            raise ValueError(f"threads must be an integer >= 1, got {self.threads!r}")
        return replace(
            self,
            threads=self.threads or torch.get_num_threads(),
            views=_check_views(self.views),
            epochs=self.epochs or budget.epochs[self.dataset],
            n_eval=self.n_eval or budget.n_eval,
            attacks=tuple(self.attacks) if self.attacks else None,
            models=tuple(m for m in MODELS if m in self.models)
            if self.models
            else None,
        )


def _check_views(views):
    unknown = set(views) - set(VIEWS)
    if unknown:
        raise ValueError(f"views {sorted(unknown)} are not among {sorted(VIEWS)}")
    return tuple(v for v in VIEWS if v in views)


def _check_models(settings, names, y):
    """Every model's parameters, checked before anything is written."""
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"--n-train {settings.n_train} leaves {len(y)} training images of "
            f"{len(np.unique(y))} class; take at least one image of each class "
            "(e.g. --n-train 100)"
        )
    for spec in [SUBSTITUTE, *(MODELS[n] for n in names)]:
        try:
            spec.make(settings)._validate_hyperparameters()
        except ValueError as exc:
            raise ValueError(f"the settings give {spec.name} bad parameters: {exc}")


def reproduce(
    settings: Settings,
    out: str | Path,
    *,
    force: bool = False,
    verbose: int = 1,
    download: bool = False,
    mirrors: list[str] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> list[_tables.Row]:
    """Run (or resume) the paper's experiment; returns the table rows.

    Model by model: train it (or resume, or load it; or skip it when every
    cell of it is stored), evaluate every cell of it, then rewrite the tables
    with the models finished so far; ``results.md`` is written last. Raises
    KeyboardInterrupt as it comes: every finished epoch and cell is on disk,
    and the same call resumes from them. Only this process writes ``out``
    while it runs (a second one is refused).

    With ``workers`` (a LocalCluster of that many processes on this machine)
    or ``scheduler`` (the address of a running Dask scheduler), every missing
    cell is first computed on the cluster (``reproduce._cluster``), each
    task with ``settings.threads`` torch threads (default 1 there); the
    tables are then those a serial run with the same threads writes.
    """
    if workers is not None and scheduler is not None:
        raise ValueError(
            "pass workers (a cluster on this machine) or scheduler, not both"
        )
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    cluster = workers is not None or scheduler is not None
    if cluster and settings.threads is None:
        settings = replace(settings, threads=1)
    settings = settings.resolved()
    budget = BUDGETS[settings.budget]
    names = list(settings.models or DEFAULT_MODELS)
    log = Log(verbose)
    t0 = time.perf_counter()
    # the data and parameters first: a missing or corrupt data set, or a bad
    # setting, leaves nothing in --out
    X, y, Xt, yt = load_experiment_data(
        settings.dataset, n_train=settings.n_train, seed=settings.seed,
        data_home=settings.data_home, download=download, mirrors=mirrors,
    )  # fmt: skip
    _check_models(settings, names, y)
    # the cluster before the folder: a scheduler that does not answer
    # leaves nothing in --out
    with (
        _cluster_client(workers, scheduler) as client,
        open_experiment(
            settings,
            out,
            X,
            y,
            Xt,
            yt,
            force=force,
            log=log,
            specs=[MODELS[n] for n in names],
        ) as exp,  # fmt: skip
    ):
        log(
            f"{settings.dataset}: {len(X)} training images, {len(exp.X)} attacked "
            f"test images; budget '{settings.budget}' ({budget.summary})"
        )
        if client is not None:
            from ._cluster import compute_on_cluster

            log(f"Dask cluster: {_describe(client)}")
            compute_on_cluster(exp, names, client)
        return exp.evaluate_all([MODELS[n] for n in names], t0)


def _cluster_client(workers, scheduler):
    if workers is None and scheduler is None:
        return nullcontext(None)
    from ._cluster import dask_client

    return dask_client(workers, scheduler)


def _describe(client) -> str:
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    return f"{info.get('address')}, {len(workers)} workers, {threads} threads"
