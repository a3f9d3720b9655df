"""The adversarial scorer in scikit-learn's searches (adversarial/_scorer.py)."""

import numpy as np
import pytest
from budgets import FAST
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sk_guessfirst import (
    CNNClassifier,
    HypothesisConditionedClassifier,
)
from sk_guessfirst.adversarial import (
    accuracy_interval,
    adversarial_accuracy,
    make_adversarial_scorer,
)


def test_scorer_checks_its_arguments_when_built():
    with pytest.raises(ValueError, match="unknown attack"):
        make_adversarial_scorer(attack="nope", eps=0.1)
    with pytest.raises(ValueError, match="unknown parameter"):
        make_adversarial_scorer(attack="pgd", eps=0.1, num_random_inits=3)
    with pytest.raises(ValueError, match="runs with loss"):
        make_adversarial_scorer(attack="pgd", eps=0.1, loss="hinge")


def test_grid_search_refits_on_adversarial_score(digits):
    X, y, _, _ = digits
    scorer = make_adversarial_scorer(attack="fgsm", eps=0.05)
    search = GridSearchCV(
        HypothesisConditionedClassifier(max_epochs=3, **FAST),
        {"ie_lambda": [0.0, 0.01], "sigma": ["median", 1.0]},
        scoring={"clean": "accuracy", "fgsm": scorer},
        refit="fgsm",
        cv=2,
    ).fit(X[:600], y[:600])
    results = search.cv_results_
    assert np.all(results["mean_test_fgsm"] < results["mean_test_clean"])
    # the scorer's number inside the search is the function's on the same fold
    train, test = next(StratifiedKFold(2).split(X[:600], y[:600]))
    for i, params in enumerate(results["params"]):
        est = HypothesisConditionedClassifier(max_epochs=3, **FAST, **params)
        est.fit(X[:600][train], y[:600][train])
        direct = adversarial_accuracy(
            est, X[:600][test], y[:600][test], attack="fgsm", eps=0.05
        )
        assert results["split0_test_fgsm"][i] == direct
    # refit on the adversarial score: the winner refitted on all the data
    assert search.best_estimator_.ie_lambda == search.best_params_["ie_lambda"]
    assert len(search.best_estimator_.history) == 3


def test_scorer_with_interval_puts_the_bounds_in_cv_results(digits):
    X, y, _, _ = digits
    scorer = make_adversarial_scorer(attack="fgsm", eps=0.05, interval=True)
    search = GridSearchCV(
        CNNClassifier(max_epochs=6, **FAST),
        {"lr": [0.001, 0.002]},
        scoring=scorer,
        refit="robust",
        cv=2,
    ).fit(X[:400], y[:400])
    r = search.cv_results_
    low, high = r["split0_test_robust_low"], r["split0_test_robust_high"]
    assert np.all(low < r["split0_test_robust"]) and np.all(
        r["split0_test_robust"] < high
    )
    # the exact interval of the fold's count: 200 images a fold
    acc = r["split0_test_robust"][0]
    assert (low[0], high[0]) == accuracy_interval(round(acc * 200), 200)
    assert search.best_params_ == r["params"][int(np.argmax(r["mean_test_robust"]))]


@pytest.mark.slow
def test_grid_search_on_dask_cluster(digits):
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_backend

    X, y, _, _ = digits
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        with parallel_backend("dask"):
            search = GridSearchCV(
                HypothesisConditionedClassifier(max_epochs=2, **FAST),
                {"ie_lambda": [0.0, 0.01]},
                scoring=make_adversarial_scorer(attack="fgsm", eps=0.05),
                cv=2,
                n_jobs=-1,
            ).fit(X[:400], y[:400])
    serial = GridSearchCV(
        HypothesisConditionedClassifier(max_epochs=2, **FAST),
        {"ie_lambda": [0.0, 0.01]},
        scoring=make_adversarial_scorer(attack="fgsm", eps=0.05),
        cv=2,
    ).fit(X[:400], y[:400])
    # the same numbers on two worker processes as in this one
    for split in ("split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(
            search.cv_results_[split], serial.cv_results_[split]
        )
