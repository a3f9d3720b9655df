"""Loaders for MNIST, Fashion-MNIST and scikit-learn's 8x8 digits."""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import numpy as np
from sklearn import datasets as _skdatasets
from sklearn.utils import Bunch

from ._download import download_verified
from ._idx import parse_idx, read_bytes

ENV_VAR = "SK_GUESSFIRST_DATA"
SUBSETS = ("train", "test", "all")


@dataclass(frozen=True)
class _IdxDataset:
    """Where an IDX data set lives and how to check it."""

    name: str
    title: str
    files: dict  # (subset, kind) -> (file name, MD5 of decompressed content)
    mirrors: tuple
    target_names: tuple
    system_dirs: tuple = ()
    how_to_install: str = ""


MNIST = _IdxDataset(
    name="mnist",
    title="MNIST handwritten digits (LeCun, Cortes, Burges)",
    files={
        ("train", "images"): (
            "train-images-idx3-ubyte.gz",
            "6bbc9ace898e44ae57da46a324031adb",
        ),
        ("train", "labels"): (
            "train-labels-idx1-ubyte.gz",
            "a25bea736e30d166cdddb491f175f624",
        ),
        ("test", "images"): (
            "t10k-images-idx3-ubyte.gz",
            "2646ac647ad5339dbf082846283269ea",
        ),
        ("test", "labels"): (
            "t10k-labels-idx1-ubyte.gz",
            "27ae3e4e09519cfbb04c329615203637",
        ),
    },
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    target_names=tuple(str(i) for i in range(10)),
)

FASHION_MNIST = _IdxDataset(
    name="fashion-mnist",
    title="Fashion-MNIST (Xiao, Rasul, Vollgraf, Zalando Research)",
    files={
        ("train", "images"): (
            "train-images-idx3-ubyte.gz",
            "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        ),
        ("train", "labels"): (
            "train-labels-idx1-ubyte.gz",
            "9018921c3c673c538a1fc5bad174d6f9",
        ),
        ("test", "images"): (
            "t10k-images-idx3-ubyte.gz",
            "8181f5470baa50b63fa0f6fddb340f0a",
        ),
        ("test", "labels"): (
            "t10k-labels-idx1-ubyte.gz",
            "15d484375f8d13e6eb1aabb0c3f46965",
        ),
    },
    # https first (the project's repository serves the published files); the
    # project page's http mirror last (a download is MD5-checked either way)
    mirrors=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
        "data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    target_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    how_to_install="install the Debian package: apt-get install dataset-fashion-mnist",
)


def _candidate_dirs(spec: _IdxDataset, data_home) -> list[Path]:
    """Folders searched, in order; each root is tried as is and with /<name>."""
    roots = []
    if data_home is not None:
        roots.append(Path(data_home).expanduser())
    if os.environ.get(ENV_VAR):
        roots.append(Path(os.environ[ENV_VAR]).expanduser())
    roots.append(Path(_skdatasets.get_data_home()))
    dirs = []
    for root in roots:
        dirs += [root, root / spec.name]
    dirs += [Path(d) for d in spec.system_dirs]
    return list(dict.fromkeys(dirs))


def _find_file(filename: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        for candidate in (d / filename, d / filename.removesuffix(".gz")):
            if candidate.is_file():
                return candidate
    return None


def _download_dir(spec: _IdxDataset, data_home) -> Path:
    if data_home is not None:
        return Path(data_home).expanduser() / spec.name
    root = os.environ.get(ENV_VAR) or _skdatasets.get_data_home()
    return Path(root).expanduser() / spec.name


def _cache_path(source: Path, md5: str, data_home=None) -> Path:
    """Cache file for the decoded array of ``source`` verified as the file with
    published MD5 ``md5``, under ``data_home`` when given (else scikit-learn's
    ``get_data_home()``).

    The key covers that MD5 (the cache is the verdict for one data set's file:
    Fashion-MNIST's files have MNIST's names, and a folder verified as one must
    not be read back as the other), and the source's absolute path, size and
    modification time, so a changed or replaced source file gets a new entry.
    """
    st = source.stat()
    key = f"{md5}|{source.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    home = Path(data_home).expanduser() if data_home else _skdatasets.get_data_home()
    return (
        Path(home) / "sk_guessfirst_cache" / f"{source.name.split('.')[0]}-{digest}.npy"
    )


def _load_array(source: Path, md5: str, what: str, data_home=None) -> np.ndarray:
    """Decode ``source`` once, checking that it is the file it should be; later
    calls read the cached ``.npy`` (only verified files are cached, so the
    cache is also the verdict)."""
    cache = _cache_path(source, md5, data_home)
    if cache.is_file():
        try:
            return np.load(cache, allow_pickle=False)
        except (OSError, ValueError):
            pass  # unreadable cache: decode again and rewrite it below
    raw = read_bytes(source)
    if hashlib.md5(raw).hexdigest() != md5:
        raise ValueError(
            f"{source} is not {what}: its content's MD5 differs from the published "
            "one. Is data_home pointing at another data set (MNIST and "
            "Fashion-MNIST use the same file names)? Fix data_home, or delete the "
            "file and pass download=True."
        )
    array = parse_idx(raw, str(source))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npy", dir=cache.parent)
        with os.fdopen(fd, "wb") as f:
            np.save(f, array, allow_pickle=False)
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only data home only costs speed
    return array


def _locate(spec, subset, kind, data_home, download, mirrors) -> Path:
    filename, md5 = spec.files[(subset, kind)]
    dirs = _candidate_dirs(spec, data_home)
    found = _find_file(filename, dirs)
    if found is not None:
        return found
    if download:
        return download_verified(
            filename,
            _download_dir(spec, data_home),
            mirrors=list(mirrors or spec.mirrors),
            md5=md5,
        )
    searched = "\n".join(f"  {d}" for d in dirs)
    fixes = [
        "pass download=True to fetch it",
        f"pass data_home=... or set {ENV_VAR} to the folder that holds it",
    ]
    if spec.how_to_install:
        fixes.append(spec.how_to_install)
    raise FileNotFoundError(
        f"{spec.title}: {filename} not found. Searched:\n{searched}\nTo fix: "
        + "; or ".join(fixes)
        + "."
    )


def _load_idx_dataset(spec, *, subset, data_home, download, return_X_y, mirrors):
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    parts = ("train", "test") if subset == "all" else (subset,)
    images, labels = [], []
    for part in parts:
        arrays = []
        for kind in ("images", "labels"):
            path = _locate(spec, part, kind, data_home, download, mirrors)
            filename, md5 = spec.files[(part, kind)]
            what = f"{spec.title}'s {filename}"
            arrays.append((path, _load_array(path, md5, what, data_home)))
        (img_path, img), (lab_path, lab) = arrays
        if img.ndim != 3 or lab.ndim != 1 or len(img) != len(lab):
            raise ValueError(
                f"{img_path} and {lab_path} do not match: images {img.shape}, "
                f"labels {lab.shape}"
            )
        if lab.max() >= len(spec.target_names):
            raise ValueError(f"{lab_path}: label {lab.max()} out of range")
        images.append(img)
        labels.append(lab)
    images = np.concatenate(images) if len(images) > 1 else images[0]
    target = np.concatenate(labels).astype(np.int64)
    data = images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        images=images,
        target_names=np.array(spec.target_names),
        image_shape=images.shape[1:],
        DESCR=(
            f"{spec.title}, subset={subset!r}: {len(target)} grey-scale images of "
            f"{images.shape[1]}x{images.shape[2]} pixels, {len(spec.target_names)} "
            "classes. data is float32 in [0, 1] (pixel / 255), images the raw uint8."
        ),
    )


_SHARED_DOC = """
    Parameters
    ----------
    subset : {{"train", "test", "all"}}, default="train"
        The standard 60,000-image training split, the 10,000-image test split,
        or both (training first).
    data_home : str or path-like, default=None
        Folder searched first (as is, and its ``{name}`` sub-folder). Then the
        environment variable ``SK_GUESSFIRST_DATA``, then scikit-learn's
        ``get_data_home()``{extra}.
    download : bool, default=False
        Fetch missing files from the mirrors, verifying each file's MD5 and
        writing it atomically.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    mirrors : list of str, default=None
        Base URLs to download from; ``None`` uses the published mirrors.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (n, 784) float32 in [0, 1]; ``target`` (n,) int64; ``images``
        (n, 28, 28) uint8; ``target_names``; ``image_shape``; ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        A file is missing and ``download`` is False; the message lists every
        folder searched and how to fix it.
    ValueError
        A file is corrupt or truncated (the message names it).
"""


@overload
def load_mnist(
    *,
    subset: str = ...,
    data_home: str | Path | None = ...,
    download: bool = ...,
    return_X_y: Literal[True],
    mirrors: Sequence[str] | None = ...,
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def load_mnist(
    *,
    subset: str = ...,
    data_home: str | Path | None = ...,
    download: bool = ...,
    return_X_y: Literal[False] = ...,
    mirrors: Sequence[str] | None = ...,
) -> Bunch: ...
def load_mnist(
    *,
    subset: str = "train",
    data_home: str | Path | None = None,
    download: bool = False,
    return_X_y: bool = False,
    mirrors: Sequence[str] | None = None,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    return _load_idx_dataset(
        MNIST,
        subset=subset,
        data_home=data_home,
        download=download,
        return_X_y=return_X_y,
        mirrors=mirrors,
    )


@overload
def load_fashion_mnist(
    *,
    subset: str = ...,
    data_home: str | Path | None = ...,
    download: bool = ...,
    return_X_y: Literal[True],
    mirrors: Sequence[str] | None = ...,
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def load_fashion_mnist(
    *,
    subset: str = ...,
    data_home: str | Path | None = ...,
    download: bool = ...,
    return_X_y: Literal[False] = ...,
    mirrors: Sequence[str] | None = ...,
) -> Bunch: ...
def load_fashion_mnist(
    *,
    subset: str = "train",
    data_home: str | Path | None = None,
    download: bool = False,
    return_X_y: bool = False,
    mirrors: Sequence[str] | None = None,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    return _load_idx_dataset(
        FASHION_MNIST,
        subset=subset,
        data_home=data_home,
        download=download,
        return_X_y=return_X_y,
        mirrors=mirrors,
    )


load_mnist.__doc__ = (
    "Load MNIST (70,000 handwritten digits, 28x28).\n"
    + _SHARED_DOC.format(name="mnist", extra="")
    + """
    Examples
    --------
    >>> from sk_guessfirst.datasets import load_mnist
    >>> X, y = load_mnist(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, y[:3]  # doctest: +SKIP
    ((10000, 784), array([7, 2, 1]))
"""
)
load_fashion_mnist.__doc__ = (
    "Load Fashion-MNIST (70,000 article images, 28x28, 10 classes).\n"
    + _SHARED_DOC.format(
        name="fashion-mnist",
        extra=", then Debian's ``/usr/share/datasets/fashion-mnist/`` "
        "(package ``dataset-fashion-mnist``)",
    )
)


@overload
def load_digits(*, return_X_y: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def load_digits(*, return_X_y: Literal[False] = ...) -> Bunch: ...
def load_digits(*, return_X_y: bool = False) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load scikit-learn's 8x8 digits, the embedded default data set.

    The 1,797 images ship inside scikit-learn, so this needs no files and no
    network.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (1797, 64) float32 in [0, 1] (pixel / 16); ``target`` int64;
        ``images`` (1797, 8, 8) with the original values 0..16;
        ``target_names``; ``image_shape``; ``DESCR``.

    Examples
    --------
    >>> from sk_guessfirst.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> X.shape, X.dtype, float(X.max())
    ((1797, 64), dtype('float32'), 1.0)
    """
    raw = _skdatasets.load_digits()
    data = raw.data.astype(np.float32) / np.float32(16.0)
    target = raw.target.astype(np.int64)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        images=raw.images,
        target_names=np.array([str(t) for t in raw.target_names]),
        image_shape=raw.images.shape[1:],
        DESCR=raw.DESCR,
    )


def load_dataset(
    name: str,
    *,
    subset: str = "train",
    data_home=None,
    download: bool = False,
    mirrors=None,
    images: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a data set by name ("digits", "mnist" or "fashion-mnist") as (X, y).

    For "digits", which has no official split, ``subset`` selects a fixed
    stratified 70/30 split (random_state=0) so that train and test never mix.

    Parameters
    ----------
    name : {"digits", "mnist", "fashion-mnist"}
        The data set.
    subset : {"train", "test", "all"}, default="train"
        Which split.
    data_home, download, mirrors
        As in :func:`load_mnist` (ignored for "digits").
    images : bool, default=False
        Return X as (n, H, W) images (what the estimators read as images
        without guessing) instead of flat rows.

    Returns
    -------
    X : ndarray of shape (n, n_features) or (n, H, W), float32 in [0, 1]
        Flat images, or images with ``images=True``.
    y : ndarray of shape (n,), int64
        Labels.
    """
    X, y = _load_flat(name, subset, data_home, download, mirrors)
    if images:
        side = math.isqrt(X.shape[1])
        X = X.reshape(-1, side, side)
    return X, y


def _digits(subset, data_home, download, mirrors):
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    if subset == "all":
        return X, y
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    return (X_tr, y_tr) if subset == "train" else (X_te, y_te)


def _idx_files(loader):
    def load(subset, data_home, download, mirrors):
        return loader(
            subset=subset,
            data_home=data_home,
            download=download,
            return_X_y=True,
            mirrors=mirrors,
        )

    return load


# Every data set by name, with its flat loader: the command line's choices.
DATASETS = {
    "digits": _digits,
    "mnist": _idx_files(load_mnist),
    "fashion-mnist": _idx_files(load_fashion_mnist),
}


def _load_flat(name, subset, data_home, download, mirrors):
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {list(DATASETS)}")
    return DATASETS[name](subset, data_home, download, mirrors)


def load_experiment_data(
    name: str,
    *,
    n_train: int | None = None,
    seed: int = 0,
    data_home=None,
    download: bool = False,
    mirrors=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The training images (or a seeded random ``n_train`` of them) and the
    test images in a seeded order, as ``reproduce`` and ``tune`` use them.

    Parameters
    ----------
    name : {"digits", "mnist", "fashion-mnist"}
        The data set.
    n_train : int or None, default=None
        Train on a random subset of this size (None: all).
    seed : int, default=0
        Seeds the subset (``seed``) and the test order (``seed + 1``).
    data_home, download, mirrors
        As in :func:`load_mnist` (ignored for "digits").

    Returns
    -------
    X, y, X_test, y_test : ndarrays
        Images as (n, H, W) float32 in [0, 1], labels int64.
    """
    where = dict(data_home=data_home, download=download, mirrors=mirrors)
    X, y = load_dataset(name, subset="train", images=True, **where)
    Xt, yt = load_dataset(name, subset="test", images=True, **where)
    if n_train and n_train < len(X):
        keep = np.random.RandomState(seed).permutation(len(X))[:n_train]
        X, y = X[keep], y[keep]
    order = np.random.RandomState(seed + 1).permutation(len(Xt))
    return X, y, Xt[order], yt[order]
