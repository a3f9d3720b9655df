"""Every output file of a run, rewritten from the models finished so far."""

from __future__ import annotations

from .._plaindata import write_text_atomic
from . import _figures, _tables


def write_outputs(run, settings, sizes, results, rows, timing, finished, about=None):
    """Figures, reports and tables of the models in ``results`` (name ->
    ModelResults, in table order); ``results.md`` only when ``finished``:
    it marks the run as done. ``about`` describes an evaluated model file
    (its header then leaves out the training settings)."""
    names = list(results)
    curves = {}  # (attack, mode) -> model -> RobustnessCurve
    for name, r in results.items():
        for job, curve in r.curves.items():
            curves.setdefault(job, {})[name] = curve
    _figures.plot_curves(curves, run.path, sizes["curve"], settings.dataset)
    if any(r.reports for r in results.values()):
        lines = [f"# Robustness reports ({sizes['report']} images)", ""]
        for name, r in results.items():
            for eps, report in r.reports.items():
                lines += [f"## {name}, eps={eps}", "", "```", str(report), "```", ""]
        write_text_atomic(run.path / "report.md", "\n".join(lines))
    length = {n: r.length for n, r in results.items() if r.length}
    if length:
        _figures.plot_training_length(
            length, run.path / "training_length.png", sizes["eval"]
        )
        text = _tables.training_length_markdown(length, sizes["eval"])
        write_text_atomic(run.path / "training_length.md", text)
        write_text_atomic(
            run.path / "training_length.rst", _tables.markdown_to_rst(text)
        )
    views = {n: r.views for n, r in results.items() if r.views}
    if views:
        text = _tables.views_markdown(views, settings.views, names, sizes["eval"])
        write_text_atomic(run.path / "views.md", text)
        write_text_atomic(run.path / "views.rst", _tables.markdown_to_rst(text))
    if curves:
        text = _tables.medians_markdown(names, curves)
        write_text_atomic(run.path / "medians.rst", _tables.markdown_to_rst(text))
    # where one model's cells were computed under several numeric
    # environments, the tables say so under the table
    note = run.environment_note()
    note = f"\n{note}\n" if note else ""
    write_text_atomic(
        run.path / "results.csv",
        _tables.csv_text(settings, names, rows, sizes["eval"]),
    )
    write_text_atomic(
        run.path / "results.rst",
        _tables.rst(settings, sizes, names, rows, about) + note,
    )
    if finished:  # last: results.md marks the run as finished
        text = _tables.markdown(settings, sizes, names, rows, curves, timing, about)
        write_text_atomic(run.results, text + note)
