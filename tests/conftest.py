"""Shared fixtures: where the real data sets are, and small real-data samples."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from budgets import FAST, MNIST_BUDGET, NARROW, one_torch_thread

from sk_guessfirst import CNNClassifier, HypothesisConditionedClassifier

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(
    os.environ.get("SK_GUESSFIRST_TEST_MNIST", REPO.parent / "shared/data/mnist")
)
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# The scripts mypy checks (test_typing.py) are a user's code, not tests: never
# imported here (--doctest-modules would run them).
collect_ignore = ["typing"]

# CI sets this: there a missing data set is a failure, not a skip.
REQUIRE_DATA = os.environ.get("SK_GUESSFIRST_REQUIRE_DATA") == "1"

# Two cores: two pytest-xdist workers of one thread each, or one of two.
torch.set_num_threads(
    1 if os.environ.get("PYTEST_XDIST_WORKER") else min(2, torch.get_num_threads())
)


def pytest_collection_modifyitems(config, items):
    """The files that hold slow tests run first, each file's tests kept together
    and in order. The test command hands each worker the next test (or
    ``xdist_group``) when it is nearly idle, in this order (``--dist loadgroup
    --no-loadscope-reorder``), so the two workers end on short tests, not one
    of them on a minute-long example while the other waits."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


def _need(folder: Path, what: str) -> Path:
    if (folder / "train-images-idx3-ubyte.gz").is_file():
        return folder
    message = f"{what} not found in {folder}"
    if REQUIRE_DATA:
        pytest.fail(
            message + " (SK_GUESSFIRST_REQUIRE_DATA=1: data tests may not skip)"
        )
    pytest.skip(message)


def _private_copy(tmp_path_factory, source, name):
    # Loading writes a decoded-array cache under the data folder: tests work
    # on a copy, never writing into ../shared or /usr/share.
    import shutil

    copy = tmp_path_factory.mktemp("data") / name
    copy.mkdir()
    for f in source.glob("*-ubyte.gz"):
        shutil.copy(f, copy)
    return copy


@pytest.fixture
def real_ctrl_c():
    """Ctrl-C raises KeyboardInterrupt in this test and in the processes it
    starts, however the suite was launched: a shell's background job starts
    with SIGINT ignored, and every test process and its children inherit it."""
    import signal

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory):
    source = _need(MNIST_DIR, "MNIST (set SK_GUESSFIRST_TEST_MNIST)")
    return _private_copy(tmp_path_factory, source, "mnist")


@pytest.fixture(scope="session")
def fashion_dir(tmp_path_factory):
    source = _need(FASHION_DIR, "Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    return _private_copy(tmp_path_factory, source, "fashion-mnist")


def _subsample(X, y, n, seed):
    """n random samples, as (n, 28, 28) images."""
    idx = np.random.RandomState(seed).permutation(len(X))[:n]
    return X[idx].reshape(-1, 28, 28), y[idx]


@pytest.fixture(scope="session")
def mnist_small(mnist_dir):
    """6,000 training and 2,000 test images of MNIST."""
    from sk_guessfirst.datasets import load_mnist

    X, y = load_mnist(data_home=mnist_dir, return_X_y=True)
    Xt, yt = load_mnist(data_home=mnist_dir, subset="test", return_X_y=True)
    return (*_subsample(X, y, 6000, 0), *_subsample(Xt, yt, 2000, 1))


@pytest.fixture(scope="session")
def mnist_cnn(mnist_small):
    """The CNN baseline trained on ``mnist_small`` at the real-data budget, on
    one torch thread (its accuracy is then the same on every machine). The
    tests that share it are ``xdist_group("mnist_cnn")``: one worker fits it."""
    X, y, _, _ = mnist_small
    with one_torch_thread():
        return CNNClassifier(**MNIST_BUDGET).fit(X, y)


@pytest.fixture(scope="session")
def fashion_small(fashion_dir):
    from sk_guessfirst.datasets import load_fashion_mnist

    X, y = load_fashion_mnist(data_home=fashion_dir, return_X_y=True)
    Xt, yt = load_fashion_mnist(data_home=fashion_dir, subset="test", return_X_y=True)
    return (*_subsample(X, y, 6000, 0), *_subsample(Xt, yt, 2000, 1))


class Planted:
    """A pickle that, when loaded, creates a file: the attack a run folder must
    not fall to (``pickle.load`` of it runs ``open(marker, "w")``)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def planted(tmp_path):
    """(marker, make): ``make()`` a code-running object; marker exists iff it ran."""
    marker = tmp_path / "planted-code-ran"
    return marker, lambda: Planted(marker)


# -- the fitted digits models many tests share (one fit each per session) ---------


@pytest.fixture(scope="session")
def digits():
    from sk_guessfirst.datasets import load_dataset

    X, y = load_dataset("digits")
    Xt, yt = load_dataset("digits", subset="test")
    X = X.reshape(-1, 8, 8)  # images are said; the attacks take any layout
    return X, y, Xt[:120], yt[:120]


@pytest.fixture(scope="session")
def hcc(digits):
    X, y, _, _ = digits
    return HypothesisConditionedClassifier(max_epochs=15, **NARROW, **FAST).fit(X, y)


@pytest.fixture(scope="session")
def cnn(digits):
    X, y, _, _ = digits
    return CNNClassifier(max_epochs=15, **NARROW, **FAST).fit(X, y)


@pytest.fixture(scope="session")
def saturated(digits):
    """A CNN whose logits are scaled by 1e4: softmax saturates, so the
    cross-entropy gradient is exactly zero on confident examples, while the
    margin keeps its gradient."""
    X, y, _, _ = digits
    cnn = CNNClassifier(max_epochs=8, **NARROW, **FAST).fit(X, y)
    with torch.no_grad():
        cnn.module_.out.weight.mul_(1e4)
        cnn.module_.out.bias.mul_(1e4)
    return cnn
