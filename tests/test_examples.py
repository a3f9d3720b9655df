"""Every example runs at its default (digits) size and shows what it claims."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))

pytestmark = pytest.mark.slow


def _figure_marks():
    """Lines, bars and points drawn on every open figure."""
    import matplotlib.pyplot as plt

    axes = [ax for n in plt.get_fignums() for ax in plt.figure(n).axes]
    return sum(len(ax.lines) + len(ax.patches) + len(ax.collections) for ax in axes)


# What each example must have computed: one falsifiable check per example.
EXPECT = {
    "plot_quickstart": lambda ns: ns["clf"].score(ns["X_test"], ns["y_test"]) > 0.9,
    "plot_objectives": lambda ns: (
        ns["accuracy"]["dv"] > 0.9 and ns["accuracy"]["js"] > 0.9
    ),
    "plot_grid_search": lambda ns: (
        (ns["results"]["mean_test_fgsm"] < ns["results"]["mean_test_clean"]).all()
        and set(ns["search"].best_params_) == {"ie_lambda", "sigma"}
    ),
    "plot_white_box_attacks": lambda ns: (
        (ns["art_model"].predict(ns["adversarial"]).argmax(1) == ns["y_test"]).mean()
        < ns["models"]["C-DV"].score(ns["X_test"], ns["y_test"]) - 0.1
    ),
    "plot_black_box_transfer": lambda ns: all(
        m.score(ns["X_test"], ns["y_test"]) > 0.9 for m in ns["models"].values()
    ),
    "plot_robustness_curves": lambda ns: 0 < ns["fmn"].median_perturbation < 1,
    "plot_evaluate_your_own_model": lambda ns: (
        "input gradients" in {c.name for c in ns["reports"]["quantised"].flags}
        and "input gradients" not in {c.name for c in ns["reports"]["skorch MLP"].flags}
        and ns["pgd"].details["eot_samples"] == 20
        and "PGD (BPDA)" in ns["reports"]["quantised"].adaptive
        and ns["reports"]["quantised"].worst_case
        <= ns["reports"]["quantised"].accuracies["Square"]
    ),
    "plot_certified_robustness": lambda ns: (
        ns["certificates"]["CNN"].accuracy_at(0.0)
        > ns["certificates"]["CNN, no noise in training"].accuracy_at(0.0) + 0.1
    ),
    "plot_adversarial_training": lambda ns: all(
        ns["accuracy"][name][-1] > ns["accuracy"]["C-DV"][-1] + 0.3
        for name in ("CNN, Madry", "CNN, TRADES", "C-DV, Madry")
    ),
    "plot_custom_trunk": lambda ns: (
        all(m.input_kind_ == "own" for m in ns["models"].values())
        and all(clean > 0.6 for clean, _ in ns["results"].values())
    ),
}


def test_every_example_has_a_check():
    assert {p.stem for p in EXAMPLES} == set(EXPECT)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path, monkeypatch, tmp_path, request):
    if '"fashion-mnist")' in path.read_text():
        request.getfixturevalue("fashion_dir")  # skips (or fails in CI) without it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.delenv("SK_GUESSFIRST_EXAMPLE_DATA", raising=False)
    # as a reader runs a downloaded example: alone, outside the repository
    alone = tmp_path / path.name
    alone.write_text(path.read_text())
    monkeypatch.chdir(tmp_path)
    here = [p for p in sys.path if Path(p or ".").resolve() != path.parent]
    monkeypatch.setattr(sys, "path", here)
    plt.close("all")
    namespace = runpy.run_path(str(alone), run_name="__main__")
    try:
        assert EXPECT[path.stem](namespace)
        if "plt." in path.read_text():
            assert _figure_marks() > 0  # it drew what it set out to draw
    finally:
        plt.close("all")
