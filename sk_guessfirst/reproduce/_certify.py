"""Certified accuracy of the experiment's models under randomized smoothing.

Each model of the experiment is trained with Gaussian noise of each sigma
(``train_noise``, Cohen et al. 2019) and its smoothed classifier certified
on the attacked test images with ART's CERTIFY
(:class:`~sk_guessfirst.adversarial.Smoothing`). Models and certificates are
the run folder's own (checkpoints, keyed plain-data cells, the lock), so a
stopped run resumes and a finished one is rebuilt from its cells in seconds.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .._plaindata import write_png_atomic, write_text_atomic
from ..adversarial import format_accuracy
from ..adversarial._smoothing import Certificate, Smoothing
from ..datasets import load_experiment_data
from ._experiment import open_experiment
from ._plan import MODELS, ModelSpec
from ._progress import Log, duration
from ._tables import INTERVALS, markdown_to_rst, percent

# radii of the published table: the anchors' (Cohen et al.: 0.5, 1.0, 1.5)
# and the steps between them
RADII = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
# published certified accuracy (%) by sigma and radius: Cohen et al. 2019 as
# reproduced for MNIST (LeNet, Gaussian augmentation, n = 100,000,
# alpha = 0.001); drawn beside the run's curves
ANCHORS = {
    "mnist": {0.25: {0.0: 99.2, 0.5: 96.8}, 0.5: {0.5: 97.0, 1.0: 89.8, 1.5: 67.9}},
}
# test images per certificate cell: a stopped run loses at most one cell's
# work (at n = 10,000 on one CPU core, 2-6 minutes for 100 images)
CHUNK = 100


def noisy(spec: ModelSpec, noise: float) -> ModelSpec:
    """``spec``'s model trained with Gaussian noise of std ``noise``."""
    return ModelSpec(
        f"{spec.name}+N{noise:g}",
        lambda s: spec.make(s).set_params(train_noise=float(noise)),
        f"{spec.summary}, trained with Gaussian noise of std {noise:g}",
        default=False,
    )


def certify_models(
    settings,
    out: str | Path,
    *,
    noises: tuple[float, ...] = (0.25, 0.5),
    n: int = 10_000,
    n0: int = 100,
    alpha: float = 0.001,
    batch_size: int = 1000,
    force: bool = False,
    verbose: int = 1,
    download: bool = False,
) -> dict[tuple[str, float], Certificate]:
    """Train every model of ``settings.models`` with each noise, certify its
    smoothed classifier at that noise on the first ``n_eval`` test images,
    and write ``certified.csv/.md/.rst/.png`` into ``out``.

    Returns (model name, noise) -> :class:`Certificate`.
    """
    smoothings = [
        Smoothing(float(s), n=n, n0=n0, alpha=alpha, batch_size=batch_size)
        for s in noises
    ]  # bad numbers raise here, before anything is loaded or written
    settings = settings.resolved()
    names = list(settings.models or ("CNN", "C-DV", "C-JS-IE"))
    log = Log(verbose)
    t0 = time.perf_counter()
    X, y, Xt, yt = load_experiment_data(
        settings.dataset, n_train=settings.n_train, seed=settings.seed,
        data_home=settings.data_home, download=download,
    )  # fmt: skip
    results: dict[tuple[str, float], Certificate] = {}
    specs = [noisy(MODELS[n], s.sigma) for s in smoothings for n in names]
    with open_experiment(
        settings, out, X, y, Xt, yt, force=force, log=log, specs=specs
    ) as exp:
        log(
            f"{settings.dataset}: {len(X)} training images, {len(exp.X)} certified "
            f"test images; n={n}, n0={n0}, alpha={alpha}"
        )
        for smoothing in smoothings:
            for name in names:
                model = exp.model(noisy(MODELS[name], smoothing.sigma))
                start = time.perf_counter()
                cert, fresh = _certificate(exp, model, smoothing, settings.seed, log)
                took = f"{duration(time.perf_counter() - start)}" if fresh else "stored"
                log(f"  {model.name}: {_summary(cert)} ({took})")
                results[(name, smoothing.sigma)] = cert
                write_certified(exp.run.path, results, settings)
    log(f"Certified in {out} ({duration(time.perf_counter() - t0)})")
    return results


def _certificate(exp, model, smoothing, seed, log) -> tuple[Certificate, bool]:
    """``model``'s certificate of the run's test images, from cells of CHUNK
    images each (image i's noise seeded by ``seed`` and its chunk's start);
    a cell of all the images at once, as runs before chunks stored it, is
    used where it is stored. Returns (certificate, computed now)."""
    name = f"certify-sigma{smoothing.sigma:g}-n{smoothing.n}-n0{smoothing.n0}"
    name += f"-alpha{smoothing.alpha:g}"
    chunks = [(a, min(a + CHUNK, len(exp.X))) for a in range(0, len(exp.X), CHUNK)]
    # one training's cells: all stored, or the model trained (loaded) first
    n = len(exp.X)
    if not exp.run.settle(model, [(name, None, n)]) and not exp.run.settle(
        model, [(f"{name}-images{a}-{b}", None, b - a) for a, b in chunks], log=log
    ):
        model.settled_weights()
    whole = exp.run.stored(model, name, log=log, size=n)
    if whole is not None:
        return whole[0], False
    parts, fresh = [], False
    for start, stop in chunks:

        def compute(a=start, b=stop):
            estimator = model.estimator  # trained or loaded first: not timed
            began = time.perf_counter()
            part = smoothing.certify(
                estimator, exp.X[a:b], exp.y[a:b], random_state=seed + a
            )
            log(f"  {model.name}: images {a}-{b} certified "
                f"({duration(time.perf_counter() - began)})")  # fmt: skip
            return part

        part, new = exp.run.cell(
            model, f"{name}-images{start}-{stop}", compute, log=log,
            size=stop - start,
        )  # fmt: skip
        parts.append(part)
        fresh = fresh or new
    return Certificate.concatenate(parts), fresh


def _summary(cert: Certificate) -> str:
    shown = [r for r in RADII if r <= cert.max_radius]
    return ", ".join(f"{format_accuracy(cert.correct_at(r))} at r={r:g}" for r in shown)


def table_markdown(results: dict[tuple[str, float], Certificate], settings) -> str:
    """Certified accuracy (%) against radius, one row per model and noise;
    radii beyond what n samples can certify are '-'."""
    first = next(iter(results.values()))
    head = ["model", "sigma", *(f"r={r:g}" for r in RADII), "max r", "abstain"]
    lines = [
        f"Certified L2 accuracy (%) of the smoothed classifiers ({settings.dataset}, "
        f"{len(first.y)} test images, n={first.n}, n0={first.n0}, "
        f"alpha={first.alpha:g}; each model trained {settings.epochs} epochs with "
        "Gaussian noise of the smoothing's sigma). " + INTERVALS,
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for (name, sigma), cert in results.items():
        cells = [
            percent(cert.accuracy_at(r), len(cert.y)) if r <= cert.max_radius else "-"
            for r in RADII
        ]
        lines.append(
            f"| {name} | {sigma:g} | " + " | ".join(cells)
            + f" | {cert.max_radius:.2f} | {100 * cert.abstained.mean():.1f} |"
        )  # fmt: skip
    return "\n".join(lines) + "\n"


def table_csv(results: dict[tuple[str, float], Certificate]) -> str:
    head = ["model", "sigma", "n", "n0", "alpha", "n_images", "max_radius",
            "abstained", *(f"r{r:g}" for r in RADII)]  # fmt: skip
    lines = [",".join(head)]
    for (name, sigma), c in results.items():
        accs = [f"{c.accuracy_at(r):.4f}" if r <= c.max_radius else "" for r in RADII]
        lines.append(",".join([
            name, f"{sigma:g}", str(c.n), str(c.n0), f"{c.alpha:g}", str(len(c.y)),
            f"{c.max_radius:.4f}", f"{c.abstained.mean():.4f}", *accs,
        ]))  # fmt: skip
    return "\n".join(lines) + "\n"


def plot_certified(
    results: dict[tuple[str, float], Certificate],
    path: Path,
    anchors: dict[float, dict[float, float]] | None = None,
) -> None:
    """Certified accuracy against radius, one line per model, one panel per
    noise; each line stops at its largest certifiable radius. ``anchors``
    (sigma -> radius -> %) are drawn as black crosses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sigmas = sorted({s for _, s in results})
    fig, axes = plt.subplots(1, len(sigmas), figsize=(4.5 * len(sigmas), 3.6),
                             squeeze=False, sharey=True)  # fmt: skip
    for ax, sigma in zip(axes[0], sigmas, strict=True):
        for (name, s), cert in results.items():
            if s != sigma:
                continue
            radii = np.linspace(0, cert.max_radius, 200)
            ax.plot(radii, [100 * cert.accuracy_at(r) for r in radii], label=name)
        published = (anchors or {}).get(sigma, {})
        if published:
            ax.plot(list(published), list(published.values()), "kx", ms=7,
                    label="Cohen et al. (n = 100,000)")  # fmt: skip
        ax.set_title(f"sigma = {sigma:g}")
        ax.set_xlabel("L2 radius")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("certified accuracy (%)")
    for ax in axes[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    write_png_atomic(fig, path, dpi=110)
    plt.close(fig)


def write_certified(folder: Path, results, settings) -> None:
    text = table_markdown(results, settings)
    write_text_atomic(folder / "certified.md", text)
    write_text_atomic(folder / "certified.rst", markdown_to_rst(text))
    write_text_atomic(folder / "certified.csv", table_csv(results))
    plot_certified(results, folder / "certified.png", ANCHORS.get(settings.dataset))


__all__ = ["ANCHORS", "RADII", "certify_models", "noisy"]
