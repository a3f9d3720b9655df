"""Input and parameter validation shared by the estimators: finite intervals
for scikit-learn's parameter constraints, a torch Dataset unpacked into
arrays, image layouts checked."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval
from skorch.utils import to_numpy


class Finite(Interval):
    """scikit-learn's Interval, without infinity (and NaN, which it refuses)."""

    def __contains__(self, val):
        return super().__contains__(val) and bool(np.isfinite(val))

    def __str__(self):
        return "a finite " + super().__str__().removeprefix("a ")


def positive(kind=numbers.Real):
    return Finite(kind, 0, None, closed="neither")


def non_negative(kind=numbers.Real):
    return Finite(kind, 0, None, closed="left")


def unpack_dataset(X, y, targets_allowed=False):
    """(X, y) arrays from a torch Dataset of (x, y) pairs; others unchanged.

    ``targets_allowed``: a Dataset's own targets may come with y (prediction,
    where both are ignored)."""
    from skorch.dataset import Dataset as SkorchDataset
    from torch.utils.data import Dataset, TensorDataset

    if not isinstance(X, Dataset):
        return X, y
    if isinstance(X, SkorchDataset):
        Xd, yd = X.X, X.y
    elif isinstance(X, TensorDataset):
        Xd = X.tensors[0]
        yd = X.tensors[1] if len(X.tensors) > 1 else None
    else:
        items = [X[i] for i in range(len(X))]
        items = [(x, None) if isinstance(x, torch.Tensor) else x for x in items]
        if not items or not isinstance(items[0], tuple | list) or len(items[0]) != 2:
            raise TypeError(
                f"a Dataset passed as X must yield (x, y) pairs; {type(X).__name__}"
                " yields something else. Pass arrays X and y instead."
            )
        Xd = torch.stack([torch.as_tensor(x) for x, _ in items])
        yd = (
            None
            if items[0][1] is None
            else np.asarray([to_numpy(torch.as_tensor(t)) for _, t in items])
        )
    if y is not None and yd is not None and not targets_allowed:
        raise ValueError(
            f"X is a {type(X).__name__} holding its targets and y was given too; "
            "pass y=None"
        )
    Xd = to_numpy(Xd) if isinstance(Xd, torch.Tensor) else Xd
    yd = to_numpy(yd) if isinstance(yd, torch.Tensor) else yd
    return Xd, y if yd is None else yd


def check_image_layout(shape, who):
    """The sample shape of 3-D (n, H, W) or 4-D (n, C, H, W) X, refusing others."""
    if len(shape) > 4:
        raise ValueError(
            f"{who} takes X of 2 to 4 dimensions ((n, D), (n, H, W) or (n, C, H, W)), "
            f"got shape {shape}"
        )
    if len(shape) == 4 and shape[3] <= 4 < shape[1]:
        raise ValueError(
            f"X of shape {shape} looks channels-last (n, H, W, C); {who} takes "
            "channels-first images: pass X.transpose(0, 3, 1, 2)"
        )
    return tuple(shape[1:])
