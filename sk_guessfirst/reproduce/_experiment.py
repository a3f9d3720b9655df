"""An experiment: one run folder, its data and settings, and the cells of each model.

:class:`Experiment` knows which cells a model has (the protocol's table
cells, curves, reports, the training-length and attacker's-view studies),
evaluates a cell through the run folder (stored, or computed and stored) and
returns one model's results as a :class:`ModelResults`. The substitute and
its black-box crafts are shared by every model's cells.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.base import clone

from ..adversarial import ATTACKS, MODES
from ..checkpoint import (
    check_checkpoint,
    checkpoint_epochs,
    fit_or_resume,
    load_checkpoint,
    snapshot_path,
)
from ._cells import (
    Cell,
    Clean,
    Craft,
    CurveCell,
    GradientCell,
    LengthCell,
    ReportCell,
    TableCell,
    ViewCell,
)
from ._outputs import write_outputs
from ._plan import (
    BUDGETS,
    CURVES,
    LENGTH_ATTACK,
    MODELS,
    PROTOCOL,
    REPORT_EPS,
    SUBSTITUTE,
    TABLE_MODES,
    VIEW_ROWS,
    ModelSpec,
)
from ._progress import EpochProgress, Progress, duration
from ._run import RunDirectory, Trained, data_key
from ._tables import table_rows


@contextmanager
def open_experiment(settings, out, X, y, X_test, y_test, *, force, log, specs=()):
    """The experiment in its run folder (locked), on the first ``n_eval``
    test images, with ``settings.threads`` torch threads; the folder's lock
    and torch's thread count are given back on the way out. The checkpoints
    of ``specs`` (and the substitute's) are checked before anything in the
    folder changes: a run that would refuse one is refused at once."""
    n_eval = min(int(settings.n_eval or len(X_test)), len(X_test))
    Xe, ye = X_test[:n_eval], y_test[:n_eval]

    def preflight(run):
        for spec in [*specs, SUBSTITUTE]:
            try:
                check_checkpoint(spec.make(settings), X, y, run.checkpoint(spec.name))
            except ValueError as exc:
                raise FileExistsError(
                    f"{exc}. Nothing in {run.path} was changed. Pass --force to "
                    "retrain every model, choose another --out, or delete "
                    f"{run.checkpoint(spec.name)} to retrain {spec.name} alone"
                ) from exc

    data = data_key(settings, X, y, Xe, ye)
    run = RunDirectory(out, settings, data, force=force, preflight=preflight)
    threads = torch.get_num_threads()
    torch.set_num_threads(int(settings.threads or threads))
    try:
        yield Experiment(run, settings, X, y, Xe, ye, log)
    finally:
        torch.set_num_threads(threads)
        run.close()


@dataclass
class ModelResults:
    """Everything evaluated for one model."""

    clean: np.ndarray  # bool per attacked image
    table: dict = field(default_factory=dict)  # TableCell -> AttackResult
    curves: dict = field(default_factory=dict)  # (attack, mode) -> RobustnessCurve
    reports: dict = field(default_factory=dict)  # eps -> RobustnessReport
    length: dict = field(default_factory=dict)  # epoch -> {"clean", modes...}
    views: dict = field(default_factory=dict)  # (view, attack, eps) -> (acc, hidden)


class Experiment:
    """The paper's experiment on one data set, in one run folder.

    Parameters
    ----------
    run : RunDirectory
        Where cells and checkpoints are stored.
    settings : Settings
        Resolved.
    X, y : ndarray
        Training images and labels.
    X_eval, y_eval : ndarray
        The attacked test images and labels.
    log : callable
        Progress lines.
    """

    def __init__(self, run: RunDirectory, settings, X, y, X_eval, y_eval, log):
        self.run, self.settings, self.log = run, settings, log
        self.budget = BUDGETS[settings.budget]
        self.X_train, self.y_train = X, y
        self.X, self.y = X_eval, y_eval  # what the cells attack
        n = len(X_eval)
        self.sizes = {
            "train": len(X),
            "eval": n,
            "curve": min(self.budget.n_curve, n),
            "report": min(self.budget.n_report, n),
        }
        self.training_seconds = 0.0
        self.substitute = self.model(SUBSTITUTE)
        self._transfers: dict = {}
        self._snapshots: dict = {}

    # -- the plan: which cells a model has ---------------------------------

    @property
    def table_cells(self) -> list[TableCell]:
        """The paper's order: black-box rows, then white-box rows."""
        s = self.settings
        return [
            TableCell(attack, eps, mode)
            for mode in TABLE_MODES
            for attack, eps in PROTOCOL
            if s.attacks is None or attack in s.attacks
            if mode in ATTACKS[attack].modes
        ]

    @property
    def curve_cells(self) -> list[CurveCell]:
        if not self.settings.curves:
            return []
        return [CurveCell(a, m) for a, modes in CURVES.items() for m in modes]

    @property
    def report_cells(self) -> list[ReportCell]:
        return [ReportCell(eps) for eps in REPORT_EPS] if self.settings.report else []

    @property
    def view_cells(self) -> list[ViewCell]:
        return [ViewCell(v, a, e) for v in self.settings.views for a, e in VIEW_ROWS]

    @property
    def length_epochs(self) -> list[int]:
        """The kept epochs before the last (whose points are the table's)."""
        return [e for e in self.settings.keep_epochs if e < self.settings.epochs]

    @property
    def cells_per_model(self) -> int:
        return len(self.cell_kinds())

    def cell_kinds(self) -> list:
        """The kind of every cell a model's evaluation counts (its progress
        steps), for the ETA: the cell's type and attack."""
        counted = [
            *self.table_cells,
            *self.curve_cells,
            *self.report_cells,
            *self.view_cells,
        ]
        if self.settings.keep_epochs:
            counted += [LengthCell(m) for m in MODES] * (1 + len(self.length_epochs))
        return [_kind(c) for c in counted]

    # -- models and cells ----------------------------------------------------

    def model(self, spec: ModelSpec) -> Trained:
        """The model of ``spec``: trained (or resumed, or loaded) on first use."""
        settings, log = self.settings, self.log
        est = spec.make(settings)
        est.set_params(callbacks=[EpochProgress(spec.name, settings.epochs, log)])

        def fit():
            path = self.run.checkpoint(spec.name)
            try:
                done = checkpoint_epochs(path) if path.exists() else None
            except ValueError:
                done = None  # refused by run.trained, with the way out
            if done is None:
                log(
                    f"Training {spec.name}: {settings.epochs} epochs, "
                    "checkpoint after each"
                )
            else:
                more = f"; training to {settings.epochs}"
                log(
                    f"{spec.name}: its checkpoint {path} holds {done} epochs"
                    + (more if done < settings.epochs else "")
                )
            start = time.perf_counter()
            fitted = self.run.trained(
                spec.name, est, self.X_train, self.y_train,
                keep_epochs=settings.keep_epochs,
            )  # fmt: skip
            self.training_seconds += time.perf_counter() - start
            return fitted

        return Trained(spec.name, est, settings.epochs, fit)

    def evaluate(self, model: Trained, cell: Cell):
        """The cell's result for ``model``: stored, or computed and stored.
        Returns (result, computed_now)."""
        return self.run.cell(
            model,
            cell.name,
            lambda: cell.compute(self, model),
            substitute=self.substitute if cell.uses_substitute else None,
            log=self.log,
            size=cell.size(self),
        )

    def clean(self, model: Trained) -> np.ndarray:
        return self.evaluate(model, Clean())[0]

    def transferred(self, attack: str, eps: float, loss: str) -> np.ndarray:
        """The substitute's black-box examples, crafted once for every model."""
        key = (attack, eps, loss)
        if key not in self._transfers:
            crafted, fresh = self.evaluate(self.substitute, Craft(attack, eps, loss))
            stored = "" if fresh else " (stored)"
            self.log(f"  substitute crafts {attack} eps={eps} ({loss}): "
                     f"{crafted.seconds:.1f} s{stored}")  # fmt: skip
            self._transfers[key] = crafted.X_adv
        return self._transfers[key]

    def step(self, progress: Progress, model: Trained, cell: Cell):
        return progress.step(
            cell.describe(model), lambda: self.evaluate(model, cell), cell.summary,
            kind=_kind(cell),
        )  # fmt: skip

    def snapshot(self, model: Trained, epoch: int):
        """Where ``model``'s training keeps its copy of epoch ``epoch``."""
        return snapshot_path(self.run.checkpoint(model.name), epoch)

    def snapshot_model(self, model: Trained, epoch: int) -> Trained:
        """``model`` as it was after ``epoch`` epochs (its kept copy), one
        object per snapshot, loaded on first use."""
        key = (model.key, epoch)
        if key not in self._snapshots:
            self._snapshots[key] = model.at_epoch(
                epoch, lambda: self._load_snapshot(model, epoch)
            )
        return self._snapshots[key]

    def _load_snapshot(self, model: Trained, epoch: int):
        """The kept copy of ``model`` at ``epoch``; where it is missing (a
        carried run, whose weights stay behind), ``model`` is trained again
        from the start, beside its finished checkpoint, to the last kept epoch
        it needs (said in the log)."""
        path = self.snapshot(model, epoch)
        if not path.exists():
            again = self.run.checkpoint(model.name).parent / "again"
            again.mkdir(exist_ok=True)
            base = again / f"{model.name}.ckpt"
            path = snapshot_path(base, epoch)
            if not path.exists():
                last = max(self.length_epochs)
                self.log(
                    f"{model.name}: its kept checkpoint of epoch {epoch} is missing "
                    f"({self.snapshot(model, epoch)}); training {model.name} again "
                    f"from the start to epoch {last} to keep its snapshots (its "
                    "finished model's cells stay those stored)"
                )
                est = clone(model.template).set_params(max_epochs=last)
                fit_or_resume(
                    est, self.X_train, self.y_train, base,
                    keep_epochs=self.length_epochs,
                )  # fmt: skip
        return load_checkpoint(path, clone(model.template))

    def plan(self, names):
        """Every cell :meth:`evaluate_model` reads for the models ``names``, as
        (model, cell, the model it is a kept snapshot of, or None) triples."""
        for name in names:
            yield from self.plan_of(self.model(MODELS[name]))

    def plan_of(self, model: Trained):
        """Every cell :meth:`evaluate_model` reads for ``model``."""
        yield model, Clean(), None
        for table in self.table_cells:
            yield model, table, None
        if self.settings.keep_epochs:
            yield from self._length_plan(model)
        extras: list[Cell] = [*self.curve_cells, *self.report_cells, *self.view_cells]
        for cell in extras:
            yield model, cell, None
        for view in self.settings.views:
            yield model, GradientCell(view), None

    def _length_plan(self, model):
        """The training-length cells of ``model``, as :meth:`plan` triples."""
        for epoch in self.length_epochs:
            snap = self.snapshot_model(model, epoch)
            yield snap, Clean(), model
            for mode in MODES:
                yield snap, LengthCell(mode), model
        for mode in MODES:  # the last point, where the table lacks it
            if TableCell(*LENGTH_ATTACK, mode) not in self.table_cells:
                yield model, LengthCell(mode), None

    def groups(self, plan) -> dict:
        """The plan's cells by the weights they are computed on: model (or
        snapshot) -> [(cell, the model it is a snapshot of, or None)]."""
        out: dict = {}
        for trained, cell, snapshot_of in plan:
            out.setdefault(trained, []).append((cell, snapshot_of))
        return out

    def settle(self, trained: Trained, cells) -> bool:
        """Whether ``trained``'s stored cells settle its weights (all stored,
        one training); see :meth:`RunDirectory.settle`."""
        named = [
            (c.name, self.substitute if c.uses_substitute else None, c.size(self))
            for c, _ in cells
        ]
        return self.run.settle(trained, named, log=self.log)

    # -- one model, every cell -------------------------------------------------

    def evaluate_model(
        self, spec: ModelSpec | Trained, progress: Progress
    ) -> ModelResults:
        """Every cell of the model of ``spec`` (or of a given model)."""
        model = spec if isinstance(spec, Trained) else self.model(spec)
        # a model whose cells are all stored, from one training, is never
        # trained; otherwise it is trained (or loaded) first and its stored
        # cells of other weights are refused (no table mixes two trainings)
        for trained, cells in self.groups(self.plan_of(model)).items():
            if not self.settle(trained, cells):
                trained.settled_weights()
        out = ModelResults(self.clean(model))
        self.log(f"{model.name}: clean accuracy {out.clean.mean():.1%}")
        for table in self.table_cells:
            out.table[table] = self.step(progress, model, table)
        # the headline table's and the training-length curve's cells first, so a
        # long run stopped early has what its tables need; the extras after
        if self.settings.keep_epochs:
            out.length = self._training_length(model, out, progress)
        for curve in self.curve_cells:
            out.curves[curve.attack, curve.mode] = self.step(progress, model, curve)
        for cell in self.report_cells:
            report = out.reports[cell.eps] = self.step(progress, model, cell)
            self.log(f"    {report.summary()}")
        if self.settings.views:
            out.views = self._views(model, out, progress)
        return out

    def _training_length(self, model, out, progress):
        """Clean, white-box and black-box accuracy at each kept epoch. The last
        point is the finished model's table cells where the run has them (no
        second random start, no second transfer)."""
        attack, eps = LENGTH_ATTACK
        snapshots = {e: self.snapshot_model(model, e) for e in self.length_epochs}
        snapshots[model.epochs] = model
        points = {}
        for epoch, snapshot in snapshots.items():
            row = {"clean": float(self.clean(snapshot).mean())}
            for mode in MODES:
                final = out.table.get(TableCell(attack, eps, mode))
                if snapshot is model and final is not None:
                    result = progress.step(
                        LengthCell(mode).describe(snapshot),
                        lambda final=final: (final, False),
                        kind=_kind(LengthCell(mode)),
                    )
                else:
                    result = self.step(progress, snapshot, LengthCell(mode))
                row[mode] = result.accuracy
            points[epoch] = row
        return points

    def _views(self, model, out, progress):
        """The white-box rows under each view, the share of examples the raw
        scores' attack breaks but the view's does not, and the view's input
        gradients."""
        table = {}
        for cell in self.view_cells:
            result = self.step(progress, model, cell)
            raw = out.table[cell.paired]
            hidden = float((~raw.worst & result.worst).mean())
            table[cell.view, cell.attack, cell.eps] = (result.accuracy, hidden)
        for view in self.settings.views:
            table[view, "gradients"], _ = self.evaluate(model, GradientCell(view))
        return table

    # -- every model, then the outputs -------------------------------------------

    def evaluate_all(self, models, t0: float, about: str | None = None) -> list:
        """Model by model (specs, or models given), every cell (stored, or
        computed now), then every output; returns the table rows. ``about``
        describes a model file evaluated in place of trained models."""
        settings, log = self.settings, self.log
        progress = Progress(
            len(models) * self.cells_per_model, log, self.cell_kinds() * len(models)
        )
        log(f"{len(models)} models, {progress.total} evaluation cells")
        results: dict = {}
        rows: list = []
        timing: dict = {}
        for spec in models:
            results[spec.name] = self.evaluate_model(spec, progress)
            rows = table_rows(list(results), results, self.table_cells)
            timing = {
                "training": self.training_seconds,
                "total": time.perf_counter() - t0,
            }
            # every output after every model (partial tables), results.md last
            finished = len(results) == len(models)
            write_outputs(
                self.run, settings, self.sizes, results, rows, timing, finished,
                about,
            )  # fmt: skip
        log(f"Results in {self.run.path} ({duration(timing['total'])})")
        return rows


def _kind(cell: Cell) -> tuple:
    """What a cell's cost depends on, for the ETA: its type and attack."""
    return type(cell).__name__, getattr(cell, "attack", None)
