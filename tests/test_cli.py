"""The command line: reproduce (tiny), kill and resume, Ctrl-C, errors; tune; bench."""

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sk_guessfirst.adversarial import accuracy_interval
from sk_guessfirst.cli import main

REPO = Path(__file__).resolve().parents[1]

# A tiny run: 300 digits, 3 epochs, 20 attacked images, one fixed-budget
# attack of each library path (ART, Foolbox minimal) and the curves; four
# models of three kinds (CNN, hypothesis with and without IE, VIB). One torch
# thread: the run shares the machine with the other test worker.
TINY = [
    "--n-train", "300", "--epochs", "3", "--n-eval", "20", "--device", "cpu",
    "--attacks", "pgd", "cw", "--no-report", "--models", "CNN", "C-DV", "C-JS-IE",
    "VIB", "--threads", "1",
]  # fmt: skip


def _cli(out, *extra):
    return [sys.executable, "-m", "sk_guessfirst", "reproduce", *TINY, "--out",
            str(out), *extra]  # fmt: skip


def _table(out):
    """results.csv without its timing column."""
    with open(Path(out) / "results.csv") as f:
        return [
            {k: v for k, v in row.items() if k != "seconds"}
            for row in csv.DictReader(f)
        ]


def _wait_for(proc, condition, timeout=300):
    start = time.monotonic()
    while not condition():
        if proc.poll() is not None:
            return False
        if time.monotonic() - start > timeout:
            raise TimeoutError("the run never reached the kill point")
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    done = subprocess.run(_cli(out), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return out, done.stdout


@pytest.mark.slow
@pytest.mark.xdist_group("uninterrupted")  # one worker computes the fixture
def test_killed_runs_resume_to_the_uninterrupted_table(uninterrupted, tmp_path):
    """SIGKILL at a random epoch of a random model, then at a random evaluation
    cell; each time the same command resumes; the table is identical."""
    reference, _ = uninterrupted
    out = tmp_path / "run"
    rng = random.Random(os.environ.get("PYTEST_SEED", 0))
    model = rng.choice(["CNN", "C-DV", "C-JS-IE", "VIB"])
    epoch = rng.choice([1, 2])
    n_cells = rng.randint(2, 12)

    def checkpoint_written():
        paths = list(out.glob(f"models/*/{model}.ckpt"))
        return bool(paths) and _epochs(paths[0]) >= epoch

    def cells_written():
        return len(list((out / "cells").rglob("*.npz"))) >= n_cells

    for condition in (checkpoint_written, cells_written):
        proc = subprocess.Popen(
            _cli(out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        reached = _wait_for(proc, condition)
        proc.kill()  # SIGKILL: no cleanup runs
        proc.wait()
        assert reached, f"run ended before the kill point: {proc.stderr.read()}"
        assert not (out / "results.md").exists()
    done = subprocess.run(_cli(out), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "(stored)" in done.stdout  # finished cells were not recomputed
    assert _table(out) == _table(reference)


@pytest.mark.slow
@pytest.mark.xdist_group("uninterrupted")  # one worker computes the fixture
def test_stored_cells_alone_resume_without_weights(uninterrupted, tmp_path):
    """A run folder's cells/ carried without models/ (weights stay behind):
    nothing is trained again and the table is the same; with one model's
    cells gone, that model alone is trained again."""
    import shutil

    reference, _ = uninterrupted
    out = tmp_path / "run"
    shutil.copytree(reference / "cells", out / "cells")
    shutil.copy(reference / "run.json", out / "run.json")
    for craft in (out / "cells").rglob("craft-*.npz"):
        craft.unlink()  # the substitute's examples are not needed either
    done = subprocess.run(_cli(out), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "Training" not in done.stdout and "crafts" not in done.stdout
    assert _table(out) == _table(reference)

    (model_cells,) = (out / "cells").glob("*/VIB-e3-*")
    shutil.rmtree(model_cells)
    (out / "results.md").unlink()
    done = subprocess.run(_cli(out), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    trained = [ln for ln in done.stdout.splitlines() if ln.startswith("Training")]
    assert [ln.split(":")[0] for ln in trained] == [
        "Training VIB",
        "Training substitute",
    ]
    assert _table(out) == _table(reference)


def _epochs(path):
    from sk_guessfirst.checkpoint import checkpoint_epochs

    try:
        return checkpoint_epochs(path)
    except (ValueError, FileNotFoundError):
        return 0


@pytest.mark.slow
@pytest.mark.xdist_group("uninterrupted")  # one worker computes the fixture
def test_reproduce_outputs_and_finished_run(uninterrupted, capsys):
    out, stdout = uninterrupted
    for name in (
        "results.md",
        "results.csv",
        "results.rst",
        "run.json",
        "curves_linf_white-box.png",
        "curves_linf_black-box.png",
        "curves_l2_white-box.png",
        "medians.rst",
    ):
        assert (out / name).is_file(), name
    medians = (out / "medians.rst").read_text()
    assert '"fmn-linf", "white-box"' in medians and '"VIB"' in medians
    assert not (out / "report.md").exists()
    assert len(list(out.glob("models/*/*.ckpt"))) == 5  # 4 models, substitute
    table = (out / "results.md").read_text()
    for row in (
        "clean",
        "PGD black",
        "PGD white",
        "C&W white",
        "worst L-inf white",
        "worst L2 black",
    ):
        assert f"| {row} |" in table, row
    # every accuracy with its exact 95% interval, the same in the CSV
    from scipy.stats import beta

    clean = next(r for r in _table(out) if r["attack"] == "clean")
    n = int(json.loads((out / "run.json").read_text())["data"]["n_eval"])
    k = round(float(clean["accuracy"]) * n / 100)
    low = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    assert float(clean["low"]) == pytest.approx(100 * low, abs=0.01)
    cell = f"{float(clean['accuracy']):.1f} [{float(clean['low']):.1f}, "
    assert cell in table and "Clopper-Pearson" in table
    assert "| FGSM" not in table  # only the attacks asked for
    assert "training images=300" in table and "attacked test images=20" in table
    rows = _table(out)
    assert {r["model"] for r in rows} == {"CNN", "C-DV", "C-JS-IE", "VIB"}
    # PGD rows: the worst case over both losses, each loss listed
    pgd = [
        r
        for r in rows
        if r["attack"] == "pgd"
        and r["model"] == "CNN"
        and r["mode"] == "white-box"
        and r["eps"] == "0.15"
    ]
    by_loss = {r["loss"]: float(r["accuracy"]) for r in pgd}
    assert set(by_loss) == {"worst", "ce", "margin"}
    assert by_loss["worst"] <= min(by_loss["ce"], by_loss["margin"])
    assert "epoch 3/3" in stdout and "ETA" in stdout

    # a finished run is never silently overwritten
    args = ["reproduce", *TINY, "--out", str(out), "--quiet"]
    assert main(args) == 1
    assert "already holds a finished run" in capsys.readouterr().err
    # a model trained with other settings is never resumed with new ones
    assert main([*args, "--ie-lambda", "0.5"]) == 1
    err = capsys.readouterr().err
    assert "ie_lambda: 0.01 -> 0.5" in err and "C-JS-IE.ckpt" in err


@pytest.mark.slow
def test_more_epochs_continue_a_finished_run(tmp_path, capsys):
    out = tmp_path / "run"
    small = ["reproduce", "--n-train", "200", "--n-eval", "10", "--device", "cpu",
             "--attacks", "fgsm", "--no-curves", "--no-report", "--out", str(out),
             "--keep-epochs", "1", "--models", "CNN", "C-DV"]  # fmt: skip
    assert main([*small, "--epochs", "1"]) == 0
    assert "Training CNN: 1 epochs" in capsys.readouterr().out
    assert main([*small, "--epochs", "2"]) == 0
    text = capsys.readouterr().out
    assert "CNN: epoch 2/2" in text and "CNN: epoch 1/2" not in text
    # the log says the model comes from its checkpoint, not that it trains anew
    assert "Training CNN" not in text
    (ckpt,) = out.glob("models/*/CNN.ckpt")
    assert f"CNN: its checkpoint {ckpt} holds 1 epochs; training to 2" in text
    assert _epochs(ckpt) == 2
    assert (ckpt.parent / "CNN.epoch1.ckpt").exists()
    assert "epochs=2" in (out / "results.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig, code, word",
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["ctrl-c", "sigterm"],
)
@pytest.mark.usefixtures("real_ctrl_c")
def test_a_signal_exits_cleanly_and_leaves_only_complete_epochs(
    tmp_path, sig, code, word
):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        _cli(out, "--epochs", "50"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def ckpt():
        paths = list(out.glob("models/*/CNN.ckpt"))
        return paths[0] if paths else out / "none"

    assert _wait_for(proc, lambda: _epochs(ckpt()) >= 2)
    proc.send_signal(sig)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == code, err
    assert f"sk-guessfirst: {word};" in err and "run the same command to resume" in err
    assert "Traceback" not in err
    assert not (out / "results.md").exists()
    assert 2 <= _epochs(ckpt()) < 50
    assert not list(out.rglob(".*.tmp"))


def test_paper_numbers_beside_ours():
    from sk_guessfirst.reproduce import Settings
    from sk_guessfirst.reproduce._tables import Row, markdown

    models = ["CNN", "C-DV", "C-JS"]
    rows = [Row("pgd", "white-box", 0.3, dict.fromkeys(models, 0.5), {}, {})]
    sizes = dict(train=10, eval=4, curve=4, report=4)  # 2 of 4 images: 50%
    text = markdown(Settings(dataset="mnist").resolved(), sizes, models, rows, {}, {})
    ours = "50.0 [6.8, 93.2]"  # with its exact 95% interval (Clopper-Pearson)
    assert f"| PGD white | 0.30 | {ours} (0.0) | {ours} (4.8) | {ours} (29.7) |" in text
    digits = markdown(Settings().resolved(), sizes, models, rows, {}, {})
    assert f"| PGD white | 0.30 | {ours} | {ours} | {ours} |" in digits


@pytest.mark.parametrize(
    "args, message",
    [
        (["reproduce", "--epochs", "0"], "positive integer"),
        (["reproduce", "--seed", "-1"], "expected an integer in [0, 2**31)"),
        (["reproduce", "--n-train", "0"], "positive integer"),
        (["reproduce", "--dataset", "cifar"], "invalid choice"),
        (["reproduce", "--sigma", "-1"], "sigma must be"),
        (["reproduce", "--ie-lambda", "nan"], "finite number"),
        (["reproduce", "--ie-lambda", "-0.1"], "ie_lambda"),
        (["reproduce", "--device", "tpu"], "device must be"),
        (["reproduce", "--budget", "huge"], "invalid choice"),
        (["reproduce", "--attacks", "deepfool"], "invalid choice"),
        (
            [
                "reproduce",
                "--views",
                "sigmoid",
                "--attacks",
                "pgd",
                "--out",
                "/nonexistent/x",
            ],
            "add ['fgsm'] to --attacks",
        ),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_version(capsys):
    from sk_guessfirst import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and __version__ in capsys.readouterr().out


def test_missing_data_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "home"))
    code = main(["reproduce", "--dataset", "mnist", "--data-home", str(tmp_path / "no"),
                 "--out", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "not found" in err and "download" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_corrupt_data_is_a_clear_error(tmp_path, capsys, monkeypatch, mnist_dir):
    import shutil

    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "home"))
    folder = tmp_path / "mnist"
    shutil.copytree(mnist_dir, folder)
    images = folder / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:5000])  # truncated
    code = main(["reproduce", "--dataset", "mnist", "--data-home", str(folder),
                 "--out", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "sk-guessfirst: error:" in err and "t10k-images" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_unwritable_out_file_in_the_way(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["reproduce", "--out", str(blocker / "x"), "--quiet"]) == 1
    assert "cannot write to output folder" in capsys.readouterr().err


def test_module_entry_point_and_bench():
    done = subprocess.run(
        [sys.executable, "-m", "sk_guessfirst", "bench", "--which", "inference",
         "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ratio hypothesis/CNN" in done.stdout and "naive/CNN" in done.stdout


@pytest.mark.slow
def test_training_length_and_attacker_views(tmp_path):
    out = tmp_path / "run"
    args = ["reproduce", "--n-train", "200", "--epochs", "2", "--keep-epochs", "1",
            "--n-eval", "20", "--device", "cpu", "--attacks", "fgsm", "pgd",
            "--no-curves", "--no-report", "--models", "CNN", "C-JS", "--views",
            "activated", "sigmoid", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    length = (out / "training_length.md").read_text()
    assert "| CNN | 1 |" in length and "| C-JS | 2 |" in length
    # the last point of the curve is the final model: its clean accuracy is the table's
    clean = next(
        r for r in _table(out) if r["attack"] == "clean" and r["model"] == "CNN"
    )
    final = next(ln for ln in length.splitlines() if ln.startswith("| CNN | 2 |"))
    # "97.0 [93.2, 99.0]": the accuracy, then its interval
    assert float(final.split("|")[3].split()[0]) == pytest.approx(
        float(clean["accuracy"]), abs=0.05
    )
    # ... and its attacked points are the table's PGD cells themselves (the
    # same random starts, the same transfer), not a second run of the attack:
    # the study stores cells of the kept epoch alone (2 models x 2 modes)
    stored = sorted(p.parent.name.split("-e")[1][0] for p in out.rglob("length-*.npz"))
    assert stored == ["1"] * 4
    for column, mode in ((4, "white-box"), (5, "black-box")):
        cell = next(
            r
            for r in _table(out)
            if (r["attack"], r["mode"], r["eps"], r["model"], r["loss"])
            == ("pgd", mode, "0.15", "CNN", "worst")
        )
        assert final.split("|")[column].split()[0] == f"{float(cell['accuracy']):.1f}"
    views = (out / "views.md").read_text()
    assert "| sigmoid | PGD | 0.15 |" in views and "input gradients" in views
    # the CNN's "activated" view is its raw scores: with the table's random
    # starts (common random numbers, tests/reproduce/test_cells.py) its PGD
    # result is the table's, none hidden
    pgd = next(
        r
        for r in _table(out)
        if (r["attack"], r["mode"], r["eps"], r["model"], r["loss"])
        == ("pgd", "white-box", "0.15", "CNN", "worst")
    )
    row = next(
        ln for ln in views.splitlines() if ln.startswith("| activated | PGD | 0.15")
    )
    acc = float(pgd["accuracy"])
    low, high = accuracy_interval(round(acc / 100 * 20), 20)  # 20 images
    assert row.split("|")[4].strip() == (
        f"{acc:.1f} [{100 * low:.1f}, {100 * high:.1f}] (0.0)"
    )
    assert len(list(out.rglob("view-*-white-box-*.npz"))) == 2 * 2 * 4  # 2 x 2 x rows
    assert (out / "training_length.png").is_file()
    assert ".. csv-table::" in (out / "views.rst").read_text()


def _tune_row(objective, ie_lambda, sigma, clean, robust):
    return dict(objective=objective, ie_lambda=ie_lambda, sigma=sigma,
                clean=clean, robust=robust)  # fmt: skip


def test_tune_selects_the_most_robust_admissible_setting():
    from sk_guessfirst.reproduce._tune import select, table_markdown

    rows = [
        # the most robust, but 1.5 points of mean clean accuracy under the best
        _tune_row("dv", 0.1, 1.0, 0.98, 0.30),
        _tune_row("js", 0.1, 1.0, 0.94, 0.30),
        # the best for dv alone, worse on average than the next
        _tune_row("dv", 0.01, "median", 0.985, 0.10),
        _tune_row("js", 0.01, "median", 0.965, 0.01),
        # the best clean accuracy of neither objective, the best mean
        _tune_row("dv", 0.01, 10.0, 0.975, 0.05),
        _tune_row("js", 0.01, 10.0, 0.975, 0.08),
    ]
    assert select(rows) == (0.01, 10.0)
    assert select(rows, slack=0.02) == (0.1, 1.0)
    lines = [ln for ln in table_markdown(rows).splitlines() if ln.startswith("| ")]
    assert lines[1:] == [
        "| 0.1 | 1.0 | 98.00 | 30.00 | 94.00 | 30.00 | 96.00 | 30.00 | no |",
        "| 0.01 | median | 98.50 | 10.00 | 96.50 | 1.00 | 97.50 | 5.50 | yes |",
        "| **0.01** | **10.0** | **97.50** | **5.00** | **97.50** | **8.00** | "
        "**97.50** | **6.50** | **yes** |",
    ]


def test_tune_command_writes_the_search_and_its_winner(tmp_path, capsys):
    out = tmp_path / "tune"
    args = ["tune", "--n-train", "400", "--epochs", "1", "--ie-lambda", "0.01", "0.1",
            "--sigma", "median", "--n-test", "50", "--max-iter", "2",
            "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "tune.json").read_text())
    with open(out / "tune.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4  # 2 objectives x 2 ie_lambda
    assert {r["objective"] for r in rows} == {"dv", "js"}
    assert all(0 <= float(r["robust"]) <= float(r["clean"]) <= 1 for r in rows)
    winner = summary["winner"]
    assert winner["ie_lambda"] in (0.01, 0.1) and winner["sigma"] == "median"
    assert f"winner: ie_lambda={winner['ie_lambda']}" in capsys.readouterr().out
    bold = [ln for ln in (out / "tune.md").read_text().splitlines() if "**" in ln]
    assert len(bold) == 1 and bold[0].startswith(f"| **{winner['ie_lambda']:g}**")
    assert (out / "tune.rst").read_text().startswith(".. csv-table:: Grid search")


def test_cluster_options(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["reproduce", "--workers", "2", "--scheduler", "tcp://127.0.0.1:9"])
    assert stop.value.code == 2 and "not allowed with" in capsys.readouterr().err
    out = tmp_path / "run"
    code = main(["reproduce", "--scheduler", "tcp://127.0.0.1:9", "--quiet",
                 "--out", str(out)])  # fmt: skip
    assert code == 1
    assert "no Dask scheduler answers at 'tcp://127.0.0.1:9'" in capsys.readouterr().err
    assert not out.exists()  # the cluster is checked before the folder is made


def test_evaluate_a_saved_model(tmp_path, capsys):
    import torch
    from torch import nn

    from sk_guessfirst.datasets import load_dataset

    X, y = load_dataset("digits")
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(module.parameters(), lr=0.01)
    for _ in range(100):  # a plain torch training loop, nothing of the package
        opt.zero_grad()
        loss = nn.functional.cross_entropy(
            module(torch.as_tensor(X)), torch.as_tensor(y)
        )
        loss.backward()
        opt.step()
    batch = torch.export.Dim("batch")
    program = torch.export.export(
        module.eval(), (torch.zeros(2, 64),), dynamic_shapes=({0: batch},)
    )
    path = tmp_path / "mlp.pt2"
    torch.export.save(program, str(path))
    out = tmp_path / "run"
    args = ["evaluate", str(path), "--input-shape", "64", "--n-eval", "30",
            "--attacks", "fgsm", "--no-curves", "--no-report", "--device", "cpu",
            "--quiet", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    rows = {
        (r["attack"], r["mode"], r["eps"]): r
        for r in _table(out)
        if r["loss"] == "worst"
    }
    clean = float(rows["clean", "", "0.0"]["accuracy"])
    white = float(rows["fgsm", "white-box", "0.3"]["accuracy"])
    assert rows["clean", "", "0.0"]["model"] == "mlp" and clean > 80
    assert white < clean and ("fgsm", "black-box", "0.15") in rows
    # the header states the file's facts, not training settings it never had
    import hashlib

    header = (out / "results.md").read_text().split("\n\n")[1]
    assert hashlib.sha256(path.read_bytes()).hexdigest() in header
    assert "input shape (64,)" in header and "10 classes" in header
    assert "epochs" not in header and "ie_lambda" not in header
    # resumable by cells: the same command finds the run finished
    assert main(args) == 1
    assert "already holds a finished run" in capsys.readouterr().err
    # a file that is not a torch.export program is refused, and nothing written
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(b"not a model")
    assert main([*args[:1], str(bad), *args[2:-1], str(tmp_path / "bad")]) == 1
    assert "is not a torch.export file" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    # the wrong input shape, a fixed batch, a name that leaves --out: named
    # errors, nothing written
    fresh = [*args[:-1], str(tmp_path / "other")]
    shape = fresh.index("--input-shape")
    assert main([*fresh[: shape + 1], "1", "28", "28", *fresh[shape + 2 :]]) == 1
    assert "--input-shape 1 28 28" in capsys.readouterr().err
    fixed = tmp_path / "fixed.pt2"
    torch.export.save(torch.export.export(module.eval(), (torch.zeros(2, 64),)), fixed)
    assert main([fresh[0], str(fixed), *fresh[2:]]) == 1
    assert "fixed batch size" in capsys.readouterr().err
    assert main([*fresh, "--name", "../../escaped"]) == 1
    assert "is not a plain name" in capsys.readouterr().err
    assert (
        not (tmp_path / "other").exists() and not (tmp_path.parent / "escaped").exists()
    )


def test_certify_writes_the_table_and_resumes_from_its_cells(
    tmp_path, capsys, monkeypatch
):
    from sk_guessfirst._plaindata import dump, load
    from sk_guessfirst.adversarial import Certificate
    from sk_guessfirst.reproduce import _certify

    monkeypatch.setattr(_certify, "CHUNK", 3)  # cells of 3 images: 0-3, 3-6, 6-8
    out = tmp_path / "cert"
    args = ["certify", "--n-train", "300", "--epochs", "2", "--n-eval", "8",
            "--n", "200", "--models", "CNN", "C-DV", "--noise", "0.25",
            "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "Training CNN+N0.25" in first and "Training C-DV+N0.25" in first
    rows = list(csv.DictReader(open(out / "certified.csv")))
    assert [(r["model"], r["sigma"], r["n"]) for r in rows] == [
        ("CNN", "0.25", "200"), ("C-DV", "0.25", "200")
    ]  # fmt: skip
    # the largest radius 200 samples certify at sigma 0.25: all 200 votes for
    # one class, Clopper-Pearson's one-sided lower bound 0.001^(1/200) = 0.96605
    assert float(rows[0]["max_radius"]) == pytest.approx(0.25 * 1.8257, abs=1e-3)
    assert rows[0]["r0.5"] == ""  # beyond it: not claimed
    table = (out / "certified.md").read_text()
    assert (out / "certified.png").stat().st_size > 0
    # the same command again trains nothing and writes the same table
    assert main(args) == 0
    again = capsys.readouterr().out
    assert "Training" not in again and "(stored)" in again
    assert (out / "certified.md").read_text() == table
    # a lost cell costs its 3 images only, recomputed to the same certificate
    (cells,) = [p for p in (out / "cells").glob("*/CNN+N0.25-*")]
    names = sorted(p.name for p in cells.iterdir())
    assert [n.rsplit("-", 2)[-2:] for n in names] == [
        ["images0", "3.npz"], ["images3", "6.npz"], ["images6", "8.npz"]
    ]  # fmt: skip
    (cells / names[1]).unlink()
    assert main(args) == 0
    third = capsys.readouterr().out
    assert "Training" not in third and third.count(" certified (") == 1
    assert "CNN+N0.25: images 3-6 certified" in third
    assert (out / "certified.md").read_text() == table
    # a cell of all the images at once (runs before chunks) is read as it is
    parts = [load(cells / name) for name in names]
    whole = names[0].split("-images")[0]
    key = dict(parts[0][1]["key"], cell=whole)
    dump(Certificate.concatenate([p[0] for p in parts]), cells / f"{whole}.npz",
         meta=dict(parts[0][1], key=key))  # fmt: skip
    for name in names:
        (cells / name).unlink()
    assert main(args) == 0
    fourth = capsys.readouterr().out
    assert " certified (" not in fourth and "(stored)" in fourth
    assert (out / "certified.md").read_text() == table


@pytest.mark.parametrize(
    "args, message",
    [
        (["certify", "--noise", "0"], "expected a noise std > 0.0"),
        (["certify", "--workers", "2"], "certify runs on this machine"),
        (["certify", "--models", "nope"], "invalid choice: 'nope'"),
    ],
)
def test_certify_bad_arguments(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_compare_reads_stored_cells_over_trainings(capsys):
    runs = [str(REPO / "runs" / f) for f in ("fashion-at", "fashion-at-s1")]
    assert main(["compare", "AT", "C-DV-AT", *runs, "--cell", "clean"]) == 0
    out = capsys.readouterr().out
    assert "(seed 0): A 79.2% [75.4, 82.7]" in out and "(seed 1)" in out
    assert "paired t-test, 1 df" in out
    # --table: every cell both hold in every run, per training, mean and spread
    assert main(["compare", "AT", "C-DV-AT", *runs, "--cell", "clean", "--table"]) == 0
    table = capsys.readouterr().out
    assert "| cell | model | seed 0 | seed 1 | mean | sd |" in table
    assert (
        "| clean | AT | 79.2 [75.4, 82.7] | 78.8 [75.0, 82.3] | 79.0 | 0.3 |" in table
    )
    # a cell that is not there: named, with the cells that are
    assert main(["compare", "AT", "C-DV-AT", runs[0], "--cell", "nope"]) == 1
    err = capsys.readouterr().err
    assert "no cell 'nope' of AT" in err and "white-box-pgd-0.15" in err
    # a certificate compared at a radius
    cert = str(REPO / "runs" / "mnist-certify")
    args = ["compare", "C-DV+N0.5", "CNN+N0.5", cert, "--radius", "1.5", "--cell",
            "certify-sigma0.5-n10000-n0100-alpha0.001"]  # fmt: skip
    assert main(args) == 0
    assert "70 vs 30 discordant" in capsys.readouterr().out


def test_seeds_train_each_model_once_per_seed_and_compare_them(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["reproduce", "--n-train", "200", "--epochs", "4", "--n-eval", "20",
            "--device", "cpu", "--attacks", "fgsm", "--no-curves", "--no-report",
            "--models", "CNN", "--seeds", "0", "1", "--quiet",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    # one complete run folder per seed, each its own training (other weights)
    fingerprints = set()
    for seed in (0, 1):
        run = json.loads((out / f"seed-{seed}" / "run.json").read_text())
        assert run["settings"]["seed"] == seed
        (cell,) = (out / f"seed-{seed}" / "cells").glob("*/CNN-*/clean.npz")
        from sk_guessfirst._plaindata import load

        fingerprints.add(load(cell)[1]["weights"]["model"])
    assert len(fingerprints) == 2
    table = (out / "trainings.md").read_text()
    assert "| cell | model | seed 0 | seed 1 | mean | sd |" in table
    assert "| white-box-fgsm-0.3 | CNN |" in table
    # resumable: with seed 1's run unfinished, the same command keeps seed 0's
    # finished run and completes seed 1's
    (out / "seed-1" / "results.md").unlink()
    (out / "trainings.md").unlink()
    capsys.readouterr()
    assert main(args) == 0
    said = capsys.readouterr().out
    assert "seed-0: finished with these settings, kept" in said
    assert (out / "seed-1" / "results.md").is_file()
    assert (out / "trainings.md").read_text() == table


def test_seed_and_seeds_conflict(tmp_path, capsys):
    args = ["reproduce", "--seeds", "0", "1", "--seed", "3", "--out", str(tmp_path)]
    with pytest.raises(SystemExit):
        main(args)
    assert "--seed and --seeds" in capsys.readouterr().err
