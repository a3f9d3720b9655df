"""The order of a model's work (reproduce/_experiment.py), serial and planned."""

import numpy as np

from sk_guessfirst.reproduce import MODELS, Settings
from sk_guessfirst.reproduce._experiment import open_experiment
from sk_guessfirst.reproduce._progress import Log, Progress


class _Stored:
    """Stands in for any stored result: what ``evaluate_model`` reads of one."""

    accuracy = worst_case = 0.5
    median_perturbation = 0.1
    flags = ()
    worst = np.ones(4, dtype=bool)

    def mean(self):
        return 0.5

    def summary(self):
        return "stored"


def test_the_tables_cells_come_first_and_serial_and_planned_orders_agree(
    tmp_path, monkeypatch
):
    s = Settings(dataset="digits", epochs=4, keep_epochs=(1, 2), views=("sigmoid",),
                 device="cpu").resolved()  # fmt: skip
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 64), dtype=np.float32), np.arange(40) % 10
    quiet = Log(0)
    with open_experiment(
        s, tmp_path, X, y, X[:4], y[:4], force=False, log=quiet
    ) as exp:
        seen = []

        def evaluate(model, cell):  # nothing is trained or attacked
            seen.append((model.key, cell.name))
            return _Stored(), False

        monkeypatch.setattr(exp, "evaluate", evaluate)
        # every group settled from the store: nothing is trained
        monkeypatch.setattr(exp, "settle", lambda trained, cells: True)
        exp.evaluate_model(MODELS["C-DV"], Progress(exp.cells_per_model, quiet))
        planned = [(m.key, c.name) for m, c, _ in exp.plan(["C-DV"])]
    # what a cluster computes (plan) is what the serial run reads, in its order
    assert list(dict.fromkeys(seen)) == planned
    # the table's and the length study's cells before the curves, reports and
    # views: a long run stopped early holds what its tables need
    names = [cell for _, cell in planned]
    extras = [i for i, c in enumerate(names) if c.startswith(("curve-", "report-"))]
    length = [i for i, c in enumerate(names) if c.startswith("length-")]
    table = [
        i for i, c in enumerate(names) if c.startswith(("white-box-", "black-box-"))
    ]
    assert extras and length and table
    assert max(table) < min(length) and max(length) < min(extras)
    assert names.index("view-sigmoid-white-box-pgd-0.15") > max(extras)
