"""BPDA: a straight-through backward for the operations that break gradients.

Athalye, Carlini & Wagner (2018), "Obfuscated gradients give a false sense of
security": a defence that rounds, quantises or thresholds its input (or a
hidden layer) has zero or no gradient there, and gradient attacks fail
against it while the function is no more robust. Their Backward Pass
Differentiable Approximation keeps the forward pass exact and differentiates
such an operation as the identity.

:class:`StraightThrough` does that for any module, without changing its code:
run the forward under it (a :class:`torch.overrides.TorchFunctionMode`) and

- rounding, flooring, ceiling, truncation and sign return their exact value
  with the identity's gradient (``x + (f(x) - x).detach()``);
- a comparison (``x > t``, ``torch.gt``, ``eq`` ...) is remembered, and its
  boolean result cast to a floating type (``.float()``, ``.to(dtype)``,
  ``.type_as``) carries the gradient of the tensor it compared (thresholding
  is approximated by the identity).

Values are never changed: only gradients appear where there were none.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode

_STEPS = {
    getattr(owner, name)
    for owner in (torch, Tensor)
    for name in ("round", "floor", "ceil", "trunc", "fix", "sign", "__floor__",
                 "__ceil__", "__round__", "__trunc__", "floor_divide")
    if hasattr(owner, name)
}  # fmt: skip
_COMPARISONS = {
    torch.gt, Tensor.gt, Tensor.__gt__, torch.ge, Tensor.ge, Tensor.__ge__,
    torch.lt, Tensor.lt, Tensor.__lt__, torch.le, Tensor.le, Tensor.__le__,
    torch.greater, torch.less, torch.greater_equal, torch.less_equal,
}  # fmt: skip
_CASTS = {
    Tensor.float, Tensor.double, Tensor.half, Tensor.bfloat16, Tensor.to,
    Tensor.type, Tensor.type_as,
}  # fmt: skip


def _differentiable(x: Any) -> bool:
    return isinstance(x, Tensor) and x.is_floating_point() and x.requires_grad


class StraightThrough(TorchFunctionMode):
    """Run a forward pass with straight-through gradients (module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        # id of a comparison's result -> (a reference to it, the tensor
        # compared); the mode lives for one forward pass
        self._compared: dict[int, tuple[weakref.ref, Tensor]] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if not isinstance(out, Tensor) or not args:
            return out
        x = args[0]
        if func in _STEPS and _differentiable(x) and out.is_floating_point():
            return x + (out - x).detach()
        if func in _COMPARISONS and _differentiable(x) and out.dtype == torch.bool:
            self._compared[id(out)] = (weakref.ref(out), x)
            return out
        if func in _CASTS and out.is_floating_point() and isinstance(x, Tensor):
            found = self._compared.get(id(x)) if x.dtype == torch.bool else None
            source = found[1] if found is not None and found[0]() is x else None
            if source is not None:
                try:
                    source = torch.broadcast_to(source, out.shape)
                except RuntimeError:
                    return out
                return out + (source - source.detach()).to(out.dtype)
        return out


__all__ = ["StraightThrough"]
