"""Plain-data files: what is stored comes back; nothing in a file runs."""

import io
import pickle
import zipfile
from dataclasses import dataclass, field

import numpy as np
import pytest

from sk_guessfirst._plaindata import (
    UnreadableFile,
    dump,
    load,
    plain_type,
    write_atomic,
    write_text_atomic,
)
from sk_guessfirst.adversarial import AttackResult, RobustnessCurve
from sk_guessfirst.adversarial._report import Check, RobustnessReport


def test_results_round_trip_exactly(tmp_path):
    clean = np.array([True, False, True])
    result = AttackResult(
        "pgd", 0.3, "white-box", clean,
        {"ce": np.array([True, False, False]), "margin": clean.copy()},
        params={"norm": np.inf, "max_iter": 40, "eps_step": (0.01, None)},
        flags=["Square beat APGD"], details={"after": {"apgd-ce": 0.5}}, seconds=1.5,
    )  # fmt: skip
    curve = RobustnessCurve(np.array([0.0, 0.1, np.inf]), norm=np.inf, label="x")
    report = RobustnessReport(
        0.3, results={"PGD": result}, growing={0.3: 0.1, 0.5: 0.0},
        gradients={"ce": (0.0, False)}, checks=[Check("grow", True, "ok")],
        not_run={"binarization test": "binarization_samples=0"},
    )  # fmt: skip
    value = {"result": result, "curve": curve, "report": report, "n": np.int64(3),
             (0.15, "a"): [1, None, "s"]}  # fmt: skip
    dump(value, tmp_path / "c.npz", meta={"key": {"cell": "c"}})
    back, meta = load(tmp_path / "c.npz")
    assert meta == {"key": {"cell": "c"}}
    r = back["result"]
    assert r.accuracy == result.accuracy and r.params == result.params
    np.testing.assert_array_equal(r.robust["ce"], result.robust["ce"])
    assert r.flags == result.flags and r.details == result.details
    np.testing.assert_array_equal(back["curve"].eps, curve.eps)
    assert back["curve"].median_perturbation == curve.median_perturbation
    assert back["report"].growing == {0.3: 0.1, 0.5: 0.0}
    assert back["report"].gradients == {"ce": (0.0, False)}
    assert back["report"].not_run == report.not_run
    assert back["report"].worst_case == report.worst_case
    assert str(back["report"]) == str(report)
    assert back[(0.15, "a")] == [1, None, "s"] and back["n"] == 3


def test_what_is_not_plain_data_is_refused_before_writing(tmp_path):
    with pytest.raises(TypeError, match="not plain data"):
        dump({"f": lambda: 0}, tmp_path / "c.npz")
    with pytest.raises(TypeError, match="objects"):
        dump(np.array([object()]), tmp_path / "c.npz")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("how", ["pickle", "pickle-in-npz", "unknown-type", "cut"])
def test_a_foreign_file_is_refused_and_runs_nothing(tmp_path, how, planted):
    marker, code = planted
    path = tmp_path / "cell.npz"
    if how == "pickle":
        path.write_bytes(pickle.dumps({"format": 2, "x": code()}))
    elif how == "pickle-in-npz":  # a valid archive whose member is a pickle
        np.savez(path, document=np.array([code()], dtype=object))
    elif how == "unknown-type":  # names a class to build
        dump(AttackResult("pgd", 0.1, "white-box", np.ones(2, bool), {}), path)
        with zipfile.ZipFile(path) as z:
            members = {n: z.read(n) for n in z.namelist()}
        text = str(np.load(io.BytesIO(members["document.npy"]))[()])
        buf = io.BytesIO()
        np.save(buf, np.array(text.replace('"AttackResult"', '"os.system"')))
        members["document.npy"] = buf.getvalue()
        with zipfile.ZipFile(path, "w") as z:
            for name, data in members.items():
                z.writestr(name, data)
    else:
        dump({"a": np.arange(1000)}, path)
        path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UnreadableFile, match="cell.npz") as info:
        load(path)
    assert "nothing in it was run" in str(info.value)
    if how == "unknown-type":
        assert "unknown stored type 'os.system'" in str(info.value)
    assert not marker.exists()


def test_registering_needs_a_dataclass_and_a_free_name():
    with pytest.raises(TypeError, match="not a dataclass"):
        plain_type(type("NotData", (), {}))

    @dataclass
    class AttackResult:  # the name of a registered type
        x: list = field(default_factory=list)

    with pytest.raises(TypeError, match="already registered"):
        plain_type(AttackResult)


def test_atomic_write_keeps_the_old_file_when_the_disk_is_full(tmp_path):
    path = tmp_path / "results.md"
    write_text_atomic(path, "old")

    def full(f):
        f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match=f"cannot write {path}: No space left"):
        write_atomic(path, full)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.md"]  # no temporary


def test_ctrl_c_inside_a_writer_surfaces_as_ctrl_c(tmp_path):
    """torch.save turns a KeyboardInterrupt into its zip writer's RuntimeError
    (seen: "unexpected pos"); the write must still stop as Ctrl-C does."""
    path = tmp_path / "m.ckpt"

    def torch_like(f):
        try:
            raise KeyboardInterrupt
        finally:
            raise RuntimeError("[enforce fail at inline_container.cc] unexpected pos")

    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, torch_like)
    assert not list(tmp_path.iterdir())


def test_a_full_disk_inside_torch_save_names_the_file(tmp_path):
    """torch's writer turns ENOSPC into a RuntimeError naming no file
    (``enforce fail at inline_container.cc``): it is said as the OSError."""
    import errno

    import torch

    class Full(io.RawIOBase):
        def writable(self):
            return True

        def write(self, b):
            raise OSError(errno.ENOSPC, "No space left on device")

    path = tmp_path / "model.ckpt"
    with pytest.raises(OSError, match=f"cannot write {path}: No space left") as info:
        write_atomic(path, lambda f: torch.save({"w": torch.zeros(1000)}, Full()))
    assert info.value.errno == errno.ENOSPC
    assert not list(tmp_path.iterdir())


def _raw_cell(path, document, arrays=None):
    """A cell written by hand: ``document`` (or its JSON text), ``arrays`` beside."""
    import json

    members = {f"a{i}": a for i, a in enumerate(arrays or [])}
    text = document if isinstance(document, str) else json.dumps(document)
    members["document"] = np.array(text)
    np.savez_compressed(path, **members)
    return path


def test_a_cell_too_large_unpacked_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from sk_guessfirst import _plaindata

    big = np.zeros(2**20, dtype=np.uint8)  # 1 MiB of zeros packs to about 1 kB
    path = tmp_path / "big.npz"
    dump({"x": big}, path)
    assert path.stat().st_size < 10_000
    monkeypatch.setattr(_plaindata, "MAX_UNPACKED", 2**19)
    with pytest.raises(UnreadableFile, match="unpacks to .* more than a result"):
        load(path)


def test_a_document_nested_too_deep_is_refused(tmp_path):
    n = 200_000
    deep = '{"format": 2, "meta": {}, "value": ' + "[" * n + "]" * n + "}"
    path = _raw_cell(tmp_path / "deep.npz", deep)
    with pytest.raises(UnreadableFile, match="deep.npz") as info:
        load(path)
    assert "nested deeper" in str(info.value)
    shallow = [[[[1]]]]  # a few levels are fine
    path = _raw_cell(tmp_path / "ok.npz", {"format": 2, "meta": {}, "value": shallow})
    assert load(path)[0] == shallow


@pytest.mark.parametrize(
    "clean, robust, message",
    [
        (np.array([1, 0, 1]), np.array([True, False, True]), "clean is int64"),
        (np.ones(3, bool), np.ones(4, bool), r"robust\['ce'\] has 4 examples, not 3"),
        (np.ones((3, 1), bool), np.ones(3, bool), "not a 1-D boolean mask"),
    ],
)
def test_results_of_the_wrong_dtype_or_shape_are_refused(
    tmp_path, clean, robust, message
):
    document = {
        "format": 2, "meta": {},
        "value": {"~type": "AttackResult", "fields": {
            "attack": "pgd", "eps": 0.3, "mode": "white-box", "clean": {"~array": 0},
            "robust": {"~dict": [["ce", {"~array": 1}]]},
        }},
    }  # fmt: skip
    path = _raw_cell(tmp_path / "c.npz", document, [clean, robust])
    with pytest.raises(UnreadableFile, match=message) as info:
        load(path)
    assert str(path) in str(info.value)
