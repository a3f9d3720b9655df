"""Two studies beside the table: robustness against training length, and what
the attacker is handed (the "view")."""

from __future__ import annotations

from ..adversarial import ATTACKS, VIEWS, evaluate_attack, input_gradient_stats
from ..checkpoint import load_checkpoint, snapshot_path
from ._run import Trained, cell_seed

# The fixed cheap attack set of the training-length curve.
LENGTH_ATTACK = ("pgd", 0.15)
# The paper's white-box rows, rerun under each view.
VIEW_ROWS = (("fgsm", 0.15), ("fgsm", 0.30), ("pgd", 0.15), ("pgd", 0.30))
MASKING_TOLERANCE = 0.02


def training_length(run, settings, budget, trained, substitute, X, y, progress):
    """Clean, white-box and black-box accuracy of every model at each kept epoch.

    Returns {model: {epoch: {"clean", "white-box", "black-box"}}}.
    """
    attack, eps = LENGTH_ATTACK
    params = budget.attack_params.get(attack, {})
    curve = {}
    for name, final in trained.items():
        epochs = [e for e in settings.keep_epochs if e < len(final.estimator.history)]
        points = {}
        for epoch in [*epochs, len(final.estimator.history)]:
            if epoch == len(final.estimator.history):
                model = final
            else:
                path = snapshot_path(run.checkpoint(name), epoch)
                model = Trained(name, load_checkpoint(path))
            row = {"clean": float((model.estimator.predict(X) == y).mean())}
            for mode in ("white-box", "black-box"):
                cell = f"length-{mode}-{attack}-{eps}"

                def compute(model=model, mode=mode, cell=cell):
                    return evaluate_attack(
                        model.estimator, X, y, attack=attack, eps=eps, mode=mode,
                        substitute=substitute,
                        random_state=cell_seed(settings.seed, cell), **params,
                    )  # fmt: skip

                result = progress.step(
                    f"{name} at epoch {epoch}: {attack} {mode} eps={eps}",
                    lambda model=model, cell=cell, compute=compute: run.cell(
                        model, cell, compute
                    ),
                )
                row[mode] = result.accuracy
            points[epoch] = row
        curve[name] = points
    return curve


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
    fig.savefig(path, dpi=120)


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


def attacker_views(run, settings, budget, trained, X, y, raw, progress):
    """The paper's white-box rows under each view, and whether the view masks.

    ``raw`` maps (model, attack, eps) to the raw-scores AttackResult of the
    main table. A view is flagged as masking when examples that the raw-score
    attack breaks survive the view's attack (more than the tolerance), or when
    its input gradients vanish.
    """
    table = {}
    for view in settings.views:
        for name, model in trained.items():
            for attack, eps in VIEW_ROWS:
                cell = f"view-{view}-{attack}-{eps}"

                def compute(model=model, attack=attack, eps=eps, view=view, cell=cell):
                    return evaluate_attack(
                        model.estimator, X, y, attack=attack, eps=eps, view=view,
                        random_state=cell_seed(settings.seed, cell),
                        **budget.attack_params.get(attack, {}),
                    )  # fmt: skip

                result = progress.step(
                    f"{name} {attack} eps={eps} against view {view}",
                    lambda model=model, cell=cell, compute=compute: run.cell(
                        model, cell, compute
                    ),
                )
                honest = raw[name, attack, eps].worst
                hidden = float((~honest & result.worst).mean())
                table[view, name, attack, eps] = (result.accuracy, hidden)
            zero, nan = input_gradient_stats(model.estimator, X, y, view=view)
            table[view, name, "gradients"] = (zero, nan)
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
                acc, hidden = table[view, name, attack, eps]
                flag = " FLAG" if hidden > MASKING_TOLERANCE else ""
                cells.append(f"{100 * acc:.1f} ({100 * hidden:.1f}){flag}")
            label = ATTACKS[attack].label
            lines.append(
                f"| {view} | {label} | {eps:.2f} | " + " | ".join(cells) + " |"
            )
        cells = []
        for name in names:
            zero, nan = table[view, name, "gradients"]
            flag = " FLAG" if zero > 0.05 or nan else ""
            cells.append(f"{100 * zero:.1f}% zero{' NaN' if nan else ''}{flag}")
        lines.append(f"| {view} | input gradients | | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def check_views(views):
    unknown = set(views) - set(VIEWS)
    if unknown:
        raise ValueError(f"views {sorted(unknown)} are not among {sorted(VIEWS)}")
    return tuple(v for v in VIEWS if v in views)
