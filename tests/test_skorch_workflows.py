"""What skorch and ART users do out of habit works with the package's estimators:
early stopping inside a grid search, scoring callbacks, Dataset input, skorch's
Checkpoint, set_params(module__...) after fit, torch.device, ART attacks and
defences through to_art, and a collapse that warns."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Checkpoint, EarlyStopping, EpochScoring
from skorch.dataset import Dataset, ValidSplit
from torch.utils.data import TensorDataset

from sk_guessfirst import CNNClassifier, HypothesisConditionedClassifier
from sk_guessfirst.datasets import load_digits

FAST = dict(input_shape=(64,), device="cpu", random_state=0, batch_size=64)
SPLIT = dict(train_split=ValidSplit(0.2, random_state=0))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600]


def test_early_stopping_returns_a_fitted_model_inside_a_grid_search(digits):
    X, y = digits
    clf = HypothesisConditionedClassifier(
        max_epochs=60, callbacks=[EarlyStopping(patience=1)], **SPLIT, **FAST
    )
    search = GridSearchCV(clf, {"lr": [1e-3, 3e-3]}, cv=2).fit(X, y)
    stopped = len(search.best_estimator_.history)
    assert stopped < 60  # stopped early, and nothing escaped the search
    assert search.best_estimator_.score(X, y) > 0.5


@pytest.mark.usefixtures("real_ctrl_c")
def test_ctrl_c_still_propagates(digits):
    import os
    import signal

    from skorch.callbacks import Callback

    class CtrlC(Callback):
        def on_epoch_end(self, net, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)  # a real signal, as a user's

    with pytest.raises(KeyboardInterrupt):
        CNNClassifier(max_epochs=5, callbacks=[CtrlC()], **FAST).fit(*digits)


def test_scoring_callbacks_see_labels_like_their_targets(digits):
    X, y = digits
    names = np.array(list("abcdefghij"))[y]  # labels that are not 0..K-1
    clf = HypothesisConditionedClassifier(
        max_epochs=6,
        callbacks=[EpochScoring("accuracy", on_train=True, name="train_acc"),
                   EpochScoring("accuracy", name="valid_acc2")],
        **SPLIT, **FAST,
    ).fit(X, names)  # fmt: skip
    # the scoring callback agrees with the package's own validation accuracy
    np.testing.assert_allclose(
        clf.history[:, "valid_acc2"], clf.history[:, "valid_acc"]
    )
    assert clf.history[-1, "train_acc"] > 0.5
    assert set(clf.predict(X)) <= set(names)  # outside fit: the labels


def test_datasets_in_fit_and_predict(digits):
    X, y = digits
    by_arrays = CNNClassifier(max_epochs=2, **FAST).fit(X, y)
    by_tensors = CNNClassifier(max_epochs=2, **FAST).fit(
        TensorDataset(torch.as_tensor(X), torch.as_tensor(y)), None
    )
    expected = by_arrays.predict_proba(X)
    np.testing.assert_array_equal(by_tensors.predict_proba(X), expected)
    np.testing.assert_array_equal(by_arrays.predict_proba(Dataset(X, y)), expected)
    np.testing.assert_array_equal(
        by_arrays.predict(TensorDataset(torch.as_tensor(X))), by_arrays.predict(X)
    )
    with pytest.raises(ValueError, match="pass y=None"):
        CNNClassifier(**FAST).fit(Dataset(X, y), y)
    with pytest.raises(ValueError, match="requires y to be passed"):
        CNNClassifier(**FAST).fit(X)


def test_fit_epochs_like_skorch(digits):
    clf = CNNClassifier(max_epochs=5, **FAST).fit(*digits, epochs=2)
    assert len(clf.history) == 2
    with pytest.raises(TypeError, match="sample_weight"):
        CNNClassifier(**FAST).fit(*digits, sample_weight=np.ones(600))


def test_skorch_checkpoint_needs_a_validation_split_and_says_so(digits, tmp_path):
    with pytest.raises(ValueError, match=r"monitors 'valid_loss_best'.*ValidSplit"):
        CNNClassifier(callbacks=[Checkpoint(dirname=tmp_path)], **FAST).fit(*digits)
    with pytest.raises(ValueError, match=r"EarlyStopping\(monitor='train_loss'\)"):
        CNNClassifier(callbacks=[EarlyStopping()], **FAST).fit(*digits)
    clf = CNNClassifier(max_epochs=2, callbacks=[Checkpoint(dirname=tmp_path)],
                        **SPLIT, **FAST).fit(*digits)  # fmt: skip
    assert (tmp_path / "params.pt").exists() and len(clf.history) == 2


def test_set_params_on_a_fitted_net_and_torch_devices(digits):
    clf = HypothesisConditionedClassifier(max_epochs=1, input_shape=(64,),
                                          random_state=0).fit(*digits)  # fmt: skip
    assert clf.device == "auto"
    clf.set_params(module__hidden_units=(32, 16))  # re-initialises the module
    assert [layer.out_features for layer in clf.module_.post] == [16]
    assert clf.device == "auto"
    on_cpu = CNNClassifier(max_epochs=1, **{**FAST, "device": torch.device("cpu")})
    assert on_cpu.fit(*digits).score(*digits) > 0


def test_art_attacks_and_defences_through_to_art(digits):
    from art.attacks.evasion import HopSkipJump
    from art.defences.preprocessor import FeatureSqueezing

    from sk_guessfirst.adversarial import to_art

    X, y = digits
    X = X.reshape(-1, 8, 8)
    clf = CNNClassifier(max_epochs=10, **{**FAST, "input_shape": None}).fit(X, y)
    art = to_art(clf)
    x = X[:4].reshape(4, 1, 8, 8)
    adv = HopSkipJump(art, max_iter=2, max_eval=50, init_eval=10,
                      verbose=False).generate(x)  # fmt: skip
    assert adv.shape == x.shape  # ART hands over float64: cast, not refused
    squeezed = to_art(clf, preprocessing_defences=[
        FeatureSqueezing(clip_values=(0.0, 1.0), bit_depth=1)])  # fmt: skip
    binary = (x > 0.5).astype(np.float32)
    np.testing.assert_allclose(squeezed.predict(x), art.predict(binary), atol=1e-5)


def test_training_that_ends_at_chance_warns_naming_ie(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="ie_lambda=50.0 with sigma='median'"):
        HypothesisConditionedClassifier(max_epochs=2, ie_lambda=50.0, lr=0.05,
                                        **FAST).fit(X, y)  # fmt: skip


class SmallConv(torch.nn.Module):
    """A user's own feature extractor, with a parameter of its own."""

    def __init__(self, channels=4):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, channels, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


@pytest.mark.parametrize("as_instance", [False, True], ids=["class", "instance"])
def test_your_own_trunk_with_ie_checkpoints_and_attacks(digits, tmp_path, as_instance):
    from sk_guessfirst.adversarial import evaluate_attack
    from sk_guessfirst.checkpoint import fit_or_resume, load_checkpoint

    X, y = digits
    X = X.reshape(-1, 8, 8)
    trunk = (
        dict(module__trunk=SmallConv(channels=6))
        if as_instance
        else dict(module__trunk=SmallConv, module__trunk__channels=6)
    )
    params = {**FAST, "input_shape": None, "ie_lambda": 0.1, **trunk}
    clf = HypothesisConditionedClassifier(max_epochs=3, **params)
    fitted = fit_or_resume(clf, X, y, tmp_path / "m.ckpt")
    assert fitted.input_kind_ == "own"
    assert fitted.module_.trunk[0].conv.out_channels == 6
    first = fitted.module_.inject.in_features
    assert first == 6  # the trunk's width, found by a dry run
    back = load_checkpoint(tmp_path / "m.ckpt",
                           HypothesisConditionedClassifier(**params))  # fmt: skip
    np.testing.assert_array_equal(back.predict_proba(X), fitted.predict_proba(X))
    result = evaluate_attack(fitted, X[:20], y[:20], attack="fgsm", eps=0.1)
    assert 0.0 <= result.accuracy <= 1.0
    with pytest.raises(TypeError, match="without a trunk"):
        HypothesisConditionedClassifier(module__trunk__channels=3, **{
            **FAST, "input_shape": None}).fit(X, y)  # fmt: skip


def test_a_module_instance_and_an_own_module_without_ie_hooks(digits):
    from sk_guessfirst.modules import CNNModule

    X, y = digits
    instance = CNNModule(input_shape=(64,), n_classes=10, hidden_units=(16,))
    clf = CNNClassifier(module=instance, max_epochs=2, **FAST).fit(X, y)
    assert clf.module_ is instance and clf.input_kind_ == "own"
    with pytest.raises(ValueError, match="module__ parameters"):
        CNNClassifier(module=instance, module__hidden_units=(8,), **FAST).fit(X, y)

    class Plain(torch.nn.Module):  # scores (B, K) only: no forward_train
        def __init__(self, input_shape, n_classes, **estimator_params):
            super().__init__()
            self.linear = torch.nn.Linear(64, n_classes)

        def forward(self, x):
            return self.linear(x)

    HypothesisConditionedClassifier(module=Plain, max_epochs=1, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="module__trunk=YourModule"):
        HypothesisConditionedClassifier(module=Plain, ie_lambda=0.1, **FAST).fit(X, y)
