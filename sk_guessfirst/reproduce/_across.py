"""Results across run folders, from stored cells only (``sk-guessfirst
length-curve``): nothing is trained, attacked or written into the folders.

``reproduce --keep-epochs`` draws the training-length curve of one run,
computing every point it lacks (which needs the model's weights). A study that
spans run folders whose weights are gone (the 3-50-epoch points of a 50-epoch
run and the 100- and 200-epoch points of a 200-epoch run) reads the points
that are stored, and says for every black-box point which substitute crafted
it (each run trains its own for ``--epochs``, so black-box points of two runs
compare two attacks as much as two models).
"""

from __future__ import annotations

from pathlib import Path

from .._plaindata import write_text_atomic
from ..adversarial import MODES
from ._figures import plot_training_length
from ._plan import LENGTH_ATTACK, PAPER_EPOCHS, paper_value
from ._reading import RunFolder
from ._tables import INTERVALS, markdown_to_rst, percent, training_length_markdown


def _cell_names(mode: str) -> tuple[str, str]:
    """The cells holding a point's attack: a kept snapshot's, or the table's."""
    attack, eps = LENGTH_ATTACK
    return f"length-{mode}-{attack}-{eps}", f"{mode}-{attack}-{eps}"


def length_points(runs: list[RunFolder], models: list[str]) -> dict:
    """model -> epoch -> {"clean", "white-box", "black-box", "substitute"}
    (accuracies, and the epochs of the substitute behind the black-box
    point); runs later in the list win for a point stored in several."""
    points: dict = {m: {} for m in models}
    for run in runs:
        for model in models:
            by_epoch: dict = {}
            for cell in run.cells(model):
                by_epoch.setdefault(cell.epochs, {})[cell.name] = cell
            for epoch, cells in by_epoch.items():
                point = points[model].setdefault(epoch, {})
                if "clean" in cells:
                    point["clean"] = float(cells["clean"].read()[0].mean())
                for mode in MODES:
                    found = [cells[n] for n in _cell_names(mode) if n in cells]
                    if not found:
                        continue
                    result, meta = found[0].read()
                    point[mode] = result.accuracy
                    if MODES[mode].uses_substitute:
                        point["substitute"] = meta["key"]["substitute"]["epochs"]
    return points


def length_markdown(points: dict, dataset: str, n: int) -> str:
    """The points as a Markdown table, each accuracy with its interval, the
    paper's number in brackets at its 200 epochs."""
    attack, eps = LENGTH_ATTACK
    caption = (
        f"Accuracy (%) per training length on {n} test images, white- and "
        f"black-box {attack.upper()} at eps {eps}; " + INTERVALS
    )
    return training_length_markdown(points, n, dataset=dataset, caption=caption)


def _paper_marks(points: dict, dataset: str) -> dict:
    """The paper's numbers as stars at its epochs: name -> what -> (epoch, acc)."""
    attack, eps = LENGTH_ATTACK
    marks: dict = {}
    for name in points:
        cells = {"clean": ("clean", "", 0.0)}
        cells.update({mode: (attack, mode, eps) for mode in MODES})
        for what, (a, mode, e) in cells.items():
            value = paper_value(dataset, a, mode, e, name)
            if value is not None:
                marks.setdefault(name, {})[what] = (PAPER_EPOCHS, value / 100)
    return marks


def write_length_curve(runs: list[RunFolder], models: list[str], out: Path) -> str:
    """The table (``out``.rst) and plot (``out``.png) of the training-length
    points stored in ``runs``; returns the Markdown table. The runs must
    attack one data set's same images (their data fingerprints agree)."""
    evals = {(r.data.get("dataset"), r.data.get("eval")) for r in runs}
    if len(evals) != 1:
        raise ValueError(
            "the run folders attacked different images (data set or fingerprint "
            f"differ: {sorted(map(str, evals))}); their points do not compare"
        )
    dataset = runs[0].data["dataset"]
    n = int(runs[0].data["n_eval"])
    points = length_points(runs, models)
    missing = [m for m, p in points.items() if not p]
    if missing:
        raise ValueError(f"no stored cells of {missing} in these run folders")
    text = length_markdown(points, dataset, n)
    write_text_atomic(out.with_suffix(".rst"), markdown_to_rst(text))
    plot_training_length(
        points, out.with_suffix(".png"), n, _paper_marks(points, dataset)
    )
    return text


def trainings_markdown(
    runs: list[RunFolder], models: list[str], cells: list[str] | None = None
) -> str:
    """Each model's accuracy per training (one run folder each, e.g. one per
    ``--seed``) with its exact interval, then the mean and the standard
    deviation over trainings, per cell (default: the cells every run holds for
    every model, clean first)."""
    import numpy as np

    if cells is None:
        held = [
            {
                c.name
                for c in run.cells(m)
                if not c.name.startswith(("curve-", "report-"))
            }
            for run in runs
            for m in models
        ]
        common = set.intersection(*held) if held else set()
        cells = sorted(common, key=lambda c: (c != "clean", c))
    seeds = [str(r.settings.get("seed")) for r in runs]
    head = ["cell", "model", *(f"seed {s}" for s in seeds), "mean", "sd"]
    lines = [
        f"Accuracy (%) per training ({len(runs)} trainings, one run folder each); "
        + INTERVALS
        + " Mean and standard deviation over the trainings.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for cell in cells:
        for model in models:
            masks = [run.mask(model, cell) for run in runs]
            accs = np.array([m.mean() for m in masks])
            sd = f"{100 * accs.std(ddof=1):.1f}" if len(accs) > 1 else "-"
            row = [percent(float(m.mean()), len(m)) for m in masks]
            lines.append(
                f"| {cell} | {model} | " + " | ".join(row)
                + f" | {100 * accs.mean():.1f} | {sd} |"
            )  # fmt: skip
    return "\n".join(lines) + "\n"


__all__ = [
    "length_markdown",
    "length_points",
    "trainings_markdown",
    "write_length_curve",
]
