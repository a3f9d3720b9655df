"""Devices and random generators: ``device="auto"`` resolved, a device this
machine lacks refused, and torch's RNG forked (CPU and every CUDA device) so
that a seeded fit or attack leaves the user's generators as they were."""

from __future__ import annotations

from contextlib import contextmanager

import torch


def resolve_device(device):
    """Map ``"auto"`` to ``"cuda"`` when a GPU is available, else ``"cpu"``;
    a ``torch.device`` (skorch accepts one) to its string."""
    if isinstance(device, torch.device):
        return str(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device is None:
        return None
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or None, got {device!r}"
        ) from exc
    return device


def check_device_available(device):
    """ValueError naming ``device`` when this machine does not have it."""
    dev = torch.device(resolve_device(device) or "cpu")
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= count:
            raise ValueError(
                f"device={device!r}, but this machine has {count} CUDA device(s); "
                "use device='auto' (CUDA when available) or 'cpu'"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"device={device!r}, but MPS is not available here; use 'auto' or 'cpu'"
        )
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device={device!r} is not supported; use 'auto' or 'cpu'")


def cuda_devices():
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def rng_state():
    """torch's CPU and CUDA generator states, to restore with :func:`forked_rng`."""
    cuda = [torch.cuda.get_rng_state(d) for d in cuda_devices()]
    return {"cpu": torch.get_rng_state(), "cuda": cuda}


@contextmanager
def forked_rng(state, keep=None):
    """Seed (int) or restore (a :func:`rng_state`) torch's RNG in a fork of it.

    The user's global RNG is untouched; on the way out, the state reached is
    kept in ``keep.rng_state_`` (if given) for the next call to continue from.
    """
    devices = cuda_devices()
    with torch.random.fork_rng(devices=devices):
        if isinstance(state, int):
            torch.manual_seed(state)
        else:
            torch.set_rng_state(state["cpu"])
            # a state saved on another machine may list other GPUs
            for device, cuda_state in zip(devices, state["cuda"], strict=False):
                torch.cuda.set_rng_state(cuda_state, device)
        try:
            yield
        finally:
            if keep is not None:
                keep.rng_state_ = rng_state()
