"""Data loading: the real files, the strict IDX reader, search order, download."""

import dataclasses
import gzip
import http.server
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from sk_guessfirst.datasets import (
    MNIST,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    md5_of_content,
    read_idx,
)
from sk_guessfirst.datasets._idx import parse_idx

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.fixture(autouse=True)
def _isolated_data_home(tmp_path, monkeypatch):
    # Never read or write the user's ~/scikit_learn_data from tests.
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn_home"))
    monkeypatch.delenv("SK_GUESSFIRST_DATA", raising=False)


# -- the real data --------------------------------------------------------------
def test_mnist_train_facts(mnist_dir):
    b = load_mnist(data_home=mnist_dir)
    assert b.data.shape == (60000, 784) and b.data.dtype == np.float32
    assert b.images.shape == (60000, 28, 28) and b.images.dtype == np.uint8
    assert b.target.dtype == np.int64
    assert 0.0 <= b.data.min() and b.data.max() <= 1.0
    assert b.target[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(b.target).tolist() == MNIST_TRAIN_COUNTS
    assert b.images.mean() == pytest.approx(33.3184, abs=1e-4)
    assert b.image_shape == (28, 28) and "MNIST" in b.DESCR


def test_mnist_test_and_all(mnist_dir):
    X, y = load_mnist(subset="test", data_home=mnist_dir, return_X_y=True)
    assert X.shape == (10000, 784)
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    X_all, y_all = load_mnist(subset="all", data_home=mnist_dir, return_X_y=True)
    assert len(y_all) == 70000 and y_all[60000:60010].tolist() == y[:10].tolist()


def test_mnist_checksums(mnist_dir):
    for (_, _), (name, md5) in MNIST.files.items():
        assert md5_of_content(mnist_dir / name) == md5


def test_fashion_mnist(fashion_dir):
    b = load_fashion_mnist(subset="all")  # found in the Debian location
    assert b.data.shape == (70000, 784) and b.target.dtype == np.int64
    assert b.target_names[0] == "T-shirt/top" and b.target_names[9] == "Ankle boot"
    assert np.bincount(b.target).tolist() == [7000] * 10
    from sk_guessfirst.datasets import FASHION_MNIST

    for (_, _), (name, md5) in FASHION_MNIST.files.items():
        assert md5_of_content(fashion_dir / name) == md5


def test_load_digits_embedded():
    b = load_digits()
    assert b.data.shape == (1797, 64) and b.data.dtype == np.float32
    assert b.data.max() == 1.0 and b.images.max() == 16
    assert b.image_shape == (8, 8) and b.target.dtype == np.int64
    X, y = load_digits(return_X_y=True)
    assert np.array_equal(y, b.target)


def test_load_dataset_digits_split_is_disjoint_and_fixed():
    X_tr, _ = load_dataset("digits", subset="train")
    X_te, _ = load_dataset("digits", subset="test")
    assert len(X_tr) + len(X_te) == 1797
    rows = {r.tobytes() for r in X_tr}
    assert sum(r.tobytes() in rows for r in X_te) < 10  # digits has a few duplicates
    assert np.array_equal(load_dataset("digits")[0], X_tr)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("cifar")


def _copy_test_split(source_dir, folder):
    """The test split's two files of ``source_dir`` into a new ``folder``
    (MNIST's file names, which Fashion-MNIST shares)."""
    folder.mkdir(parents=True)
    for subset, kind in (("test", "images"), ("test", "labels")):
        shutil.copy(source_dir / MNIST.files[subset, kind][0], folder)
    return folder


def test_cached_load_equals_first_load(mnist_dir, tmp_path):
    home = _copy_test_split(mnist_dir, tmp_path / "home")
    first = load_mnist(subset="test", data_home=home)
    # the cache lives under the data_home given, not scikit-learn's home
    cache = home / "sk_guessfirst_cache"
    assert len(list(cache.glob("*.npy"))) == 2
    assert not (Path(os.environ["SCIKIT_LEARN_DATA"]) / "sk_guessfirst_cache").exists()
    second = load_mnist(subset="test", data_home=home)
    assert np.array_equal(first.images, second.images)
    # a corrupt cache entry is not trusted: it is decoded again and rewritten
    for f in cache.glob("*.npy"):
        f.write_bytes(b"garbage")
    third = load_mnist(subset="test", data_home=home)
    assert np.array_equal(first.images, third.images)


def test_another_data_set_under_mnist_names_is_refused(fashion_dir, tmp_path):
    """Fashion-MNIST's files have MNIST's names; the content's MD5 tells them
    apart, also once the folder holds their decoded cache: a folder loaded as
    Fashion-MNIST (its arrays cached) was read back as MNIST, silently."""
    home = _copy_test_split(fashion_dir, tmp_path / "home")
    with pytest.raises(ValueError, match="is not MNIST .*another data set"):
        load_mnist(subset="test", data_home=home)
    assert not list(home.rglob("*.npy"))  # nothing was cached as MNIST
    fashion = load_fashion_mnist(subset="test", data_home=home)
    cached = sorted(home.rglob("*.npy"))
    assert len(cached) == 2  # images and labels, verified as Fashion-MNIST
    with pytest.raises(ValueError, match="is not MNIST .*another data set"):
        load_mnist(subset="test", data_home=home)
    assert sorted(home.rglob("*.npy")) == cached
    again = load_fashion_mnist(subset="test", data_home=home)  # from the cache
    np.testing.assert_array_equal(again.data, fashion.data)


def test_cache_invalidated_when_source_changes(tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    _write_fake_mnist(monkeypatch, folder, n=5, seed=0)
    a = load_mnist(subset="test", data_home=folder)
    _write_fake_mnist(monkeypatch, folder, n=7, seed=1)
    b = load_mnist(subset="test", data_home=folder)
    assert len(a.target) == 5 and len(b.target) == 7


# -- the strict IDX reader ----------------------------------------------------
def _idx_bytes(array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def _write_fake_mnist(monkeypatch, folder, n, seed):
    """Random IDX files under MNIST's names, registered as MNIST's content
    (the loader checks every file against the registry's MD5)."""
    from sk_guessfirst.datasets import _loaders

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    files = {}
    for (subset, kind), (name, _) in MNIST.files.items():
        shape = (n, 28, 28) if kind == "images" else (n,)
        high = 256 if kind == "images" else 10
        (folder / name).write_bytes(
            gzip.compress(_idx_bytes(rng.randint(0, high, shape)))
        )
        files[subset, kind] = (name, md5_of_content(folder / name))
    monkeypatch.setattr(_loaders, "MNIST", dataclasses.replace(MNIST, files=files))


def test_parse_idx_roundtrip():
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(parse_idx(_idx_bytes(arr)), arr)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b"\x01" + b[1:], "magic"),
        (lambda b: b[:2] + b"\x42" + b[3:], "type byte"),
        (lambda b: b[:3] + b"\x00", "zero dimensions"),
        (lambda b: b[:-1], "truncated"),
        (lambda b: b + b"\x00", "trailing"),
        (lambda b: b[:6], "header"),
    ],
)
def test_parse_idx_rejects_corruption(mutate, message):
    raw = _idx_bytes(np.zeros((2, 3), np.uint8))
    with pytest.raises(ValueError, match=message):
        parse_idx(mutate(raw), "x.idx")


def test_truncated_gzip_names_the_file(tmp_path):
    f = tmp_path / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(gzip.compress(_idx_bytes(np.zeros(100, np.uint8)))[:-20])
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz"):
        read_idx(f)


def test_a_gzip_bomb_is_refused_before_it_fills_memory(tmp_path):
    import tracemalloc

    from sk_guessfirst.datasets._idx import MAX_BYTES, read_bytes

    f = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(f, "wb", compresslevel=1) as z:  # 64 MiB of zeros in ~300 kB
        for _ in range(64):
            z.write(bytes(2**20))
    assert f.stat().st_size < 2**20
    tracemalloc.start()
    with pytest.raises(ValueError, match="more than 8,388,608 bytes"):
        read_bytes(f, max_bytes=8 * 2**20)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 12 * 2**20  # the cap and a piece, never the whole stream
    assert 47_040_016 < MAX_BYTES < 2**30  # MNIST's largest file passes the default


def test_every_default_mirror_but_a_last_resort_is_https():
    from sk_guessfirst.datasets._loaders import FASHION_MNIST, MNIST

    for spec in (MNIST, FASHION_MNIST):
        assert spec.mirrors[0].startswith("https://"), spec.name


def test_uncompressed_files_are_found(tmp_path, monkeypatch):
    folder = tmp_path / "raw"
    _write_fake_mnist(monkeypatch, folder, n=3, seed=0)
    for f in folder.glob("*.gz"):
        f.with_suffix("").write_bytes(gzip.decompress(f.read_bytes()))
        f.unlink()
    assert load_mnist(subset="train", data_home=folder).data.shape == (3, 784)


# -- search order and errors ---------------------------------------------------
def test_missing_data_error_lists_places_and_fixes(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(data_home=tmp_path / "nowhere")
    text = str(info.value)
    assert str(tmp_path / "nowhere") in text and "sklearn_home" in text
    assert "download=True" in text and "SK_GUESSFIRST_DATA" in text


def test_fashion_error_mentions_debian_package(monkeypatch, tmp_path):
    from sk_guessfirst.datasets import _loaders

    monkeypatch.setattr(
        _loaders,
        "FASHION_MNIST",
        _loaders.FASHION_MNIST.__class__(
            **{
                **_loaders.FASHION_MNIST.__dict__,
                "system_dirs": (str(tmp_path / "no"),),
            }
        ),
    )
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        _loaders.load_fashion_mnist(data_home=tmp_path)


def test_environment_variable_is_searched(tmp_path, monkeypatch):
    _write_fake_mnist(monkeypatch, tmp_path / "mnist", n=4, seed=0)
    monkeypatch.setenv("SK_GUESSFIRST_DATA", str(tmp_path))
    assert load_mnist(subset="test").data.shape == (4, 784)


def test_data_home_wins_over_environment(tmp_path, monkeypatch):
    _write_fake_mnist(monkeypatch, tmp_path / "b" / "mnist", n=6, seed=0)
    # registered last: loading b's files instead would fail their MD5 check
    _write_fake_mnist(monkeypatch, tmp_path / "a", n=4, seed=0)
    monkeypatch.setenv("SK_GUESSFIRST_DATA", str(tmp_path / "b"))
    assert len(load_mnist(subset="test", data_home=tmp_path / "a").target) == 4


def test_bad_subset():
    with pytest.raises(ValueError, match="subset must be one of"):
        load_mnist(subset="validation")
    with pytest.raises(ValueError, match="subset must be one of"):
        load_dataset("digits", subset="tset")


# -- download against a local server -----------------------------------------
class _Handler(http.server.SimpleHTTPRequestHandler):
    mode = "ok"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.directory) / Path(self.path).name
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        if self.mode == "corrupt":  # garbled bytes: the gzip stream breaks
            data = data[:100] + bytes(len(data) - 100)
        elif self.mode == "wrong":  # a valid gzip file with other content
            data = gzip.compress(b"not the mnist you are looking for")
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.mode == "drop":
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(data)


@pytest.fixture
def server(mnist_dir):
    """HTTP server on 127.0.0.1 serving ../shared/data/mnist; .mode breaks it."""
    handler = type("H", (_Handler,), {"mode": "ok"})

    def make(*args, **kwargs):
        return handler(*args, directory=str(mnist_dir), **kwargs)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.handler = handler
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_download_from_local_mirror(server, tmp_path, mnist_dir):
    dead = "http://127.0.0.1:9/"  # nothing listens on the discard port: skipped over
    X, y = load_mnist(
        subset="test",
        data_home=tmp_path,
        download=True,
        mirrors=[dead, server.url],
        return_X_y=True,
    )
    assert X.shape == (10000, 784) and y[:3].tolist() == [7, 2, 1]
    stored = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    assert md5_of_content(stored) == md5_of_content(mnist_dir / stored.name)
    assert not list((tmp_path / "mnist").glob(".*part*"))


@pytest.mark.parametrize(
    "mode, message",
    [
        ("corrupt", "corrupt or truncated gzip"),
        ("wrong", "checksum mismatch"),
        ("drop", ""),
    ],
)
def test_failed_download_leaves_nothing(server, tmp_path, mode, message):
    server.handler.mode = mode
    with pytest.raises(OSError, match="every mirror failed") as info:
        load_mnist(
            subset="test", data_home=tmp_path, download=True, mirrors=[server.url]
        )
    assert message in str(info.value) and server.url in str(info.value)
    folder = tmp_path / "mnist"
    assert not folder.exists() or not any(folder.iterdir())
    # and a later call does not trust anything: still missing
    with pytest.raises(FileNotFoundError):
        load_mnist(subset="test", data_home=tmp_path)
    shutil.rmtree(tmp_path, ignore_errors=True)
