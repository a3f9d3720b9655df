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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from skorch.callbacks import Callback

from .._plaindata import plain_type, write_png_atomic, write_text_atomic
from ..adversarial import (
    ATTACKS,
    AttackResult,
    attack_examples,
    evaluate_attack,
    robustness_curve,
    robustness_report,
    worst_case,
)
from ..checkpoint import checkpoint_epochs, data_fingerprint
from ..datasets import load_experiment_data
from . import _studies, _tables
from ._plan import BUDGETS, CURVES, MODELS, PROTOCOL, REPORT_EPS, SUBSTITUTE
from ._run import RunDirectory, Trained, cell_seed, table_cell

__all__ = ["BUDGETS", "MODELS", "PROTOCOL", "Settings", "reproduce"]


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
            missing = {a for a, _ in _studies.VIEW_ROWS} - set(self.attacks)
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
        return replace(
            self,
            views=_studies.check_views(self.views),
            epochs=self.epochs or budget.epochs[self.dataset],
            n_eval=self.n_eval or budget.n_eval,
            attacks=tuple(self.attacks) if self.attacks else None,
            models=tuple(m for m in MODELS if m in self.models)
            if self.models
            else None,
        )


class _Log:
    """Progress printing; a class, not a closure, so that callbacks holding it
    pickle with the checkpoints."""

    def __init__(self, verbose):
        self.verbose = verbose

    def __call__(self, message):
        if self.verbose:
            print(message, flush=True)


class EpochProgress(Callback):
    """Prints each finished epoch with its time and the ETA of the model."""

    def __init__(self, name, total, log):
        self.name, self.total, self.log = name, total, log

    def on_epoch_end(self, net, **kwargs):
        done, dur = len(net.history), net.history[-1, "dur"]
        loss = net.history[-1, "train_loss"]
        eta = (self.total - done) * dur
        self.log(
            f"  {self.name}: epoch {done}/{self.total}, loss {loss:.4f}, {dur:.1f} s"
            + (f", ETA {_duration(eta)}" if done < self.total else "")
        )


def _duration(seconds):
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class _Progress:
    """Numbered steps with an ETA from the mean time of the steps computed so far."""

    def __init__(self, total, log):
        self.total, self.log, self.done, self.spent, self.computed = (
            total,
            log,
            0,
            0.0,
            0,
        )

    def step(self, what, fn, summary=lambda result: f"{result.accuracy:.1%}"):
        start = time.perf_counter()
        result, fresh = fn()
        self.done += 1
        if fresh:
            self.spent += time.perf_counter() - start
            self.computed += 1
        left = self.total - self.done
        eta = (
            f", ETA {_duration(left * self.spent / self.computed)}"
            if (self.computed and left)
            else ""
        )
        origin = "" if fresh else " (stored)"
        self.log(f"  [{self.done}/{self.total}] {what}: {summary(result)}{origin}{eta}")
        return result


def _load(settings, download, mirrors=None):
    """Training set (or its n_train subset), and the test set in a seeded order."""
    return load_experiment_data(
        settings.dataset,
        n_train=settings.n_train,
        seed=settings.seed,
        data_home=settings.data_home,
        download=download,
        mirrors=mirrors,
    )


def _data_key(settings, X, y, Xe, ye):
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
) -> list[_tables.Row]:
    """Run (or resume) the paper's experiment; returns the table rows.

    Model by model: train it (or resume, or load it; or skip it when every
    cell of it is stored), evaluate every cell of it, then rewrite the tables
    with the models finished so far; ``results.md`` is written last. Raises
    KeyboardInterrupt as it comes: every finished epoch and cell is on disk,
    and the same call resumes from them. Only this process writes ``out``
    while it runs (a second one is refused).
    """
    settings = settings.resolved()
    budget = BUDGETS[settings.budget]
    names = list(settings.models or MODELS)

    log = _Log(verbose)
    t0 = time.perf_counter()
    # the data and parameters first: a missing or corrupt data set, or a bad
    # setting, leaves nothing in --out
    X, y, Xt, yt = _load(settings, download, mirrors)
    _check_models(settings, names, y)
    n_eval = min(int(settings.n_eval or len(Xt)), len(Xt))
    Xe, ye = Xt[:n_eval], yt[:n_eval]
    run = RunDirectory(out, settings, _data_key(settings, X, y, Xe, ye), force=force)
    try:
        return _reproduce(run, settings, budget, names, X, y, Xe, ye, log, t0)
    finally:
        run.close()


def _reproduce(run, settings, budget, names, X, y, Xe, ye, log, t0):
    n_eval = len(Xe)
    sizes = {
        "train": len(X),
        "eval": n_eval,
        "curve": min(budget.n_curve, n_eval),
        "report": min(budget.n_report, n_eval),
    }
    log(
        f"{settings.dataset}: {len(X)} training images, {n_eval} attacked test "
        f"images; budget '{settings.budget}' ({budget.summary})"
    )
    timing = {"training": 0.0}

    def model(spec):
        est = spec.make(settings)
        est.set_params(callbacks=[EpochProgress(spec.name, settings.epochs, log)])

        def fit():
            path = run.checkpoint(spec.name)
            try:
                done = checkpoint_epochs(path) if path.exists() else None
            except ValueError:
                done = None  # refused by run.trained, with the way out
            if done is not None:
                log(
                    f"{spec.name}: its checkpoint {path} holds {done} epochs"
                    + (
                        f"; training to {settings.epochs}"
                        if done < settings.epochs
                        else ""
                    )
                )
            else:
                log(
                    f"Training {spec.name}: {settings.epochs} epochs, "
                    "checkpoint after each"
                )
            start = time.perf_counter()
            fitted = run.trained(spec.name, est, X, y, keep_epochs=settings.keep_epochs)
            timing["training"] += time.perf_counter() - start
            return fitted

        return Trained(spec.name, est, settings.epochs, fit)

    def clean(trained):
        def compute():
            return trained.estimator.predict(Xe) == ye

        return run.cell(trained, "clean", compute, log=log)[0]

    protocol = [  # the paper's order: black-box rows, then white-box rows
        (attack, eps, mode)
        for mode in ("black-box", "white-box")
        for attack, eps in PROTOCOL
        if settings.attacks is None or attack in settings.attacks
        if mode in ATTACKS[attack].modes
    ]
    curve_jobs = (
        [(a, m) for a, modes in CURVES.items() for m in modes]
        if settings.curves
        else []
    )
    report_eps = REPORT_EPS if settings.report else ()
    # the training-length study: both modes at every kept epoch and the last
    length_epochs = 1 + sum(e < settings.epochs for e in settings.keep_epochs)
    per_model = (
        len(protocol)
        + len(curve_jobs)
        + len(report_eps)
        + (2 * length_epochs if settings.keep_epochs else 0)
        + len(settings.views) * len(_studies.VIEW_ROWS)
    )
    progress = _Progress(len(names) * per_model, log)
    log(f"{len(names)} models, {progress.total} evaluation cells")

    sub = model(SUBSTITUTE)
    transfers = {}  # black-box examples: crafted once on the substitute, on first need

    def transferred(attack, eps, loss):
        if (attack, eps, loss) not in transfers:
            cell = f"craft-{attack}-{eps}-{loss}"

            def craft():
                substitute = sub.estimator  # trained first, outside the timing
                start = time.perf_counter()
                X_adv = attack_examples(
                    substitute, Xe, ye, attack=attack, eps=eps, mode="black-box",
                    substitute=substitute, loss=loss,
                    random_state=cell_seed(settings.seed, cell),
                    **budget.attack_params.get(attack, {}),
                )  # fmt: skip
                return Crafted(X_adv, time.perf_counter() - start)

            crafted, fresh = run.cell(sub, cell, craft, log=log)
            stored = "" if fresh else " (stored)"
            log(f"  substitute crafts {attack} eps={eps} ({loss}): "
                f"{crafted.seconds:.1f} s{stored}")  # fmt: skip
            transfers[attack, eps, loss] = crafted.X_adv
        return transfers[attack, eps, loss]

    results = {}  # (model, attack, mode, eps) -> AttackResult
    masks, curves, reports = {}, {}, {}
    studies = {"length": {}, "views": {}}
    for i, name in enumerate(names):
        trained = model(MODELS[name])
        masks[name] = clean(trained)
        log(f"{name}: clean accuracy {masks[name].mean():.1%}")
        for attack, eps, mode in protocol:
            results[name, attack, mode, eps] = progress.step(
                f"{name} {attack} {mode} eps={eps}",
                lambda attack=attack, eps=eps, mode=mode: run.cell(
                    trained,
                    table_cell(mode, attack, eps),
                    lambda: _attack_cell(
                        trained, attack, eps, mode, masks[name], Xe, ye,
                        settings, budget, transferred,
                    ),
                    substitute=sub if mode == "black-box" else None,
                    log=log,
                ),
            )  # fmt: skip
        curves[name] = _curves(
            run, settings, budget, trained, sub, Xe[: sizes["curve"]],
            ye[: sizes["curve"]], curve_jobs, progress, log,
        )  # fmt: skip
        reports[name] = _reports(
            run, settings, budget, trained, sub, Xe[: sizes["report"]],
            ye[: sizes["report"]], report_eps, progress, log,
        )  # fmt: skip
        if settings.keep_epochs:
            attack, eps = _studies.LENGTH_ATTACK
            final = {
                mode: results[name, attack, mode, eps]
                for mode in ("white-box", "black-box")
                if (name, attack, mode, eps) in results
            }
            studies["length"][name] = _studies.training_length(
                run, settings, budget, trained, sub, Xe, ye, clean, progress, final,
                log,
            )  # fmt: skip
        if settings.views:
            raw = {
                (a, e): results[name, a, "white-box", e] for a, e in _studies.VIEW_ROWS
            }
            studies["views"][name] = _studies.attacker_views(
                run, settings, budget, trained, Xe, ye, raw, progress, log
            )
        done = names[: i + 1]
        rows = _rows(done, masks, protocol, results)
        timing["total"] = time.perf_counter() - t0
        # every output after every model (partial tables), results.md last
        _write(run, settings, sizes, done, rows, curves, reports, studies, timing,
               finished=len(done) == len(names))  # fmt: skip
    log(f"Results in {run.path} ({_duration(timing['total'])})")
    return rows


def _attack_cell(
    trained, attack, eps, mode, clean, X, y, settings, budget, transferred
):
    """One (attack, eps, mode) cell of the table for one model."""
    params = budget.attack_params.get(attack, {})
    if mode == "black-box":
        start = time.perf_counter()
        robust = {
            loss: clean
            & (trained.estimator.predict(transferred(attack, eps, loss)) == y)
            for loss in ATTACKS[attack].losses
        }
        return AttackResult(
            attack, eps, mode, clean, robust, params=params,
            seconds=time.perf_counter() - start,
        )  # fmt: skip
    return evaluate_attack(
        trained.estimator, X, y, attack=attack, eps=eps,
        random_state=cell_seed(settings.seed, table_cell(mode, attack, eps)),
        **params,
    )  # fmt: skip


@plain_type
@dataclass
class Crafted:
    """Black-box examples crafted on the substitute (a stored cell)."""

    X_adv: np.ndarray
    seconds: float


def _rows(names, clean, protocol, results):
    Row = _tables.Row
    rows = [Row("clean", "", 0.0, {n: float(clean[n].mean()) for n in names}, {}, {})]
    worst = {}  # (mode, norm, eps) -> model -> mask
    for attack, eps, mode in protocol:
        per = {n: results[n, attack, mode, eps] for n in names}
        rows.append(
            Row(
                attack,
                mode,
                eps,
                {n: r.accuracy for n, r in per.items()},
                {n: r.accuracy_by_loss() for n, r in per.items()},
                {n: r.seconds for n, r in per.items()},
            )
        )
        key = (mode, ATTACKS[attack].norm_name, eps)
        masks = worst.setdefault(key, {n: clean[n].copy() for n in names})
        for n, r in per.items():
            masks[n] &= r.worst
    for (mode, norm, eps), masks in worst.items():
        rows.append(
            Row(
                f"worst {norm}",
                mode,
                eps,
                {n: float(m.mean()) for n, m in masks.items()},
                {},
                {},
            )
        )
    return rows


def _curves(run, settings, budget, trained, sub, X, y, jobs, progress, log):
    """The model's minimal-perturbation curves: (attack, mode) -> RobustnessCurve."""
    curves = {}
    for attack, mode in jobs:
        cell = f"curve-{mode}-{attack}"

        def compute(attack=attack, mode=mode, cell=cell):
            return robustness_curve(
                trained.estimator, X, y, attack=attack, mode=mode,
                substitute=sub.estimator if mode == "black-box" else None,
                random_state=cell_seed(settings.seed, cell),
                **budget.attack_params.get(attack, {}),
            )  # fmt: skip

        curves[attack, mode] = progress.step(
            f"{trained.name} curve {attack} {mode}",
            lambda cell=cell, compute=compute, mode=mode: run.cell(
                trained,
                cell,
                compute,
                log=log,
                substitute=sub if mode == "black-box" else None,
            ),
            summary=lambda c: f"median perturbation {c.median_perturbation:.3f}",
        )
    return curves


def _reports(run, settings, budget, trained, sub, X, y, eps_list, progress, log):
    """The model's robustness reports: eps -> RobustnessReport."""
    reports = {}
    for eps in eps_list:
        cell = f"report-{eps}"

        def compute(eps=eps, cell=cell):
            return robustness_report(
                trained.estimator, X, y, eps=eps, substitute=sub.estimator,
                attack_params=budget.attack_params,
                random_state=cell_seed(settings.seed, cell),
            )  # fmt: skip

        report = progress.step(
            f"{trained.name} robustness report eps={eps}",
            lambda cell=cell, compute=compute: run.cell(
                trained, cell, compute, substitute=sub, log=log
            ),
            summary=lambda r: f"worst case {r.worst_case:.1%}",
        )
        log(f"    flags: {', '.join(c.name for c in report.flags) or 'none'}")
        reports[eps] = report
    return reports


def _write(
    run, settings, sizes, names, rows, curves, reports, studies, timing, finished
):
    """Every output for the models in ``names``; results.md only when finished."""
    from matplotlib.figure import Figure

    by_job = {}  # (attack, mode) -> model -> RobustnessCurve
    for name in names:
        for job, curve in curves[name].items():
            by_job.setdefault(job, {})[name] = curve
    curves = by_job
    figures = {}  # (norm, mode) -> model -> worst-case curve over that norm's attacks
    for (attack, mode), per_model in curves.items():
        norm = ATTACKS[attack].norm_name
        for name, curve in per_model.items():
            figures.setdefault((norm, mode), {}).setdefault(name, []).append(curve)
    for (norm, mode), per_model in figures.items():
        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
        top = 0.5 if norm == "L-inf" else 4.0
        for name, group in per_model.items():
            curve = worst_case(*group, label=name)
            curve.eps = np.linspace(0, top, 101)
            curve.plot(ax=ax)
        attacks = ", ".join(
            a for (a, m) in curves if m == mode and ATTACKS[a].norm_name == norm
        )
        ax.set_title(
            f"{norm} {mode}: per-image worst of {attacks} ({sizes['curve']} images)",
            fontsize=9,
        )
        fig.tight_layout()
        write_png_atomic(
            fig, run.path / f"curves_{norm.lower().replace('-', '')}_{mode}.png"
        )
    if any(reports.values()):
        lines = [f"# Robustness reports ({sizes['report']} images)", ""]
        for name in names:
            for eps, report in reports[name].items():
                lines += [f"## {name}, eps={eps}", "", "```", str(report), "```", ""]
        write_text_atomic(run.path / "report.md", "\n".join(lines))
    if studies["length"]:
        _studies.plot_training_length(
            studies["length"], run.path / "training_length.png", sizes["eval"]
        )
        text = _studies.training_length_markdown(studies["length"])
        write_text_atomic(run.path / "training_length.md", text)
        write_text_atomic(
            run.path / "training_length.rst", _tables.markdown_to_rst(text)
        )
    if studies["views"]:
        text = _studies.views_markdown(studies["views"], settings.views, names)
        write_text_atomic(run.path / "views.md", text)
        write_text_atomic(run.path / "views.rst", _tables.markdown_to_rst(text))
    if curves:
        text = _tables.medians_markdown(names, curves)
        write_text_atomic(run.path / "medians.rst", _tables.markdown_to_rst(text))
    write_text_atomic(run.path / "results.csv", _tables.csv_text(settings, names, rows))
    write_text_atomic(
        run.path / "results.rst", _tables.rst(settings, sizes, names, rows)
    )
    if not finished:
        return
    # last: results.md marks the run as finished
    write_text_atomic(
        run.results, _tables.markdown(settings, sizes, names, rows, curves, timing)
    )
