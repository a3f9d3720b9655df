"""Progress lines (reproduce/_progress.py): a long cell prints while it runs,
and the ETA weighs each kind of cell by its own measured cost."""

import time

from sk_guessfirst.reproduce._progress import Progress


class Result:
    accuracy = 0.5


def test_a_slow_cell_prints_a_line_every_heartbeat():
    lines = []
    progress = Progress(2, lines.append, heartbeat=0.1)

    def slow():  # a stub cell that computes for 0.45 s
        time.sleep(0.45)
        return Result(), True

    progress.step("CNN slow-cell", slow)
    running = [ln for ln in lines if "running" in ln]
    assert len(running) >= 3, lines  # 0.1, 0.2, 0.3 (0.4) s
    assert all("[1/2] CNN slow-cell: running" in ln for ln in running)
    assert lines[-1].startswith("  [1/2] CNN slow-cell: 50.0%")


def test_the_eta_weighs_each_kind_by_its_own_cost():
    lines = []
    kinds = ["fast"] * 10 + ["slow"] * 2
    progress = Progress(len(kinds), lines.append, kinds=kinds, heartbeat=60)
    clock = iter([0.0, 1.0, 1.0, 101.0])  # fast: 1 s; slow: 100 s
    real = time.perf_counter
    time.perf_counter = lambda: next(clock)
    try:
        progress.step("f", lambda: (Result(), True), kind="fast")
        progress.step("s", lambda: (Result(), True), kind="slow")
    finally:
        time.perf_counter = real
    # left: 9 fast at 1 s and 1 slow at 100 s, not 10 x the mean 50.5 s
    assert progress.eta() == 9 * 1.0 + 1 * 100.0
    assert lines[-1].endswith("ETA 1 min 49 s")
    # a stored cell costs nothing and is not a mean
    progress.step("stored", lambda: (Result(), False), kind="fast")
    assert progress.eta() == 8 * 1.0 + 100.0 and "(stored)" in lines[-1]
