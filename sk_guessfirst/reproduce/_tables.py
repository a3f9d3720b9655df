"""The results as tables: Markdown, CSV and reST, with the paper's numbers beside."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from ..adversarial import ATTACKS, MODES, accuracy_interval
from ._plan import (
    LENGTH_ATTACK,
    MASKING_TOLERANCE,
    PAPER_EPOCHS,
    VIEW_ROWS,
    paper_value,
)


@dataclass
class Row:
    """One table row: an attack of the registry at a budget, per model. The
    rows that are no attack (clean accuracy, the worst case over a norm's
    attacks) are made by :meth:`clean` and :meth:`worst`, which name them."""

    attack: str  # the registry's name, or "clean" / "worst <norm>" (the CSV column)
    mode: str
    eps: float
    accuracy: dict  # model -> accuracy in [0, 1]
    by_loss: dict  # model -> {loss: accuracy}
    seconds: dict  # model -> seconds
    label: str = ""  # the tables' row label (default: the attack's, the mode's word)

    def __post_init__(self):
        if not self.label:
            self.label = f"{ATTACKS[self.attack].label} {MODES[self.mode].word}"

    @classmethod
    def clean(cls, accuracy):
        return cls("clean", "", 0.0, accuracy, {}, {}, label="clean")

    @classmethod
    def worst(cls, norm, mode, eps, accuracy):
        """Per example, the worst case over every attack of ``norm`` in ``mode``
        at ``eps``."""
        name = f"worst {norm}"
        return cls(name, mode, eps, accuracy, {}, {}, f"{name} {MODES[mode].word}")


def percent(acc, n):
    """``95.8 [93.6, 97.3]``: an accuracy on ``n`` images, in percent, with its
    exact 95% interval."""
    low, high = accuracy_interval(round(acc * n), n)
    return f"{100 * acc:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


def _cell(settings, row, model, n):
    """The accuracy with its interval (:func:`percent`), the paper's number in
    brackets after it."""
    acc = row.accuracy.get(model)
    if acc is None:
        return "-"
    paper = paper_value(settings.dataset, row.attack, row.mode, row.eps, model)
    return percent(acc, n) + (f" ({paper})" if paper is not None else "")


INTERVALS = (
    "Each accuracy is followed by its exact (Clopper-Pearson) 95% interval over the "
    "attacked images."
)


def settings_line(settings, sizes, about=None):
    """The settings the numbers depend on: the training settings for models
    trained here, or ``about`` (what the evaluated model file is) instead."""
    attacked = (
        f"dataset={settings.dataset}, budget={settings.budget}, "
        f"attacked test images={sizes['eval']} (curves {sizes['curve']}, report "
        f"{sizes['report']}), seed={settings.seed}"
    )
    if about is not None:
        return f"{attacked}; evaluated model: {about}"
    return (
        f"{attacked}; training: epochs={settings.epochs}, training images="
        f"{sizes['train']}, ie_lambda={settings.ie_lambda}, sigma={settings.sigma}, "
        f"batch_size={settings.batch_size}"
    )


def markdown(settings, sizes, models, rows, curves, timing, about=None):
    has_paper = any(
        paper_value(settings.dataset, r.attack, r.mode, r.eps, m) is not None
        for r in rows
        for m in models
    )
    head = ["attack", "eps", *models]
    lines = [
        f"# Results: {settings.dataset}",
        "",
        "Settings: " + settings_line(settings, sizes, about) + ".",
        "",
        "Accuracy in %, fixed-budget robust accuracy (clean mistakes count as "
        "failures). FGSM, PGD and PGD-L2 rows are the per-example worst case over "
        "cross-entropy and margin losses (each loss in results.csv); C&W is "
        "Foolbox's minimal-perturbation attack at the budget; AutoAttack is the "
        "standard ensemble from the reference code; 'worst' rows take the "
        "per-example worst case over every attack of that norm, mode and budget. "
        + INTERVALS
        + (" The paper's number is in round brackets." if has_paper else ""),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in rows:
        cells = [_cell(settings, row, m, sizes["eval"]) for m in models]
        lines.append(f"| {row.label} | {row.eps:.2f} | " + " | ".join(cells) + " |")
    if curves:
        lines += ["", medians_markdown(models, curves).rstrip("\n")]
    lines += ["", "Time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timing.items())]
    return "\n".join(lines) + "\n"


def rst(settings, sizes, models, rows, about=None):
    """The table as a reST csv-table, for the Sphinx documentation."""
    lines = [
        f".. csv-table:: {settings.dataset}: "
        + settings_line(settings, sizes, about)
        + ". "
        + INTERVALS,
        "   :header: " + ", ".join(["attack", "eps", *models]),
        "",
    ]
    for row in rows:
        cells = [
            row.label,
            f"{row.eps:.2f}",
            *(_cell(settings, row, m, sizes["eval"]) for m in models),
        ]
        lines.append("   " + ", ".join(f'"{c}"' for c in cells))
    return "\n".join(lines) + "\n"


def medians_markdown(models, curves):
    """The median minimal perturbation of each model under each curve attack."""
    lines = [
        "Median minimal perturbation (Foolbox; 0 for clean mistakes, inf where "
        "the attack failed):",
        "",
        "| attack | mode | " + " | ".join(models) + " |",
        "|" + "---|" * (len(models) + 2),
    ]
    for (attack, mode), per_model in curves.items():
        cells = [
            f"{per_model[m].median_perturbation:.3f}" if m in per_model else "-"
            for m in models
        ]
        lines.append(f"| {attack} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_to_rst(text, caption=""):
    """A Markdown pipe table (and the prose before it) as a reST csv-table."""
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    prose = " ".join(ln for ln in text.splitlines() if ln and not ln.startswith("|"))
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    header, body = cells[0], [row for row in cells[1:] if set("".join(row)) - set("-")]
    out = [f".. csv-table:: {caption or prose}".rstrip(), "   :header: "
           + ", ".join(f'"{h}"' for h in header), ""]  # fmt: skip
    out += ["   " + ", ".join(f'"{c}"' for c in row) for row in body]
    return "\n".join(out) + "\n"


def csv_text(settings, models, rows, n):
    """The table as CSV: per row and model the worst case, then each loss,
    each with its exact 95% interval over the ``n`` attacked images."""
    f = io.StringIO(newline="")
    w = csv.writer(f)
    w.writerow(["attack", "mode", "eps", "loss", "model", "accuracy", "low", "high",
                "paper", "seconds"])  # fmt: skip

    def interval(acc):
        low, high = accuracy_interval(round(acc * n), n)
        return [f"{100 * low:.2f}", f"{100 * high:.2f}"]

    for row in rows:
        for m in models:
            if m not in row.accuracy:
                continue
            paper = paper_value(settings.dataset, row.attack, row.mode, row.eps, m)
            w.writerow([
                row.attack, row.mode, row.eps, "worst", m,
                f"{100 * row.accuracy[m]:.2f}", *interval(row.accuracy[m]),
                "" if paper is None else paper, f"{row.seconds.get(m, 0.0):.1f}",
            ])  # fmt: skip
            by_loss = row.by_loss.get(m, {})
            if len(by_loss) > 1:
                for loss, acc in by_loss.items():
                    w.writerow([row.attack, row.mode, row.eps, loss, m,
                                f"{100 * acc:.2f}", *interval(acc), "",
                                ""])  # fmt: skip
    return f.getvalue()


def table_rows(names, results, cells):
    """The table: clean accuracy, each cell's row, and per (mode, norm, eps)
    the per-example worst case over the attacks of that norm. ``results``
    maps a model name to its ModelResults; ``cells`` are the table cells in
    order."""
    clean = {n: results[n].clean for n in names}
    rows = [Row.clean({n: float(clean[n].mean()) for n in names})]
    worst = {}  # (mode, norm, eps) -> model -> mask
    for cell in cells:
        per = {n: results[n].table[cell] for n in names}
        rows.append(
            Row(
                cell.attack,
                cell.mode,
                cell.eps,
                {n: r.accuracy for n, r in per.items()},
                {n: r.accuracy_by_loss() for n, r in per.items()},
                {n: r.seconds for n, r in per.items()},
            )
        )
        key = (cell.mode, ATTACKS[cell.attack].norm_name, cell.eps)
        masks = worst.setdefault(key, {n: clean[n].copy() for n in names})
        for n, r in per.items():
            masks[n] &= r.worst
    for (mode, norm, eps), masks in worst.items():
        rows.append(
            Row.worst(norm, mode, eps, {n: float(m.mean()) for n, m in masks.items()})
        )
    return rows


def training_length_markdown(curve, n, *, dataset=None, caption=None):
    """Accuracy (%, with its exact 95% interval over the ``n`` images) per
    model and training length; a point may lack a column. With ``dataset``,
    the paper's number in brackets at its 200 epochs; where points name the
    substitute behind their black-box number, a column says its epochs."""
    attack, eps = LENGTH_ATTACK
    modes = ("white-box", "black-box")
    substitute = any("substitute" in p for ps in curve.values() for p in ps.values())
    head = ["model", "epochs", "clean", *modes]
    head += ["substitute epochs"] if substitute else []
    lines = [
        caption or f"Accuracy (%) per training length on {n} test images; " + INTERVALS,
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for name, points in curve.items():
        for epoch in sorted(points):
            p = points[epoch]
            cells = [percent(p["clean"], n) if "clean" in p else ""]
            for mode in modes:
                text = percent(p[mode], n) if mode in p else ""
                paper = (
                    paper_value(dataset, attack, mode, eps, name) if dataset else None
                )
                if epoch == PAPER_EPOCHS and paper is not None:
                    text += f" ({paper})"
                cells.append(text)
            cells += [str(p.get("substitute", ""))] if substitute else []
            lines.append(f"| {name} | {epoch} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def views_markdown(table, views, names, n):
    lines = [
        "White-box robust accuracy (%, with its exact 95% interval over the "
        f"{n} images) when the attacker is handed each view; in "
        "parentheses, the share of examples (%) that the raw-score attack breaks but "
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
                cells.append(f"{percent(acc, n)} ({100 * hidden:.1f}){flag}")
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
