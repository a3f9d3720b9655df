"""Every example runs at its default (digits) size."""

import os
import runpy
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))

pytestmark = pytest.mark.slow


def test_examples_exist():
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.delenv("SK_GUESSFIRST_FULL", raising=False)
    monkeypatch.syspath_prepend(str(path.parent))
    monkeypatch.chdir(path.parent)
    sys.modules.pop("_common", None)
    runpy.run_path(str(path), run_name="__main__")
    assert plt.get_fignums() or "plt" not in path.read_text()
    plt.close("all")
    assert os.environ.get("SK_GUESSFIRST_FULL") is None
