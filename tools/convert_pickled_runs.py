"""One-off migration: the project's carried run folders from pickles to plain data.

Before 0.2, ``reproduce`` stored each evaluation cell as a pickle keyed by the
budget, n_eval, seed, model name, epochs and parameters. This script rewrites
the cells of a run folder *of this repository* (``runs/mnist``,
``runs/fashion``) as plain-data cells (``.npz`` + JSON, see
``sk_guessfirst/_plaindata.py``) under their new, complete keys (data set and
data fingerprints included), so that ``reproduce`` rebuilds the same tables
from them.

It unpickles, so it runs only on files that git says are committed here and
unmodified: never point it at a run folder you received from someone else.
The package itself never reads a pickle.

    python3 tools/convert_pickled_runs.py runs/mnist /tmp/new-mnist \
        --data-home /tmp/data/mnist
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import joblib

import sk_guessfirst.reproduce as rep
from sk_guessfirst._plaindata import dump
from sk_guessfirst.checkpoint import training_params
from sk_guessfirst.reproduce import Settings, _data_key, _load
from sk_guessfirst.reproduce._cells import Crafted
from sk_guessfirst.reproduce._plan import BUDGETS, MODELS, SUBSTITUTE
from sk_guessfirst.reproduce._run import RunDirectory, Trained

SUBSTITUTE_CELLS = ("black-box-", "curve-black-box-", "report-", "length-black-box-")


def _old_params_hash(estimator):
    defaults = type(estimator)().get_params(deep=False)
    changed = {
        k: v
        for k, v in training_params(estimator).items()
        if k not in defaults or joblib.hash(v) != joblib.hash(defaults[k])
    }
    return joblib.hash(changed)[:10]


def _old_evaluation_key(settings):
    budget = replace(BUDGETS[settings.budget], summary="")
    return f"{settings.budget}-{joblib.hash((budget, settings.n_eval, settings.seed))[:10]}"


def _committed(paths, repo):
    """The paths git tracks in ``repo`` with no change: the only ones unpickled."""
    tracked = set(
        subprocess.run(["git", "-C", str(repo), "ls-files", "-z"], check=True,
                       capture_output=True).stdout.decode().split("\0")
    )  # fmt: skip
    dirty = set(
        subprocess.run(["git", "-C", str(repo), "diff", "--name-only", "-z", "HEAD"],
                       check=True, capture_output=True).stdout.decode().split("\0")
    )  # fmt: skip
    rel = {p: str(p.resolve().relative_to(repo)) for p in paths}
    bad = [p for p, r in rel.items() if r not in tracked or r in dirty]
    if bad:
        sys.exit(f"refusing to unpickle files git does not vouch for: {bad[:3]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a run folder of this repository")
    parser.add_argument("out", type=Path, help="new (empty) run folder")
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    repo = Path(__file__).resolve().parents[1]

    stored = json.loads((args.source / "run.json").read_text())["settings"]
    for key in ("attacks", "models", "keep_epochs", "views"):
        if stored.get(key) is not None:
            stored[key] = tuple(stored[key])
    stored["data_home"] = args.data_home
    settings = Settings(**stored).resolved()
    X, y, Xt, yt = _load(settings, download=False)
    n_eval = min(settings.n_eval, len(Xt))
    Xe, ye = Xt[:n_eval], yt[:n_eval]
    run = RunDirectory(args.out, settings, _data_key(settings, X, y, Xe, ye))

    epochs = sorted({settings.epochs, *(e for e in settings.keep_epochs
                                       if e < settings.epochs)})  # fmt: skip
    models = {}
    for spec in [*MODELS.values(), SUBSTITUTE]:
        est = spec.make(settings)
        for e in epochs:
            models[f"{spec.name}-e{e}-{_old_params_hash(est)}"] = Trained(
                spec.name, est, e, fit=None
            )
    substitute = Trained(SUBSTITUTE.name, SUBSTITUTE.make(settings), settings.epochs,
                         fit=None)  # fmt: skip

    old = args.source / "cells" / _old_evaluation_key(settings)
    files = sorted(old.rglob("*.pkl"))
    if not files:
        sys.exit(f"no pickled cells under {old}")
    _committed(files, repo)
    rep._Crafted = rep.Crafted = Crafted  # where the pickles name the class
    for path in files:
        model = models[path.parent.name]
        cell = path.stem
        with open(path, "rb") as f:
            value = pickle.load(f)  # committed files of this repository only
        via = substitute if cell.startswith(SUBSTITUTE_CELLS) else None
        target = run.cell_path(model, cell)
        target.parent.mkdir(parents=True, exist_ok=True)
        dump(value, target, meta={
            "key": run.cell_key(model, cell, via),
            "provenance": {"converted from": str(path.relative_to(args.source))},
        })  # fmt: skip
    run.close()
    print(f"{len(files)} cells converted into {args.out}")


if __name__ == "__main__":
    main()
