"""The run's figures (reproduce/_figures.py): accuracy in percent as the tables
give it, the table's budgets marked, the data set and attacks named."""

import numpy as np

from sk_guessfirst.adversarial import RobustnessCurve
from sk_guessfirst.reproduce import _figures


def test_curves_say_percent_mark_the_tables_eps_and_name_data_and_attacks(
    tmp_path, monkeypatch
):
    drawn = {}

    def keep(fig, path, **kwargs):
        drawn[path.name] = fig

    monkeypatch.setattr(_figures, "write_png_atomic", keep)
    rng = np.random.RandomState(0)
    curve = RobustnessCurve(minimal_perturbation=rng.rand(50) * 0.3, norm=np.inf)
    _figures.plot_curves({("fmn-linf", "white-box"): {"CNN": curve}}, tmp_path, 50,
                         "mnist")  # fmt: skip
    (ax,) = drawn["curves_linf_white-box.png"].axes
    assert ax.yaxis.get_major_formatter()(0.5, 0) == "50%"
    marked = sorted(line.get_xdata()[0] for line in ax.lines[1:])
    assert marked == [0.15, 0.3]  # the protocol's L-inf budgets
    title = ax.get_title()
    assert "mnist" in title and "FMN L-inf" in title and "50 images" in title


def test_training_length_has_a_panel_for_clean_and_each_attack_mode(
    tmp_path, monkeypatch
):
    drawn = {}
    keep = lambda fig, path, **kw: drawn.setdefault(path.name, fig)  # noqa: E731
    monkeypatch.setattr(_figures, "write_png_atomic", keep)
    curve = {"CNN": {1: {"clean": 0.9, "white-box": 0.1}, 3: {"clean": 0.95}}}
    marks = {"CNN": {"black-box": (3, 0.5)}}
    _figures.plot_training_length(curve, tmp_path / "length.png", 20, marks)
    attack, eps = _figures.LENGTH_ATTACK
    titles = [ax.get_title() for ax in drawn["length.png"].axes]
    assert titles == [
        "clean (20 images)",
        f"white-box {attack.upper()} eps={eps} (20 images)",
        f"black-box {attack.upper()} eps={eps} (20 images)",
    ]
    clean, white, black = drawn["length.png"].axes
    assert list(clean.lines[0].get_xdata()) == [1, 3]  # epochs that measured it
    assert list(white.lines[0].get_xdata()) == [1]
    assert black.lines[-1].get_marker() == "*"  # the mark, in its panel
