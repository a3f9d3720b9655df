"""The benchmarks time the package's own code (benchmarks.py)."""

from sk_guessfirst.benchmarks import EPOCH_MODELS, bench_epoch


def test_the_epoch_breakdown_times_the_estimators_own_training_step(tmp_path):
    # tmp_path holds no MNIST: random images of its size, 750 of them (3 batches)
    r = bench_epoch(tmp_path, repeats=1, breakdown_batches=2, n_train=750)
    assert r["source"].startswith("synthetic")
    for model in EPOCH_MODELS:
        parts = r["parts_s"][model]
        assert set(parts) == {"data", "forward", "objective", "step"}
        assert parts["forward"] > 0 and parts["objective"] > 0 and parts["step"] > 0
    # the hypothesis model's step carries IE's MMD only where the estimator has
    # ie_lambda > 0: its own train_step ran, not a copy with IE always on
    assert r["flop_floor"]["C-DV-IE"] > r["flop_floor"]["C-DV"] > 1
