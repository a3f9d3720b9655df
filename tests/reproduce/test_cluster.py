"""reproduce on a Dask cluster (reproduce/_cluster.py): the same tables as a
serial run, a killed worker, a scheduler that does not answer."""

import os
import signal
import threading
import time

import pytest

from sk_guessfirst.reproduce import Settings, reproduce

distributed = pytest.importorskip("distributed")

# small, but trained enough that the numbers mean something (digits, 3
# epochs of batch 32), with both modes, the substitute's crafts and the
# training-length study's snapshots among the tasks
SETTINGS = Settings(
    n_train=300, epochs=3, n_eval=30, batch_size=32, attacks=("fgsm",),
    curves=False, report=False, models=("CNN", "C-JS"), keep_epochs=(1,),
    device="cpu", threads=1,
)  # fmt: skip
OUTPUTS = ("results.rst", "training_length.md")


def _tables(folder):
    """What a run publishes, without its timing (the Time line, seconds)."""
    csv = (folder / "results.csv").read_text().splitlines()
    text = {name: (folder / name).read_text() for name in OUTPUTS}
    return text, [",".join(line.split(",")[:7]) for line in csv]


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "run"
    reproduce(SETTINGS, out, verbose=0)
    return _tables(out)


@pytest.mark.slow
@pytest.mark.xdist_group("serial")  # one worker computes the fixture
def test_two_workers_write_the_serial_tables(serial, tmp_path):
    out = tmp_path / "run"
    reproduce(SETTINGS, out, verbose=0, workers=2)
    assert _tables(out) == serial
    text, csv = serial
    accuracies = {float(row.split(",")[5]) for row in csv[1:] if "clean" in row}
    assert max(accuracies) > 50  # trained models, not constant outputs
    # every cell was computed once, by the cluster: a rerun finds it all stored
    assert len(list(out.rglob("cells/*/*/*.npz"))) > 20


@pytest.mark.slow
@pytest.mark.xdist_group("serial")  # one worker computes the fixture
def test_a_worker_killed_mid_run_is_rescheduled_and_the_tables_do_not_change(
    serial, tmp_path
):
    out = tmp_path / "run"
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = client.run(os.getpid)  # worker address -> process id
        killed = []

        def kill_a_training_worker():
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not killed:
                for address, tasks in client.processing().items():
                    if any(str(t).startswith("train-") for t in tasks):
                        time.sleep(0.5)  # mid-training
                        os.kill(pids[address], signal.SIGKILL)
                        killed.append(address)
                        return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_a_training_worker, daemon=True)
        killer.start()
        reproduce(SETTINGS, out, verbose=0, scheduler=cluster.scheduler_address)
        killer.join()
    assert killed, "no training task was seen running"
    assert _tables(out) == serial


def test_a_scheduler_that_does_not_answer_is_a_clear_error_within_seconds(tmp_path):
    start = time.monotonic()
    with pytest.raises(ConnectionError, match="no Dask scheduler answers"):
        reproduce(SETTINGS, tmp_path / "run", verbose=0, scheduler="tcp://127.0.0.1:9")
    assert time.monotonic() - start < 30


def test_workers_and_scheduler_exclude_each_other(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        reproduce(SETTINGS, tmp_path, workers=2, scheduler="tcp://127.0.0.1:9")
    with pytest.raises(ValueError, match="workers must be"):
        reproduce(SETTINGS, tmp_path, workers=0)
