"""Results across run folders from stored cells (reproduce/_across.py): the
200-epoch MNIST training-length curve, read from the carried runs/."""

from pathlib import Path

import pytest

from sk_guessfirst.cli import main
from sk_guessfirst.reproduce import open_run
from sk_guessfirst.reproduce._across import length_points

RUNS = Path(__file__).resolve().parents[2] / "runs"


def test_the_curve_joins_two_runs_and_later_folders_win():
    runs = [open_run(RUNS / "mnist"), open_run(RUNS / "mnist-200")]
    points = length_points(runs, ["C-DV-IE"])["C-DV-IE"]
    assert sorted(points) == [3, 10, 25, 50, 100, 200]
    # the 3-50 snapshots were evaluated anew in mnist-200 against its own
    # 200-epoch substitute: that folder's cells win over mnist's
    assert points[3]["substitute"] == 200
    assert points[50]["white-box"] == pytest.approx(0.276)
    only_first = length_points(runs[:1], ["C-DV-IE"])["C-DV-IE"]
    assert only_first[50]["substitute"] == 50 and 200 not in only_first


def test_the_command_writes_table_and_plot_and_refuses_other_images(tmp_path, capsys):
    args = ["length-curve", str(RUNS / "mnist"), str(RUNS / "mnist-200"),
            "--models", "C-DV", "--out", str(tmp_path / "curve")]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| C-DV | 200 | 98.8 [97.9, 99.4] | 17.6 [15.3, 20.1] (26.2) |" in out
    assert (tmp_path / "curve.rst").is_file() and (tmp_path / "curve.png").is_file()
    # the Fashion-MNIST run attacked other images: no curve joins them
    bad = ["length-curve", str(RUNS / "mnist"), str(RUNS / "fashion"), "--models",
           "C-DV", "--out", str(tmp_path / "bad")]  # fmt: skip
    assert main(bad) == 1
    assert "attacked different images" in capsys.readouterr().err
    assert not (tmp_path / "bad.rst").exists()
