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
