"""Ctrl-C during training: told apart from a skorch callback's deliberate stop
(both raise KeyboardInterrupt)."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def sigint_watch():
    """Yield a function telling whether SIGINT (Ctrl-C) arrived meanwhile.

    skorch's callbacks stop training by raising KeyboardInterrupt, the same
    exception as Ctrl-C; this is how the two are told apart. Signals reach
    only the main thread, so elsewhere (joblib, Dask) none can arrive.
    """
    import signal
    import threading

    fired = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        fired.append(signum)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(fired)
    finally:
        signal.signal(signal.SIGINT, previous)


def raised_by_callback(exc):
    """Whether a plain KeyboardInterrupt was raised by a skorch callback's code."""
    from skorch.callbacks import Callback

    if type(exc) is not KeyboardInterrupt:
        return False  # a subclass (SIGTERM in the CLI) is never a callback's stop
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return isinstance(tb.tb_frame.f_locals.get("self"), Callback)
