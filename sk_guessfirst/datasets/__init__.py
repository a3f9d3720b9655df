"""Data sets the paper uses, loaded the scikit-learn way.

``load_digits`` is the embedded default (it ships inside scikit-learn);
``load_mnist`` and ``load_fashion_mnist`` read the IDX files from the first
folder that holds them, or download them with ``download=True``.
"""

from ._idx import md5_of_content, read_idx
from ._loaders import (
    DATASETS,
    ENV_VAR,
    FASHION_MNIST,
    MNIST,
    load_dataset,
    load_digits,
    load_experiment_data,
    load_fashion_mnist,
    load_mnist,
)

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "FASHION_MNIST",
    "MNIST",
    "load_dataset",
    "load_digits",
    "load_experiment_data",
    "load_fashion_mnist",
    "load_mnist",
    "md5_of_content",
    "read_idx",
]
