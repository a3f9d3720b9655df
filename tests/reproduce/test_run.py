"""The run folder (reproduce/_run.py): complete keys, refused cells, one writer,
atomic outputs, and nothing in it that runs code."""

import json
import os
import pickle
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from sk_guessfirst import _plaindata
from sk_guessfirst.reproduce import BUDGETS, Settings, reproduce
from sk_guessfirst.reproduce._run import (
    FolderInUse,
    RunDirectory,
    Trained,
    evaluation_key,
)

DATA = {"dataset": "digits", "n_train": 10, "train": "t", "n_eval": 5, "eval": "e"}
# the smallest whole run: 2 models, the substitute, 8 cells; about 2 s
TINY = dict(n_train=200, epochs=1, n_eval=10, device="cpu", attacks=("fgsm",),
            models=("CNN", "C-DV"), curves=False, report=False)  # fmt: skip


def _tiny(out, capsys=None, **changes):
    """Run the tiny experiment; returns (table rows, what it printed)."""
    rows = reproduce(Settings(**{**TINY, **changes}), out, verbose=1)
    printed = capsys.readouterr().out if capsys is not None else ""
    return {(r.label, r.eps): r.accuracy for r in rows}, printed


def _model(name="CNN", epochs=3, weights="w0", **params):
    """A model of a run, never trained here: its weights' fingerprint is given."""
    from sk_guessfirst import CNNClassifier

    model = Trained(name, CNNClassifier(random_state=0, **params), epochs, fit=None)
    model.settle(weights)
    return model


@pytest.fixture
def settings():
    return Settings(models=("CNN",)).resolved()


# -- keys ----------------------------------------------------------------------
def test_evaluation_key_follows_the_budgets_numbers_and_the_data(monkeypatch):
    s = Settings(dataset="mnist", budget="paper").resolved()
    before = evaluation_key(s, DATA)
    reworded = replace(BUDGETS["paper"], summary="other words")
    monkeypatch.setitem(BUDGETS, "paper", reworded)
    assert evaluation_key(s, DATA) == before  # words are not numbers
    monkeypatch.setitem(BUDGETS, "paper", replace(reworded, n_report=199))
    assert evaluation_key(s, DATA) != before
    monkeypatch.setitem(BUDGETS, "paper", reworded)
    assert evaluation_key(replace(s, n_eval=999), DATA) != before
    assert evaluation_key(replace(s, seed=1), DATA) != before
    for field in DATA:
        assert evaluation_key(s, {**DATA, field: "other"}) != before, field


def test_model_key_follows_name_epochs_and_changed_parameters():
    base = _model()
    assert base.key.startswith("CNN-e3-")
    assert _model(epochs=4).key != base.key
    assert _model(name="VIB").key.split("-e")[1] == base.key.split("-e")[1]
    assert _model(lr=0.01).key != base.key
    assert _model(verbose=1).key == base.key  # how verbosely: not what it learns
    assert base.full_key["params"] == {"random_state": "0"}


def test_a_cell_records_its_key_and_a_swapped_or_broken_one_is_recomputed(
    tmp_path, settings
):
    run = RunDirectory(tmp_path, settings, DATA)
    model, sub = _model(), _model("substitute")
    calls = []

    def compute(value):
        def f():
            calls.append(value)
            return value

        return f

    messages = []
    assert run.cell(model, "white", compute(1), log=messages.append) == (1, True)
    assert run.cell(model, "black", compute(2), substitute=sub) == (2, True)
    assert run.cell(model, "white", compute(9)) == (1, False)  # stored
    _, meta = _plaindata.load(run.cell_path(model, "white"))
    assert meta["key"]["cell"] == "white" and meta["key"]["data"] == DATA
    assert meta["provenance"]["torch_threads"] >= 1
    # black copied over white: the file says it is another cell
    shutil.copy(run.cell_path(model, "black"), run.cell_path(model, "white"))
    assert run.cell(model, "white", compute(3), log=messages.append) == (3, True)
    assert "records another cell's key (differs in cell, substitute)" in messages[-1]
    # truncated: not a readable cell
    path = run.cell_path(model, "black")
    path.write_bytes(path.read_bytes()[:100])
    assert run.cell(model, "black", compute(4), substitute=sub,
                    log=messages.append) == (4, True)  # fmt: skip
    assert "not a readable cell" in messages[-1] and str(path) in messages[-1]
    # the substitute is part of a black-box cell's key
    other_sub = _model("substitute", epochs=9)
    assert run.cell(model, "black", compute(5), substitute=other_sub) == (5, True)
    assert calls == [1, 2, 3, 4, 5]
    run.close()


def test_a_planted_pickle_in_a_cell_runs_nothing(tmp_path, settings, planted):
    marker, code = planted
    run = RunDirectory(tmp_path, settings, DATA)
    model = _model()
    path = run.cell_path(model, "clean")
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps(code()))
    messages = []
    assert run.cell(model, "clean", lambda: 7, log=messages.append) == (7, True)
    assert not marker.exists() and "refused" in messages[0]
    run.close()


# -- the folder ----------------------------------------------------------------
def test_one_process_writes_a_folder_the_second_is_refused(tmp_path, settings):
    first = RunDirectory(tmp_path / "run", settings, DATA)
    with pytest.raises(FolderInUse, match="being written by another"):
        RunDirectory(tmp_path / "run", settings, DATA)
    code = (
        "import sys\nfrom sk_guessfirst.cli import main\n"
        f"sys.exit(main(['reproduce', '--out', {str(tmp_path / 'run')!r}, '--quiet']))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert other.returncode == 1
    assert "being written by another sk-guessfirst process (pid" in other.stderr
    first.close()
    RunDirectory(tmp_path / "run", settings, DATA).close()  # free again


def test_a_folder_that_is_not_a_run_is_never_written_or_deleted(tmp_path, settings):
    mine = tmp_path / "mine"
    (mine / "models").mkdir(parents=True)
    (mine / "models" / "weights.bin").write_text("user's")
    (mine / "results.md").write_text("user's")
    for force in (False, True):
        with pytest.raises(FileExistsError, match="not a run folder"):
            RunDirectory(mine, settings, DATA, force=force)
    assert (mine / "models" / "weights.bin").read_text() == "user's"
    assert (mine / "results.md").read_text() == "user's"
    assert sorted(p.name for p in mine.iterdir()) == ["models", "results.md"]


def test_force_empties_only_the_runs_own_outputs(tmp_path, settings):
    run = RunDirectory(tmp_path, settings, DATA)
    run.cell(_model(), "clean", lambda: 1)
    (tmp_path / "results.md").write_text("table")
    (tmp_path / "curves_linf_white-box.png").write_text("png")
    (tmp_path / "notes.txt").write_text("the user's")
    run.close()
    RunDirectory(tmp_path, settings, DATA, force=True).close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".lock", "models", "notes.txt", "run.json"]  # fmt: skip


def test_leftover_temporaries_are_removed_and_a_bad_run_json_is_named(
    tmp_path, settings
):
    RunDirectory(tmp_path, settings, DATA).close()
    leftover = tmp_path / "cells" / "x" / ".clean.npz.abc.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("cut short by SIGKILL")
    RunDirectory(tmp_path, settings, DATA).close()
    assert not leftover.exists()
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"run.json is not a readable run.json"):
        RunDirectory(tmp_path, settings, DATA)


def test_a_run_started_after_a_finished_one_is_not_finished(tmp_path):
    # Run A finishes; run B (other settings) starts in the same folder and is
    # interrupted before writing its results: restarting B must resume it,
    # not refuse it as "finished" on the strength of A's results.md.
    a = Settings(models=("CNN",)).resolved()
    b = Settings().resolved()
    RunDirectory(tmp_path, a, DATA).close()
    (tmp_path / "results.md").write_text("finished")
    with pytest.raises(FileExistsError, match="already holds a finished run"):
        RunDirectory(tmp_path, a, DATA)
    RunDirectory(tmp_path, b, DATA).close()  # starts B, then B is interrupted
    assert not (tmp_path / "results.md").exists()
    RunDirectory(tmp_path, b, DATA).close()  # resumes B, not refused
    assert json.loads((tmp_path / "run.json").read_text())["data"] == DATA


# -- whole runs ----------------------------------------------------------------
def test_changed_data_recomputes_what_depends_on_it(tmp_path, capsys):
    out = tmp_path / "run"
    whole, _ = _tiny(out, capsys)
    # the audit's wrong table: 300 -> 200 training images reused every cell
    (out / "results.md").unlink()
    fewer, printed = _tiny(out, capsys, n_train=150)
    assert "Training CNN" in printed and "(stored)" not in printed
    fresh, _ = _tiny(tmp_path / "fresh", capsys, n_train=150)
    assert fewer == fresh
    # other attacked images (another seed's order) and another data set: new keys
    (out / "results.md").unlink()
    _, printed = _tiny(out, capsys, n_eval=9)
    assert "(stored)" not in printed
    cells = {p.parent.parent.name for p in (out / "cells").rglob("clean.npz")}
    assert len(cells) == 3  # one evaluation folder per data key
    # back to the first settings: every cell is stored, nothing trains
    (out / "results.md").unlink()
    again, printed = _tiny(out, capsys)
    assert again == whole and "Training" not in printed


def test_a_full_disk_at_any_write_leaves_a_folder_that_resumes(
    tmp_path, capsys, monkeypatch
):
    reference, _ = _tiny(tmp_path / "reference")
    out = tmp_path / "run"
    real = _plaindata.os.replace
    writes = {"n": 0}

    def full_disk_at(k):
        def replace_(src, dst):
            writes["n"] += 1
            if writes["n"] == k:
                raise OSError(28, "No space left on device")
            return real(src, dst)

        return replace_

    # every write of the tiny run fails once in turn, the last (results.md) too
    for k in (1, 3, 6, 10, 15, 19, 20):
        writes["n"] = 0
        monkeypatch.setattr(_plaindata.os, "replace", full_disk_at(k))
        try:
            _tiny(out)
        except OSError as exc:
            assert "cannot write" in str(exc) and "No space left" in str(exc)
            assert not (out / "results.md").exists()
        else:
            (out / "results.md").unlink()  # fewer writes than k: finished
        monkeypatch.setattr(_plaindata.os, "replace", real)
        assert not list(out.rglob(".*.tmp"))
    table, _ = _tiny(out)
    assert table == reference
    assert (out / "results.md").is_file()


def test_every_model_of_the_plan_is_a_valid_estimator():
    from sk_guessfirst.reproduce._plan import MODELS, SUBSTITUTE

    for dataset in ("digits", "mnist", "fashion-mnist"):
        settings = Settings(dataset=dataset, budget="paper").resolved()
        for spec in [*MODELS.values(), SUBSTITUTE]:
            est = spec.make(settings)
            est._validate_hyperparameters()
            assert est.max_epochs == settings.epochs and est.random_state == 0
    at = MODELS["AT"].make(Settings(dataset="fashion-mnist").resolved())
    assert at.adv_eps == 0.15 and at.adv_steps == BUDGETS["quick"].adv_steps


def test_argument_errors_come_before_anything_is_created(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="--n-train 1 leaves 1 training images"):
        reproduce(Settings(**{**TINY, "n_train": 1}), out, verbose=0)
    with pytest.raises(ValueError, match="seed must be an integer"):
        reproduce(Settings(**{**TINY, "seed": -1}), out, verbose=0)
    assert not out.exists()


def test_the_progress_count_is_the_number_of_cells(tmp_path, capsys):
    _, printed = _tiny(tmp_path / "run", capsys)
    steps = [ln.split("]")[0].strip() for ln in printed.splitlines() if "] " in ln]
    assert "2 models, 8 evaluation cells" in printed
    assert steps[-1] == "[8/8"


def test_carried_runs_are_plain_data_and_complete():
    """runs/ holds no pickle, and every carried cell reads as plain data and
    records the key of the folder it is in."""
    from pathlib import Path

    runs = Path(__file__).resolve().parents[2] / "runs"
    cells = sorted(runs.rglob("*.npz"))
    assert not list(runs.rglob("*.pkl")) and len(cells) >= 600
    for path in cells[::25]:
        value, meta = _plaindata.load(path)
        key = meta["key"]
        assert key["cell"] == path.stem
        assert path.parent.name.startswith(
            f"{key['model']['name']}-e{key['model']['epochs']}-"
        )
        run = json.loads((path.parents[3] / "run.json").read_text())
        assert key["data"] == run["data"]


def test_planted_pickles_everywhere_a_run_reads_run_nothing(tmp_path, planted):
    marker, code = planted
    out = tmp_path / "run"
    reference, _ = _tiny(out)
    (out / "results.md").unlink()
    bomb = pickle.dumps(code())
    cells = list((out / "cells").rglob("*.npz"))
    for path in cells:  # every cell
        path.write_bytes(bomb)
    (ckpt,) = out.glob("models/*/CNN.ckpt")
    ckpt.write_bytes(bomb)  # a checkpoint the refused cells send it to
    with pytest.raises(FileExistsError, match=f"{ckpt}.*not a readable training"):
        _tiny(out)
    ckpt.unlink()
    table, _ = _tiny(out)  # the CNN retrains, the C-DV loads its checkpoint
    assert table == reference
    assert all(_plaindata.load(p) for p in cells)  # rewritten as plain data
    (out / "run.json").write_bytes(bomb)
    with pytest.raises(ValueError, match="run.json is not a readable run.json"):
        _tiny(out)
    assert not marker.exists()


# -- no table mixes two trainings: cells keyed by the weights -------------------
# trained enough to classify (3 epochs of batch 32), so other weights change
# which of the 30 images are classified correctly
MIXING = dict(TINY, models=("CNN",), n_train=300, epochs=3, batch_size=32, n_eval=30)


def _another_environment(monkeypatch):
    """Training as on another machine (thread count, vector unit): the same
    key, other weights. Each epoch's weights are nudged before the checkpoint
    is written, so the checkpoint holds them too (as a cluster reads it)."""
    import torch

    from sk_guessfirst.checkpoint import TrainingCheckpoint

    save = TrainingCheckpoint.on_epoch_end

    def nudged(self, net, **kwargs):
        g = torch.Generator().manual_seed(len(net.history))
        with torch.no_grad():
            for p in net.module_.parameters():
                p.add_(torch.randn(p.shape, generator=g) * (p.abs().mean() + 1e-3))
        save(self, net, **kwargs)

    monkeypatch.setattr(TrainingCheckpoint, "on_epoch_end", nudged)


def _cells(out, model="CNN"):
    """name -> (result, meta) of every stored cell of ``model``."""
    folders = list(out.glob(f"cells/*/{model}-*"))
    assert len(folders) == 1
    return {p.stem: _plaindata.load(p) for p in sorted(folders[0].glob("*.npz"))}


def _retrain_part(out):
    """Delete the model's checkpoint and its white-box cells (stored clean and
    black-box cells remain: what a carried run with missing cells looks like)."""
    (out / "results.md").unlink()
    for ckpt in out.glob("models/*/CNN*.ckpt"):
        ckpt.unlink()
    for name in _cells(out):
        if name.startswith("white-box"):
            next(out.glob(f"cells/*/CNN-*/{name}.npz")).unlink()


def _one_training(out):
    """Every cell records one weights fingerprint, and each attack's own clean
    mask is the stored clean cell's: no per-example combination mixes two
    networks."""
    cells = _cells(out)
    clean = cells["clean"][0]
    for name, (result, _) in cells.items():
        if name != "clean":
            assert (result.clean == clean).all(), name
    weights = {meta["weights"]["model"] for _, meta in cells.values()}
    assert len(weights) == 1 and isinstance(weights.pop(), str)
    return cells


def test_a_retrain_under_another_environment_does_not_mix(
    tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    _tiny(out, capsys, **MIXING)
    first = _one_training(out)
    _retrain_part(out)
    _another_environment(monkeypatch)
    _, printed = _tiny(out, capsys, **MIXING)
    assert "Training CNN" in printed
    assert "computed on other weights" in printed  # the stored ones, refused
    second = _one_training(out)
    assert second["clean"][1]["weights"] != first["clean"][1]["weights"]


def test_a_retrain_on_a_cluster_does_not_mix(tmp_path, capsys, monkeypatch):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "run"
    _tiny(out, capsys, **MIXING)
    _retrain_part(out)
    _another_environment(monkeypatch)  # the workers are threads of this process
    with (
        distributed.LocalCluster(
            n_workers=1, processes=False, threads_per_worker=1,
            dashboard_address=None,
        ) as cluster,
    ):  # fmt: skip
        reproduce(Settings(**MIXING), out, verbose=1,
                  scheduler=cluster.scheduler_address)  # fmt: skip
        printed = capsys.readouterr().out
    assert "computed on other weights" in printed
    _one_training(out)


def test_a_complete_model_is_never_trained_and_old_cells_keep_their_rule(
    tmp_path, capsys
):
    """Cells from before fingerprints (runs/ carries such): a model with all
    of them is used as one training, untrained; one with a missing cell is
    trained and every such cell refused."""
    out = tmp_path / "run"
    _tiny(out, capsys, **MIXING)
    for path in out.glob("cells/*/*/*.npz"):
        value, meta = _plaindata.load(path)
        meta.pop("weights")
        _plaindata.dump(value, path, meta=meta)
    (out / "results.md").unlink()
    _, printed = _tiny(out, capsys, **MIXING)
    assert "Training" not in printed and "refused" not in printed
    next(out.glob("cells/*/CNN-*/white-box-*.npz")).unlink()
    (out / "results.md").unlink()
    for ckpt in out.glob("models/*/CNN.ckpt"):
        ckpt.unlink()
    _, printed = _tiny(out, capsys, **MIXING)
    assert "Training CNN" in printed
    assert "none: a cell from before them" in printed
    _one_training(out)


# -- a run folder that holds under attack ----------------------------------------


def test_a_lock_that_is_a_link_is_refused_and_nothing_is_written_through_it(
    tmp_path, settings
):
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").symlink_to(victim)
    with pytest.raises(PermissionError, match="symbolic link"):
        RunDirectory(out, settings, DATA)
    assert victim.read_text() == "keep me"
    (out / ".lock").unlink()
    os.mkfifo(out / ".lock")  # not a regular file either
    with pytest.raises(PermissionError, match="not a regular file"):
        RunDirectory(out, settings, DATA)
    (out / ".lock").unlink()
    (out / ".lock").mkdir()
    with pytest.raises(PermissionError, match="not a regular file"):
        RunDirectory(out, settings, DATA)


def test_names_that_leave_the_run_folder_are_refused(tmp_path, settings):
    run = RunDirectory(tmp_path, settings, DATA)
    with pytest.raises(ValueError, match="outside"):
        run.cell_path(_model(), "../../../x")
    escaping = Trained("../../x", None, 0, fit=None, params={})
    with pytest.raises(ValueError, match="outside"):
        run.cell_path(escaping, "clean")
    run.close()


def test_a_cell_of_another_size_is_refused_naming_the_file(tmp_path, settings):
    import numpy as np

    run = RunDirectory(tmp_path, settings, DATA)
    model = _model()
    run.store(model, "clean", np.ones(4, bool))
    messages = []
    assert run.cell(model, "clean", lambda: np.ones(5, bool), log=messages.append,
                    size=5)[1]  # fmt: skip
    assert "holds 4 examples, not the run's 5" in messages[0]
    assert str(run.cell_path(model, "clean")) in messages[0]
    run.store(model, "clean", np.arange(5))  # int64, not a mask
    assert run.cell(model, "clean", lambda: np.ones(5, bool), log=messages.append,
                    size=5)[1]  # fmt: skip
    assert "not a 1-D boolean mask" in messages[-1]
    run.close()


def test_a_refused_run_changes_nothing_in_the_folder(tmp_path):
    """Another seed on a finished run over all the training images: the
    checkpoints (trained with another random_state) are refused before run.json,
    results.md or anything else changes."""
    out = tmp_path / "run"
    every = dict(TINY, n_train=None, models=("CNN",))
    _tiny(out, **every)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(FileExistsError, match="Nothing in .* was changed"):
        _tiny(out, **dict(every, seed=1))
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


@pytest.mark.parametrize("doc", ['{"settings": 5}', "[1]", '{"settings": {}}'])
def test_a_malformed_run_json_is_named(tmp_path, settings, doc):
    (tmp_path / "run.json").write_text(doc)
    with pytest.raises(ValueError, match="run.json is not a run.json"):
        RunDirectory(tmp_path, settings, DATA)


def test_a_model_computed_under_two_environments_is_named_under_the_table(
    tmp_path, settings
):
    run = RunDirectory(tmp_path, settings, DATA)
    model = _model()
    env = {"torch": "2.13.0", "torch_threads": 1, "cpu_capability": "AVX2",
           "device": "cpu"}  # fmt: skip
    run.store(model, "clean", True, environment=env)
    assert run.environment_note() == ""
    run.store(model, "other", True, environment={**env, "torch_threads": 2})
    note = run.environment_note()
    assert "CNN (torch_threads 1, 2)" in note
    run.close()


def test_a_missing_kept_checkpoint_retrains_with_a_message(tmp_path, capsys):
    """A carried run whose finished model's cells are stored but whose kept
    snapshot (and its cells) are not: trained again, said in the log, no crash."""
    out = tmp_path / "run"
    length = dict(TINY, models=("CNN",), epochs=2, keep_epochs=(1,))
    _tiny(out, capsys, **length)
    for snapshot in out.glob("models/*/CNN.epoch1.ckpt"):
        snapshot.unlink()
    for cell in out.glob("cells/*/CNN-e1-*"):
        shutil.rmtree(cell)
    (out / "results.md").unlink()
    _, printed = _tiny(out, capsys, **length)
    assert "kept checkpoint of epoch 1 is missing" in printed
    assert list(out.glob("cells/*/CNN-e1-*/length-*.npz"))
    assert (out / "results.md").is_file()
