"""Choose the IE regulariser's ie_lambda and sigma by grid search (the paper's
values were lost), with scikit-learn's GridSearchCV and the package's
adversarial scorer."""

from __future__ import annotations

import csv
import io
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV, ShuffleSplit

from .._plaindata import write_json_atomic, write_text_atomic
from ..adversarial import make_adversarial_scorer
from ..estimators import HypothesisConditionedClassifier
from ._tables import markdown_to_rst

CLEAN_SLACK = 0.01  # a candidate may give up at most 1 point of clean accuracy


def _mean(group, field):
    """``field`` averaged over a setting's rows (one per objective)."""
    return np.mean([r[field] for r in group])


def _admissible(rows, slack):
    """{(ie_lambda, sigma): its rows, one per objective} for the settings whose
    clean accuracy, averaged over the objectives, is within ``slack`` of the
    best such average (never empty: the best is admissible)."""
    by_setting = {}
    for r in rows:
        by_setting.setdefault((r["ie_lambda"], r["sigma"]), []).append(r)
    clean = {key: _mean(g, "clean") for key, g in by_setting.items()}
    best = max(clean.values())
    return {key: g for key, g in by_setting.items() if clean[key] >= best - slack}


def select(rows, slack=CLEAN_SLACK):
    """The (ie_lambda, sigma) with the best robust accuracy averaged over the
    objectives, among those whose clean accuracy averaged over the objectives
    is within ``slack`` of the best."""
    admissible = _admissible(rows, slack)
    return max(admissible, key=lambda key: _mean(admissible[key], "robust"))


def table_markdown(rows, slack=CLEAN_SLACK):
    """The search as a Markdown table: one line per (ie_lambda, sigma), clean
    and robust accuracy (%) per objective, their robust mean, whether the
    setting is admissible, and the winner marked."""
    objectives = list(dict.fromkeys(r["objective"] for r in rows))
    admissible, winner = _admissible(rows, slack), select(rows, slack)
    cells = {(r["ie_lambda"], r["sigma"], r["objective"]): r for r in rows}
    header = ["ie_lambda", "sigma"]
    for o in objectives:
        header += [f"{o} clean", f"{o} robust"]
    header += ["mean clean", "mean robust", "admissible"]
    lines = [
        "Grid search, accuracy in % (robust: white-box PGD, worst over losses; "
        f"admissible: mean clean accuracy >= the best mean - {100 * slack:g}; "
        "the winner in bold):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for key in dict.fromkeys((r["ie_lambda"], r["sigma"]) for r in rows):
        line = [f"{key[0]:g}", str(key[1])]
        group = [cells[(*key, o)] for o in objectives]
        for r in group:
            line += [f"{100 * r['clean']:.2f}", f"{100 * r['robust']:.2f}"]
        line += [
            f"{100 * _mean(group, 'clean'):.2f}",
            f"{100 * _mean(group, 'robust'):.2f}",
            "yes" if key in admissible else "no",
        ]
        if key == winner:
            line = [f"**{c}**" for c in line]
        lines.append("| " + " | ".join(line) + " |")
    return "\n".join(lines) + "\n"


def tune_ie(
    X,
    y,
    *,
    out,
    objectives=("dv", "js"),
    ie_lambdas=(0.001, 0.003, 0.01, 0.03),
    sigmas=("median", 1.0, 10.0),
    epochs=10,
    n_splits=2,
    n_test=1000,
    attack="pgd",
    eps=0.15,
    seed=0,
    device="auto",
    verbose=1,
    n_jobs=None,
    threads=None,
    **attack_params,
):
    """Grid search of ie_lambda x sigma for each objective; writes tune.csv,
    tune.json (the grid, the rule and the winner) and the table (tune.md,
    tune.rst) to ``out``; returns the winner.

    ``n_jobs`` is GridSearchCV's (with joblib's Dask backend active, the
    candidates x splits run on the cluster, whose workers set their own torch
    threads); ``threads`` sets torch's threads here and is recorded in
    tune.json."""
    if threads is not None:
        torch.set_num_threads(int(threads))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scorer = make_adversarial_scorer(
        attack=attack, eps=eps, random_state=seed, **attack_params
    )
    cv = ShuffleSplit(n_splits=n_splits, test_size=n_test, random_state=seed)
    rows, start = [], time.perf_counter()
    for objective in objectives:
        search = GridSearchCV(
            HypothesisConditionedClassifier(
                objective=objective,
                max_epochs=epochs,
                random_state=seed,
                device=device,
            ),  # fmt: skip
            {"ie_lambda": list(ie_lambdas), "sigma": list(sigmas)},
            scoring={"clean": "accuracy", "robust": scorer},
            refit=False,
            cv=cv,
            error_score="raise",
            verbose=verbose,
            n_jobs=n_jobs,
        ).fit(X, y)
        res = search.cv_results_
        for i, params in enumerate(res["params"]):
            rows.append(
                {
                    "objective": objective,
                    "ie_lambda": params["ie_lambda"],
                    "sigma": params["sigma"],
                    "clean": float(res["mean_test_clean"][i]),
                    "robust": float(res["mean_test_robust"][i]),
                    "robust_std": float(res["std_test_robust"][i]),
                    "fit_seconds": float(res["mean_fit_time"][i]),
                }
            )
    table = io.StringIO(newline="")
    w = csv.DictWriter(table, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(out / "tune.csv", table.getvalue())
    ie_lambda, sigma = select(rows)
    summary = {
        "winner": {"ie_lambda": ie_lambda, "sigma": sigma},
        "rule": f"best {attack} (eps {eps}, worst over losses) robust accuracy "
        f"averaged over objectives {list(objectives)}, among settings whose clean "
        f"accuracy averaged over them is within {CLEAN_SLACK} of the best",
        "grid": {"ie_lambda": list(ie_lambdas), "sigma": list(sigmas)},
        "data": {"n": len(X), "splits": n_splits, "test": n_test, "epochs": epochs},
        "threads": threads,
        "seconds": time.perf_counter() - start,
    }
    write_json_atomic(out / "tune.json", summary)
    text = table_markdown(rows)
    write_text_atomic(out / "tune.md", text)
    write_text_atomic(out / "tune.rst", markdown_to_rst(text))
    return summary["winner"]


def tune_on_dataset(
    dataset, *, out, n_train=None, seed=0, data_home=None, workers=None,
    scheduler=None, threads=None, **search,
):  # fmt: skip
    """:func:`tune_ie` on a registered data set's training images (or a seeded
    ``n_train`` of them, as ``reproduce`` draws them), here or on a Dask
    cluster (``workers`` processes on this machine, or the ``scheduler`` at an
    address): GridSearchCV's candidates x splits become its tasks, each
    worker with ``threads`` torch threads (default 1 on a cluster)."""
    from contextlib import nullcontext

    from ..datasets import load_experiment_data

    X, y, _, _ = load_experiment_data(
        dataset, n_train=n_train, seed=seed, data_home=data_home
    )
    cluster = workers is not None or scheduler is not None
    threads = threads or (1 if cluster else None)
    context = _on_cluster(workers, scheduler, threads) if cluster else nullcontext()
    with context:
        return tune_ie(
            X, y, out=out, seed=seed, n_jobs=-1 if cluster else None,
            threads=threads, **search,
        )  # fmt: skip


@contextmanager
def _on_cluster(workers, scheduler, threads):
    """joblib's Dask backend on the cluster, its workers' torch threads set."""
    from joblib import parallel_backend

    from ._cluster import TorchThreads, dask_client

    with dask_client(workers, scheduler) as client:
        client.register_plugin(TorchThreads(threads), name="torch-threads")
        with parallel_backend("dask"):
            yield client
