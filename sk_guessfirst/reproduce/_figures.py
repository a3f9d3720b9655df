"""The run's figures: robustness curves and the training-length study."""

from __future__ import annotations

import numpy as np

from .._plaindata import write_png_atomic
from ..adversarial import ATTACKS, MODES, worst_case
from ._plan import LENGTH_ATTACK, PROTOCOL

# How far each norm's curves reach (past the table's largest budget).
CURVE_TOP = {"L-inf": 0.5, "L2": 4.0}


def plot_curves(curves, folder, n_images, dataset=""):
    """One figure per (norm, mode): per model, the per-image worst case over
    that norm's attacks, accuracy in percent as the tables give it, dotted
    lines at the table's budgets of that norm. ``curves`` maps (attack, mode)
    to model -> curve."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    figures = {}  # (norm, mode) -> model -> curves of that norm's attacks
    for (attack, mode), per_model in curves.items():
        norm = ATTACKS[attack].norm_name
        for name, curve in per_model.items():
            figures.setdefault((norm, mode), {}).setdefault(name, []).append(curve)
    for (norm, mode), per_model in figures.items():
        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
        top = CURVE_TOP[norm]
        for name, group in per_model.items():
            curve = worst_case(*group, label=name)
            curve.eps = np.linspace(0, top, 101)
            curve.plot(ax=ax)
        for eps in sorted({e for a, e in PROTOCOL if ATTACKS[a].norm_name == norm}):
            ax.axvline(eps, color="0.6", linestyle=":", linewidth=1)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        attacks = ", ".join(
            ATTACKS[a].label
            for (a, m) in curves
            if m == mode and ATTACKS[a].norm_name == norm
        )
        ax.set_title(
            f"{dataset} {norm} {mode}, {n_images} images: per image the worst of\n"
            f"the minimal-perturbation attacks {attacks} (dotted: the table's eps)",
            fontsize=8,
        )
        fig.tight_layout()
        write_png_atomic(
            fig, folder / f"curves_{norm.lower().replace('-', '')}_{mode}.png"
        )


def plot_training_length(curve, path, n_images, marks=None):
    """Clean, white-box and black-box accuracy against epochs, a line per model
    (``curve``: name -> epoch -> what -> accuracy; a point may lack a what);
    ``marks`` (name -> what -> (epoch, accuracy)) are drawn as stars in the
    model's colour, e.g. a published number."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    attack, eps = LENGTH_ATTACK
    # a panel per what was measured: clean, then each attack mode's accuracy
    titles = {"clean": "clean"}
    titles.update({mode: f"{mode} {attack.upper()} eps={eps}" for mode in MODES})
    fig = Figure(figsize=(11, 3.6))
    axes = fig.subplots(1, len(titles), sharey=True)
    for ax, (what, title) in zip(axes, titles.items(), strict=True):
        for i, (name, points) in enumerate(curve.items()):
            epochs = [e for e in sorted(points) if what in points[e]]
            ax.plot(epochs, [points[e][what] for e in epochs], marker="o",
                    color=f"C{i}", label=name)  # fmt: skip
            mark = (marks or {}).get(name, {}).get(what)
            if mark is not None:
                ax.plot(*mark, marker="*", markersize=12, color=f"C{i}",
                        linestyle="none")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("training epochs")
        ax.set_title(f"{title} ({n_images} images)", fontsize=9)
    axes[0].set_ylabel("accuracy")
    axes[0].yaxis.set_major_formatter(PercentFormatter(1.0))
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    write_png_atomic(fig, path)
