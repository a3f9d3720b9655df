"""A batch iterator that slices tensors instead of indexing samples one by one.

skorch's default iterator is a :class:`torch.utils.data.DataLoader` over a
:class:`skorch.dataset.Dataset`: it fetches every sample with its own
``__getitem__`` call and stacks them again in ``collate``. For in-memory
arrays that is pure overhead; :func:`batch_iterator` converts X and y
to tensors once (no copy for C-contiguous float32 arrays) and yields slices.
Anything it cannot slice (pandas frames, dicts, custom datasets, worker
processes, a collate function) goes to a ``DataLoader`` unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader, Subset

# DataLoader options that this iterator implements itself; any other option
# (num_workers, collate_fn, sampler...) means the user wants a DataLoader.
_OWN_OPTIONS = {"batch_size", "shuffle", "drop_last"}


def _as_tensor(a):
    if isinstance(a, torch.Tensor):
        return a
    if isinstance(a, np.ndarray) and a.dtype != object:
        return torch.from_numpy(np.ascontiguousarray(a))
    return None


def _tensors_of(dataset):
    """(X, y) tensors behind ``dataset`` (y may be None), or None if not sliceable."""
    indices = None
    if isinstance(dataset, Subset):
        indices, dataset = torch.as_tensor(np.asarray(dataset.indices)), dataset.dataset
    if type(dataset) is not Dataset:
        return None
    X = _as_tensor(dataset.X)
    y = None if dataset.y is None else _as_tensor(dataset.y)
    if X is None or (dataset.y is not None and y is None):
        return None
    if indices is not None:
        X, y = X[indices], (None if y is None else y[indices])
    return X, y


def batch_iterator(dataset, batch_size=1, shuffle=False, drop_last=False, **kwargs):
    """skorch's ``iterator_train`` / ``iterator_valid``: tensor slices when it can.

    Takes the DataLoader arguments ``batch_size``, ``shuffle`` and
    ``drop_last``; any other argument, or data it cannot slice, gives a
    :class:`~torch.utils.data.DataLoader` with all the arguments.
    """
    tensors = None if set(kwargs) - _OWN_OPTIONS else _tensors_of(dataset)
    if tensors is None:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            **kwargs,
        )
    return TensorBatches(*tensors, batch_size, shuffle=shuffle, drop_last=drop_last)


class TensorBatches:
    """``(X_batch, y_batch)`` slices of in-memory tensors, reshuffled per pass.

    Shuffling draws one ``torch.randperm`` per pass from torch's global
    generator, as the DataLoader's sampler does, so seeding torch seeds the
    batch order. Without y the batches carry a placeholder target, as
    skorch's Dataset does.
    """

    def __init__(self, X, y, batch_size, *, shuffle=False, drop_last=False):
        self.X, self.y = X, y
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last

    def __len__(self):
        n, b = len(self.X), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        order = torch.randperm(len(self.X)) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            stop = start + self.batch_size
            idx = slice(start, stop) if order is None else order[start:stop]
            Xb = self.X[idx]
            yield Xb, (torch.zeros(len(Xb)) if self.y is None else self.y[idx])
