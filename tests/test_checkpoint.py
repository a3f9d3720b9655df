"""Checkpoints and resume: a stopped run resumes to the model it would have been."""

import os
import signal

import numpy as np
import pytest
from skorch.callbacks import Callback

from sk_guessfirst import (
    AdversarialTrainingClassifier,
    HypothesisConditionedClassifier,
    VIBClassifier,
)
from sk_guessfirst.checkpoint import fit_or_resume, load_checkpoint, snapshot_path

FAST = dict(
    batch_size=16, random_state=0, device="cpu", module__hidden_units=(16, 16, 8)
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.rand(80, 10).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 1).astype(int) + (X[:, 2] > 0.5)
    return X, y


class StopAt(Callback):
    """Ctrl-C (SIGINT) at the start of epoch ``epoch`` (1-based)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)  # a real one, not a callback's stop


def _weights(est):
    return [t.numpy().copy() for t in est.module_.state_dict().values()]


def assert_same_model(a, b):
    for wa, wb in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert a.history[:, "train_loss"] == b.history[:, "train_loss"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: HypothesisConditionedClassifier(ie_lambda=0.01, **FAST),
        lambda: VIBClassifier(**{k: v for k, v in FAST.items() if "hidden" not in k}),
        # the PGD random starts come from the checkpointed torch stream
        lambda: AdversarialTrainingClassifier(adv_eps=0.1, adv_steps=2, **FAST),
    ],
    ids=["c-dv-ie", "vib", "adversarial-training"],
)
@pytest.mark.usefixtures("real_ctrl_c")
def test_interrupted_run_resumes_to_the_uninterrupted_model(data, tmp_path, make):
    X, y = data
    whole = make().set_params(max_epochs=5).fit(X, y)
    path = tmp_path / "model.ckpt"
    stopped = make().set_params(max_epochs=5, callbacks=[StopAt(3)])
    with pytest.raises(KeyboardInterrupt):
        fit_or_resume(stopped, X, y, path)
    assert len(load_checkpoint(path, make()).history) == 2  # epochs 1-2 complete
    resumed = fit_or_resume(make().set_params(max_epochs=5), X, y, path)
    assert len(resumed.history) == 5
    assert_same_model(resumed, whole)
    np.testing.assert_array_equal(resumed.predict_proba(X), whole.predict_proba(X))
    # a finished run is returned as it is, not trained further
    again = fit_or_resume(make().set_params(max_epochs=5), X, y, path)
    assert len(again.history) == 5 and again.max_epochs == 5


def test_more_epochs_continue_a_finished_run(data, tmp_path):
    X, y = data
    path = tmp_path / "m.ckpt"
    est = HypothesisConditionedClassifier(max_epochs=2, **FAST)
    fit_or_resume(est, X, y, path, keep_epochs=(1, 2))
    longer = fit_or_resume(est.set_params(max_epochs=4), X, y, path)
    assert_same_model(
        longer, HypothesisConditionedClassifier(max_epochs=4, **FAST).fit(X, y)
    )
    # fewer epochs than the checkpoint holds: the kept copy of that epoch
    assert snapshot_path(path, 2).exists() and not snapshot_path(path, 3).exists()
    two = fit_or_resume(est.set_params(max_epochs=2), X, y, path)
    assert len(two.history) == 2
    with pytest.raises(ValueError, match="more than max_epochs=3"):
        fit_or_resume(est.set_params(max_epochs=3), X, y, path)


def test_checkpoint_of_other_settings_or_data_is_refused_and_kept(data, tmp_path):
    X, y = data
    path = tmp_path / "m.ckpt"
    fit_or_resume(HypothesisConditionedClassifier(max_epochs=1, **FAST), X, y, path)
    before = path.read_bytes()
    other = HypothesisConditionedClassifier(max_epochs=2, objective="js", **FAST)
    with pytest.raises(ValueError, match="objective: 'dv' -> 'js'"):
        fit_or_resume(other, X, y, path)
    same = HypothesisConditionedClassifier(max_epochs=2, **FAST)
    with pytest.raises(ValueError, match="other data"):
        fit_or_resume(same, X[:60], y[:60], path)
    with pytest.raises(ValueError, match="VIBClassifier"):
        fit_or_resume(VIBClassifier(max_epochs=2), X, y, path)
    assert path.read_bytes() == before
    path.write_bytes(before[: len(before) // 2])
    with pytest.raises(ValueError, match="not a readable training checkpoint"):
        fit_or_resume(same, X, y, path)


def test_callbacks_and_epochs_of_the_loaded_estimator_are_the_users(data, tmp_path):
    X, y = data
    path = tmp_path / "m.ckpt"
    est = HypothesisConditionedClassifier(max_epochs=2, **FAST)
    fitted = fit_or_resume(est, X, y, path)
    assert fitted is est and est.callbacks is None
    loaded = load_checkpoint(path, HypothesisConditionedClassifier(**FAST))
    assert loaded.callbacks is None and loaded.max_epochs == 2
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("how", ["pickle", "torch.save", "old-format", "json"])
def test_a_planted_checkpoint_runs_nothing_and_is_refused(data, tmp_path, how, planted):
    import pickle

    import torch

    X, y = data
    marker, code = planted
    path = tmp_path / "m.ckpt"
    if how == "pickle":
        path.write_bytes(pickle.dumps({"format": 2, "estimator": code()}))
    elif how == "torch.save":  # torch's zip format with a code-running pickle inside
        torch.save({"kind": "x", "estimator": code()}, path)
    elif how == "old-format":  # a checkpoint of 0.1 (the whole estimator pickled)
        est = HypothesisConditionedClassifier(max_epochs=1, **FAST).fit(X, y)
        path.write_bytes(pickle.dumps({"format": 1, "estimator": est}))
    else:  # a valid torch file of plain data, but not a checkpoint
        torch.save({"weights": torch.zeros(3)}, path)
    est = HypothesisConditionedClassifier(max_epochs=2, **FAST)
    message = "not a readable training checkpoint|not a training checkpoint"
    with pytest.raises(ValueError, match=message) as info:
        fit_or_resume(est, X, y, path)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match=message):
        load_checkpoint(path, est)
    assert not marker.exists()


def test_a_checkpoint_is_plain_tensors_and_json(data, tmp_path):
    import torch

    X, y = data
    path = tmp_path / "m.ckpt"
    fit_or_resume(HypothesisConditionedClassifier(max_epochs=1, **FAST), X, y, path)
    state = torch.load(path, weights_only=True)  # raises on anything but data
    assert state["kind"] == "sk_guessfirst training checkpoint"
    assert set(state["torch"]) == {"modules", "criteria", "optimizers"}


def test_loading_into_other_parameters_is_refused(data, tmp_path):
    X, y = data
    path = tmp_path / "m.ckpt"
    fit_or_resume(HypothesisConditionedClassifier(max_epochs=1, **FAST), X, y, path)
    other = HypothesisConditionedClassifier(**{**FAST, "module__hidden_units": (8, 8)})
    with pytest.raises(ValueError, match="module__hidden_units"):
        load_checkpoint(path, other)
    labels = np.array(["a", "b", "c"])[y]  # string classes survive as JSON
    fit_or_resume(HypothesisConditionedClassifier(max_epochs=1, **FAST), X, labels,
                  tmp_path / "s.ckpt")  # fmt: skip
    back = load_checkpoint(tmp_path / "s.ckpt", HypothesisConditionedClassifier(**FAST))
    assert back.classes_.tolist() == ["a", "b", "c"]
    assert set(back.predict(X)) <= {"a", "b", "c"}
