"""Two studies beside the table: robustness against training length, and what
the attacker is handed (the "view")."""

from __future__ import annotations

from sklearn.base import clone

from .._plaindata import write_png_atomic
from ..adversarial import ATTACKS, VIEWS, evaluate_attack, input_gradient_stats
from ..checkpoint import load_checkpoint, snapshot_path
from ._run import cell_seed, table_cell

# The fixed cheap attack set of the training-length curve.
LENGTH_ATTACK = ("pgd", 0.15)
# The paper's white-box rows, rerun under each view.
VIEW_ROWS = (("fgsm", 0.15), ("fgsm", 0.30), ("pgd", 0.15), ("pgd", 0.30))
MASKING_TOLERANCE = 0.02


def training_length(
    run, settings, budget, model, substitute, X, y, clean, progress, final, log=None
):
    """Clean, white-box and black-box accuracy of ``model`` at each kept epoch.

    ``substitute`` is the run's :class:`Trained` substitute and ``clean(model)``
    the model's stored clean mask. ``final`` maps a mode to the main table's
    result of the same attack on the finished model (empty when the run's
    attacks leave it out): the last point reads it, so it equals the table
    (no second random start, no second transfer).
    Returns {epoch: {"clean", "white-box", "black-box"}}.
    """
    attack, eps = LENGTH_ATTACK
    params = budget.attack_params.get(attack, {})
    snapshots = {}
    for epoch in [e for e in settings.keep_epochs if e < model.epochs]:
        path = snapshot_path(run.checkpoint(model.name), epoch)
        snapshots[epoch] = model.at_epoch(
            epoch, lambda p=path: load_checkpoint(p, clone(model.template))
        )
    snapshots[model.epochs] = model
    points = {}
    for epoch, snapshot in snapshots.items():
        row = {"clean": float(clean(snapshot).mean())}
        for mode in ("white-box", "black-box"):
            cell = f"length-{mode}-{attack}-{eps}"

            def compute(snapshot=snapshot, mode=mode, cell=cell):
                return evaluate_attack(
                    snapshot.estimator, X, y, attack=attack, eps=eps, mode=mode,
                    substitute=substitute.estimator,
                    random_state=cell_seed(settings.seed, cell), **params,
                )  # fmt: skip

            def stored(snapshot=snapshot, mode=mode, cell=cell, compute=compute):
                if snapshot is model and mode in final:
                    return final[mode], False  # the table's own cell
                via = substitute if mode == "black-box" else None
                return run.cell(snapshot, cell, compute, substitute=via, log=log)

            result = progress.step(
                f"{model.name} at epoch {epoch}: {attack} {mode} eps={eps}", stored
            )
            row[mode] = result.accuracy
        points[epoch] = row
    return points


def plot_training_length(curve, path, n_images):
    from matplotlib.figure import Figure

    attack, eps = LENGTH_ATTACK
    fig = Figure(figsize=(11, 3.6))
    axes = fig.subplots(1, 3, sharey=True)
    for ax, what in zip(axes, ("clean", "white-box", "black-box"), strict=True):
        for name, points in curve.items():
            epochs = sorted(points)
            ax.plot(epochs, [points[e][what] for e in epochs], marker="o", label=name)
        ax.set_xscale("log")
        ax.set_xlabel("training epochs")
        title = what if what == "clean" else f"{what} {attack.upper()} eps={eps}"
        ax.set_title(f"{title} ({n_images} images)", fontsize=9)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    write_png_atomic(fig, path)


def training_length_markdown(curve):
    lines = [
        "| model | epochs | clean | white-box | black-box |",
        "|---|---|---|---|---|",
    ]
    for name, points in curve.items():
        for epoch in sorted(points):
            p = points[epoch]
            lines.append(
                f"| {name} | {epoch} | {100 * p['clean']:.1f} | "
                f"{100 * p['white-box']:.1f} | {100 * p['black-box']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def attacker_views(run, settings, budget, model, X, y, raw, progress, log=None):
    """The paper's white-box rows under each view, and whether the view masks.

    ``raw`` maps (attack, eps) to the model's raw-scores AttackResult of the
    main table. A view is flagged as masking when examples that the raw-score
    attack breaks survive the view's attack (more than the tolerance), or when
    its input gradients vanish. Each view's attack starts from the same random
    points as the raw-score one (common random numbers): a view equal to the
    raw scores gives the raw result exactly, and a flag measures the view.
    Returns {(view, attack, eps): (accuracy, hidden share)} and
    {(view, "gradients"): (zero share, any NaN)}.
    """
    table = {}
    for view in settings.views:
        for attack, eps in VIEW_ROWS:
            # common random numbers: the same random starts as the raw-score
            # cell, so that a difference is the view's, never the seed's
            paired = table_cell("white-box", attack, eps)
            cell = f"view-{view}-{paired}"

            def compute(attack=attack, eps=eps, view=view, paired=paired):
                return evaluate_attack(
                    model.estimator, X, y, attack=attack, eps=eps, view=view,
                    random_state=cell_seed(settings.seed, paired),
                    **budget.attack_params.get(attack, {}),
                )  # fmt: skip

            result = progress.step(
                f"{model.name} {attack} eps={eps} against view {view}",
                lambda cell=cell, compute=compute: run.cell(
                    model, cell, compute, log=log
                ),
            )
            hidden = float((~raw[attack, eps].worst & result.worst).mean())
            table[view, attack, eps] = (result.accuracy, hidden)
        table[view, "gradients"], _ = run.cell(
            model,
            f"view-{view}-gradients",
            lambda view=view: input_gradient_stats(model.estimator, X, y, view=view),
            log=log,
        )
    return table


def views_markdown(table, views, names):
    lines = [
        "White-box robust accuracy (%) when the attacker is handed each view; in "
        "brackets, the share of examples (%) that the raw-score attack breaks but "
        "the view's attack does not. FLAG: the view masks gradients (that share "
        f"above {100 * MASKING_TOLERANCE:.0f}%, or more than 5% all-zero input "
        "gradients, or NaN).",
        "",
        "| view | attack | eps | " + " | ".join(names) + " |",
        "|" + "---|" * (len(names) + 3),
    ]
    for view in views:
        for attack, eps in VIEW_ROWS:
            cells = []
            for name in names:
                acc, hidden = table[name][view, attack, eps]
                flag = " FLAG" if hidden > MASKING_TOLERANCE else ""
                cells.append(f"{100 * acc:.1f} ({100 * hidden:.1f}){flag}")
            label = ATTACKS[attack].label
            lines.append(
                f"| {view} | {label} | {eps:.2f} | " + " | ".join(cells) + " |"
            )
        cells = []
        for name in names:
            zero, nan = table[name][view, "gradients"]
            flag = " FLAG" if zero > 0.05 or nan else ""
            cells.append(f"{100 * zero:.1f}% zero{' NaN' if nan else ''}{flag}")
        lines.append(f"| {view} | input gradients | | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def check_views(views):
    unknown = set(views) - set(VIEWS)
    if unknown:
        raise ValueError(f"views {sorted(unknown)} are not among {sorted(VIEWS)}")
    return tuple(v for v in VIEWS if v in views)
