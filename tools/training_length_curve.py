"""The training-length curve across run folders, from stored cells only.

``reproduce --keep-epochs`` draws the curve of one run, recomputing every
point it lacks (which needs the model's weights). The 200-epoch MNIST study
spans run folders whose weights are gone: the 3-50-epoch points of the
50-epoch run (``runs/mnist``) and the 100- and 200-epoch points of the
200-epoch runs (``runs/mnist-200``). This reads the points that are stored,
trains and attacks nothing, and says for every black-box point which
substitute crafted it (each run trains its own for ``--epochs``, so the
black-box points of two runs compare two attacks as much as two models).

Per model and kept epoch: clean accuracy, white-box and black-box PGD-40 at
0.15 (the training-length cells, or at the last epoch the table's), and at
200 epochs the paper's number in brackets. Folders later on the command line
take precedence for a point stored in several::

    python3 tools/training_length_curve.py runs/mnist runs/mnist-200 \\
        --models C-DV C-JS C-DV-IE C-JS-IE \\
        --out docs/_static/results/mnist200_training_length
"""

import argparse
import re
import sys
from pathlib import Path

from sk_guessfirst._plaindata import load, write_text_atomic
from sk_guessfirst.reproduce._figures import plot_training_length
from sk_guessfirst.reproduce._plan import LENGTH_ATTACK, paper_value
from sk_guessfirst.reproduce._tables import markdown_to_rst

PAPER_EPOCHS = 200
MODES = ("white-box", "black-box")


def cell_names(mode):
    """The cell holding a point's attack: a kept snapshot's, or the table's."""
    attack, eps = LENGTH_ATTACK
    return (f"length-{mode}-{attack}-{eps}", f"{mode}-{attack}-{eps}")


def read_points(folders, models):
    """model -> epoch -> {"clean", "white-box", "black-box", "substitute"}."""
    points = {m: {} for m in models}
    hashes = {m: set() for m in models}
    for folder in folders:
        evaluations = sorted(p for p in (Path(folder) / "cells").iterdir())
        if len(evaluations) != 1:
            sys.exit(
                f"{folder}/cells holds {len(evaluations)} evaluations; expected one"
            )
        for d in sorted(evaluations[0].iterdir()):
            match = re.fullmatch(r"(.+)-e(\d+)-([0-9a-f]+)", d.name)
            if not match or match[1] not in points:
                continue
            name, epoch = match[1], int(match[2])
            hashes[name].add(match[3])
            point = points[name].setdefault(epoch, {})
            if (d / "clean.npz").exists():
                point["clean"] = float(load(d / "clean.npz")[0].mean())
            for mode in MODES:
                for cell in cell_names(mode):
                    if (d / f"{cell}.npz").exists():
                        result, meta = load(d / f"{cell}.npz")
                        point[mode] = result.accuracy
                        if mode == "black-box":
                            point["substitute"] = meta["key"]["substitute"]["epochs"]
                        break
    for name, found in hashes.items():
        if len(found) > 1:
            sys.exit(f"{name}: cells of {len(found)} parameter sets {sorted(found)}")
    return points


def fmt(value):
    return "" if value is None else f"{100 * value:.1f}"


def markdown(points, dataset):
    attack, eps = LENGTH_ATTACK
    lines = [
        "| model | epochs | clean | white-box | black-box | substitute epochs |",
        "|---|---|---|---|---|---|",
    ]
    for name, by_epoch in points.items():
        for epoch in sorted(by_epoch):
            p = by_epoch[epoch]
            cells = [fmt(p.get("clean"))]
            for mode in MODES:
                text = fmt(p.get(mode))
                paper = paper_value(dataset, attack, mode, eps, name)
                if epoch == PAPER_EPOCHS and paper is not None:
                    text += f" ({paper})"
                cells.append(text)
            cells.append(str(p.get("substitute", "")))
            lines.append(f"| {name} | {epoch} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paper_marks(points, dataset):
    """The paper's numbers, as stars at its epochs: name -> what -> (epoch, acc)."""
    attack, eps = LENGTH_ATTACK
    marks = {}
    for name in points:
        cells = {"clean": ("clean", "", 0.0)}
        cells.update({mode: (attack, mode, eps) for mode in MODES})
        for what, (a, mode, e) in cells.items():
            value = paper_value(dataset, a, mode, e, name)
            if value is not None:
                marks.setdefault(name, {})[what] = (PAPER_EPOCHS, value / 100)
    return marks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="run folders (or carried runs/)")
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--n-images", type=int, default=1000, help="for the titles")
    parser.add_argument(
        "--out", required=True, help="path stem of the .rst table and .png plot"
    )
    args = parser.parse_args(argv)
    points = read_points(args.folders, args.models)
    text = markdown(points, args.dataset)
    print(text)
    out = Path(args.out)
    write_text_atomic(out.with_suffix(".rst"), markdown_to_rst(text))
    n_images = args.n_images
    plot_training_length(
        points, out.with_suffix(".png"), n_images, paper_marks(points, args.dataset)
    )


if __name__ == "__main__":
    main()
