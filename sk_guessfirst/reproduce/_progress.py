"""Progress lines of a run: each epoch, each cell, with an ETA."""

from __future__ import annotations

import time

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


class Progress:
    """Numbered steps with an ETA from the mean time of the steps computed so far."""

    def __init__(self, total, log):
        self.total, self.log, self.done, self.spent, self.computed = (
            total,
            log,
            0,
            0.0,
            0,
        )

    def step(self, what, fn, summary=lambda result: f"{result.accuracy:.1%}"):
        start = time.perf_counter()
        result, fresh = fn()
        self.done += 1
        if fresh:
            self.spent += time.perf_counter() - start
            self.computed += 1
        left = self.total - self.done
        eta = (
            f", ETA {duration(left * self.spent / self.computed)}"
            if (self.computed and left)
            else ""
        )
        origin = "" if fresh else " (stored)"
        self.log(f"  [{self.done}/{self.total}] {what}: {summary(result)}{origin}{eta}")
        return result
