"""The command-line program: reproduce end to end (tiny), resume, errors; bench."""

import csv
import os
import subprocess
import sys

import pytest

from sk_guessfirst.cli import main

TINY = ["--epochs", "1", "--n-eval", "12", "--device", "cpu", "--quiet"]


@pytest.mark.slow
def test_reproduce_writes_results_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    # first run: the attack table and curves; the report comes with the resume
    # below, so each expensive phase runs once (the report is tested directly
    # in test_adversarial)
    first = [*TINY, "--attacks", "fgsm", "cw", "--no-report", "--out", str(out)]
    assert main(["reproduce", *first]) == 0
    for name in (
        "results.md",
        "results.csv",
        "results.rst",
        "curves_fgsm.png",
        "curves_pgd.png",
        "run.json",
    ):
        assert (out / name).is_file(), name
    assert not (out / "report.md").exists()
    assert len(list((out / "models").glob("*.joblib"))) == 7
    table = (out / "results.md").read_text()
    for row in (
        "clean",
        "FGSM black",
        "FGSM white",
        "C&W white",
        "worst L-inf white",
        "worst L2 black",
    ):
        assert f"| {row} |" in table, row
    assert "PGD white" not in table  # only the attacks asked for
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["model"] for r in rows} == {
        "CNN",
        "C-DV",
        "C-JS",
        "C-DV-IE",
        "C-JS-IE",
        "VIB",
    }
    assert all(0 <= float(r["accuracy"]) <= 100 for r in rows)

    # a finished run is never silently overwritten
    assert main(["reproduce", *first]) == 1
    assert "already holds a finished run" in capsys.readouterr().err

    # an interrupted run (no results.md) resumes from the saved models
    (out / "results.md").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "models").iterdir()}
    resume = [
        "--epochs",
        "1",
        "--n-eval",
        "12",
        "--device",
        "cpu",
        "--attacks",
        "fgsm",
        "--no-curves",
        "--out",
        str(out),
    ]
    assert main(["reproduce", *resume]) == 0
    assert "loaded from" in capsys.readouterr().out
    after = {p.name: p.stat().st_mtime_ns for p in (out / "models").iterdir()}
    assert before == after
    assert "## C-JS-IE" in (out / "report.md").read_text()

    # other training settings in the same folder are refused
    (out / "results.md").unlink()
    assert (
        main(
            [
                "reproduce",
                "--epochs",
                "2",
                "--n-eval",
                "12",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 1
    )
    assert "other settings" in capsys.readouterr().err


def test_paper_numbers_beside_ours(tmp_path):
    from sk_guessfirst.reproduce import Settings, _markdown

    rows = [("PGD white", 0.3, [0.5] * 6)]
    text = _markdown(Settings(dataset="mnist"), rows)
    assert "| PGD white | 0.30 | 50.0 (0.0) | 50.0 (4.8) | 50.0 (29.7)" in text
    assert "(" not in _markdown(Settings(dataset="digits"), rows).split("\n")[-2]


@pytest.mark.parametrize(
    "args, message",
    [
        (["reproduce", "--epochs", "0"], "positive integer"),
        (["reproduce", "--dataset", "cifar"], "invalid choice"),
        (["reproduce", "--sigma", "-1"], "sigma must be"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_data_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "home"))
    code = main(
        [
            "reproduce",
            "--dataset",
            "mnist",
            "--data-home",
            str(tmp_path / "no"),
            "--out",
            str(tmp_path / "out"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "not found" in err and "download" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    assert main(["reproduce", "--out", str(locked / "x"), "--quiet"]) == 1
    assert "cannot write" in capsys.readouterr().err


def test_unwritable_out_file_in_the_way(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["reproduce", "--out", str(blocker / "x"), "--quiet"]) == 1
    assert "cannot write to output folder" in capsys.readouterr().err


def test_module_entry_point_and_bench():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sk_guessfirst",
            "bench",
            "--which",
            "inference",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "ratio hypothesis/CNN" in done.stdout and "naive/CNN" in done.stdout
