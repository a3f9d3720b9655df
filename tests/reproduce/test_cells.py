"""The experiment's cells (reproduce/_cells.py): names, seeds, plain values."""

import pickle

import pytest

from sk_guessfirst.reproduce._cells import (
    Clean,
    Craft,
    CurveCell,
    GradientCell,
    LengthCell,
    ReportCell,
    TableCell,
    ViewCell,
    cell_seed,
)

# every kind of cell, with the name the run folders of runs/ store it under
CELLS = {
    Clean(): "clean",
    TableCell("pgd", 0.15, "white-box"): "white-box-pgd-0.15",
    TableCell("cw", 2.0, "black-box"): "black-box-cw-2.0",
    Craft("fgsm", 0.3, "margin"): "craft-fgsm-0.3-margin",
    CurveCell("fmn-linf", "black-box"): "curve-black-box-fmn-linf",
    ReportCell(0.15): "report-0.15",
    LengthCell("black-box"): "length-black-box-pgd-0.15",
    ViewCell("sigmoid", "pgd", 0.3): "view-sigmoid-white-box-pgd-0.3",
    GradientCell("activated"): "view-activated-gradients",
}


class _Exp:
    def __init__(self, seed):
        self.settings = type("S", (), {"seed": seed})()


@pytest.mark.parametrize("cell", list(CELLS), ids=list(CELLS.values()))
def test_names_are_those_of_the_stored_runs(cell):
    assert cell.name == CELLS[cell]


def test_cells_are_plain_values_a_scheduler_can_hand_out():
    for cell in CELLS:
        assert pickle.loads(pickle.dumps(cell)) == cell
        assert hash(cell) == hash(pickle.loads(pickle.dumps(cell)))
    assert len(set(CELLS)) == len(CELLS)


def test_seeds_are_per_cell_and_per_run_and_views_share_the_tables():
    exp = _Exp(0)
    seeds = {cell.seed(exp) for cell in CELLS if not isinstance(cell, ViewCell)}
    assert len(seeds) == len(CELLS) - 1  # every other cell its own random starts
    # common random numbers: a view's attack starts where the table's did
    view = ViewCell("sigmoid", "pgd", 0.3)
    assert view.seed(exp) == TableCell("pgd", 0.3, "white-box").seed(exp)
    assert view.seed(exp) != ViewCell("sigmoid", "pgd", 0.15).seed(exp)
    # another run seed moves every cell
    assert view.seed(_Exp(1)) != view.seed(exp)
    assert cell_seed(0, "white-box-pgd-0.3") == view.seed(exp)  # the stored runs'


def test_which_cells_depend_on_the_substitute():
    uses = {name for cell, name in CELLS.items() if cell.uses_substitute}
    assert uses == {
        "black-box-cw-2.0",
        "curve-black-box-fmn-linf",
        "report-0.15",
        "length-black-box-pgd-0.15",
    }


def test_a_black_box_cell_times_its_own_work_not_the_substitutes():
    """The substitute's training and crafts are shared and timed on their own:
    a black-box cell's seconds are its predictions on the crafted examples."""
    import time as _time

    import numpy as np

    from sk_guessfirst.reproduce._cells import TableCell

    class Model:
        class estimator:  # noqa: N801 - a stand-in with predict
            @staticmethod
            def predict(X):
                return np.zeros(len(X), dtype=int)

    class Exp:
        y = np.zeros(4, dtype=int)
        budget = type("B", (), {"attack_params": {}})()

        def clean(self, model):
            return np.ones(4, dtype=bool)

        def transferred(self, attack, eps, loss):
            _time.sleep(0.3)  # training the substitute and crafting, shared
            return np.zeros((4, 2))

    result = TableCell("pgd", 0.1, "black-box").compute(Exp(), Model())
    assert result.seconds < 0.1 and result.accuracy == 1.0
