"""Choose the IE regulariser's ie_lambda and sigma by grid search (the paper's
values were lost), with scikit-learn's GridSearchCV and the package's
adversarial scorer."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import GridSearchCV, ShuffleSplit

from ..adversarial import make_adversarial_scorer
from ..estimators import HypothesisConditionedClassifier
from ._run import save_atomic_json

CLEAN_SLACK = 0.01  # a candidate may give up at most 1 point of clean accuracy


def select(rows, slack=CLEAN_SLACK):
    """The (ie_lambda, sigma) with the best robust accuracy averaged over the
    objectives, among those whose clean accuracy is within ``slack`` of the
    best clean accuracy for every objective."""
    by_setting = {}
    for r in rows:
        by_setting.setdefault((r["ie_lambda"], r["sigma"]), []).append(r)
    best_clean = {}
    for r in rows:
        best_clean[r["objective"]] = max(best_clean.get(r["objective"], 0), r["clean"])
    admissible = {
        key: group
        for key, group in by_setting.items()
        if all(r["clean"] >= best_clean[r["objective"]] - slack for r in group)
    }
    return max(
        admissible, key=lambda key: np.mean([r["robust"] for r in admissible[key]])
    )


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
    **attack_params,
):
    """Grid search of ie_lambda x sigma for each objective; writes tune.csv and
    tune.json (the grid, the rule and the winner) to ``out``; returns the winner."""
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
                objective=objective, max_epochs=epochs, random_state=seed, device=device
            ),
            {"ie_lambda": list(ie_lambdas), "sigma": list(sigmas)},
            scoring={"clean": "accuracy", "robust": scorer},
            refit=False,
            cv=cv,
            error_score="raise",
            verbose=verbose,
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
    ie_lambda, sigma = select(rows)
    with open(out / "tune.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    summary = {
        "winner": {"ie_lambda": ie_lambda, "sigma": sigma},
        "rule": f"best {attack} (eps {eps}, worst over losses) robust accuracy "
        f"averaged over objectives {list(objectives)}, among settings within "
        f"{CLEAN_SLACK} of the best clean accuracy",
        "grid": {"ie_lambda": list(ie_lambdas), "sigma": list(sigmas)},
        "data": {"n": len(X), "splits": n_splits, "test": n_test, "epochs": epochs},
        "seconds": time.perf_counter() - start,
    }
    save_atomic_json(summary, out / "tune.json")
    return summary["winner"]
