"""Progress lines of a run: each epoch, each cell, with an ETA."""

from __future__ import annotations

import threading
import time
from collections import Counter

from skorch.callbacks import Callback


class Log:
    """Progress printing; a class, not a closure, so that callbacks holding it
    pickle with the checkpoints."""

    def __init__(self, verbose):
        self.verbose = verbose

    def __call__(self, message):
        if self.verbose:
            print(message, flush=True)


class EpochProgress(Callback):
    """Prints each finished epoch with its time and the ETA of the model."""

    def __init__(self, name, total, log):
        self.name, self.total, self.log = name, total, log

    def on_epoch_end(self, net, **kwargs):
        done, dur = len(net.history), net.history[-1, "dur"]
        loss = net.history[-1, "train_loss"]
        eta = (self.total - done) * dur
        self.log(
            f"  {self.name}: epoch {done}/{self.total}, loss {loss:.4f}, {dur:.1f} s"
            + (f", ETA {duration(eta)}" if done < self.total else "")
        )


def duration(seconds):
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _accuracy(result) -> str:
    return f"{result.accuracy:.1%}"


class Progress:
    """Numbered steps with an ETA, and a line at least every ``heartbeat``
    seconds while a step runs.

    The ETA adds, over the steps left, the mean measured time of steps of the
    same kind (an attack's cells cost alike; cells of the run range from a
    tenth of a second to many minutes), or of all steps where a kind has not
    run yet. ``kinds`` lists every planned step's kind (any order); without
    it every step is one kind. Stored steps cost nothing and are not means.
    """

    def __init__(self, total, log, kinds=None, heartbeat=60.0):
        self.total, self.log, self.heartbeat = total, log, heartbeat
        self.done = 0
        self.left = Counter(kinds if kinds is not None else [None] * total)
        self.spent: Counter = Counter()
        self.computed: Counter = Counter()

    def eta(self) -> float | None:
        """Seconds the steps left should take, from the means so far."""
        overall = sum(self.computed.values())
        if not overall:
            return None
        mean = sum(self.spent.values()) / overall
        return sum(
            n * (self.spent[k] / self.computed[k] if self.computed[k] else mean)
            for k, n in self.left.items()
        )

    def step(
        self, what, fn, summary=lambda result: f"{result.accuracy:.1%}", kind=None
    ):
        start = time.perf_counter()
        number = f"[{self.done + 1}/{self.total}]"
        stop = threading.Event()

        def beat():  # a line a minute while a long cell computes
            while not stop.wait(self.heartbeat):
                self.log(f"  {number} {what}: running, "
                         f"{duration(time.perf_counter() - start)}")  # fmt: skip

        watcher = threading.Thread(target=beat, daemon=True)
        watcher.start()
        try:
            result, fresh = fn()
        finally:
            stop.set()
            watcher.join()
        self.done += 1
        if self.left[kind] > 0:
            self.left[kind] -= 1
        if fresh:
            self.spent[kind] += time.perf_counter() - start
            self.computed[kind] += 1
        eta = self.eta() if self.done < self.total else None
        eta_text = f", ETA {duration(eta)}" if eta else ""
        origin = "" if fresh else " (stored)"
        self.log(f"  [{self.done}/{self.total}] {what}: {summary(result)}{origin}"
                 f"{eta_text}")  # fmt: skip
        return result
