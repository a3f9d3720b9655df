"""Estimator behaviour: API, bad input, persistence, determinism, devices."""

import os
import pickle
import signal
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV

from sk_guessfirst import (
    CNNClassifier,
    HypothesisConditionedClassifier,
    LeNet5Classifier,
    VIBClassifier,
)

FAST = dict(
    max_epochs=3,
    batch_size=32,
    random_state=0,
    device="cpu",
    module__hidden_units=(32, 32, 16),
)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=120, centers=3, n_features=6, random_state=0)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return HypothesisConditionedClassifier(ie_lambda=0.01, **FAST).fit(X, y)


def test_outputs_and_attributes(fitted, blobs):
    X, y = blobs
    proba = fitted.predict_proba(X)
    assert proba.shape == (120, 3)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-6)
    assert fitted.decision_function(X).shape == (120, 3)
    assert np.array_equal(fitted.predict(X), fitted.classes_[proba.argmax(1)])
    assert fitted.n_features_in_ == 6 and fitted.input_shape_ == (6,)
    assert fitted.input_kind_ == "mlp"
    assert fitted.score(X, y) > 0.9  # three well-separated blobs


def test_history_records_objective_and_ie_per_batch(fitted):
    batch = fitted.history[-1, "batches", 0]
    assert {"objective", "ie", "train_loss"} <= set(batch)
    # 120 samples at batch 32: three full batches, the incomplete one dropped
    assert len(fitted.history[-1, "batches"]) == 3
    assert all(b["train_batch_size"] == 32 for b in fitted.history[-1, "batches"])


def test_small_data_uses_one_batch_of_n():
    X, y = make_blobs(n_samples=20, centers=2, random_state=0)
    clf = CNNClassifier(max_epochs=1, batch_size=250, device="cpu").fit(X, y)
    assert clf.history[-1, "batches", 0]["train_batch_size"] == 20


def test_string_labels_and_binary_decision_function():
    X, y = make_blobs(n_samples=80, centers=2, random_state=1)
    labels = np.array(["cat", "dog"])[y]
    clf = HypothesisConditionedClassifier(objective="js", **FAST).fit(X, labels)
    assert clf.classes_.tolist() == ["cat", "dog"]
    assert set(clf.predict(X)) <= {"cat", "dog"}
    d = clf.decision_function(X)
    assert d.shape == (80,)
    assert np.array_equal(clf.predict(X) == "dog", d > 0)


def test_image_inputs_in_every_layout(blobs):
    rng = np.random.RandomState(0)
    X = rng.rand(40, 64).astype(np.float32)
    y = np.arange(40) % 2
    flat = CNNClassifier(
        input_shape=(1, 8, 8), **{**FAST, "module__hidden_units": (16,)}
    ).fit(X, y)
    assert flat.input_shape_ == (1, 8, 8) and flat.input_kind_ == "small"
    for layout in (X.reshape(40, 8, 8), X.reshape(40, 1, 8, 8)):
        est = clone(flat).fit(layout, y)
        assert est.input_shape_ == (1, 8, 8)
        np.testing.assert_allclose(
            est.predict_proba(layout), flat.predict_proba(X), rtol=1e-5
        )
        np.testing.assert_allclose(
            est.predict_proba(X), flat.predict_proba(X), rtol=1e-5
        )
    with pytest.raises(ValueError, match="shape"):
        est.predict(X.reshape(40, 4, 16))


def test_explicit_input_shape_must_match():
    X, y = make_blobs(n_samples=30, n_features=12, random_state=0)
    with pytest.raises(ValueError, match="input_shape"):
        CNNClassifier(input_shape=(1, 5, 5), **FAST).fit(X, y)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(objective="bogus"), "'objective' parameter"),
        (dict(ie_lambda=-0.1), "'ie_lambda' parameter"),
        (dict(ie_lambda=float("nan")), "'ie_lambda' parameter"),
        (dict(ie_lambda=float("inf")), "'ie_lambda' parameter .* finite"),
        (dict(sigma=-1.0), "'sigma' parameter"),
        (dict(sigma="mean"), "'sigma' parameter"),
        (dict(sigma=0), "'sigma' parameter"),
        (dict(lr=0), "'lr' parameter"),
        (dict(batch_size=0), "'batch_size' parameter"),
        (dict(max_epochs=-1), "'max_epochs' parameter"),
        (dict(max_epochs=0), "'max_epochs' parameter"),  # an untrained net
        (dict(hypothesis_chunk_size=0), "'hypothesis_chunk_size' parameter"),
        (dict(class_weight="equal"), "'class_weight' parameter"),
        (dict(predict_nonlinearity="softmax"), "'predict_nonlinearity' parameter"),
        (dict(device="tpu"), "device must be"),
        (dict(device="cuda:7"), "device='cuda:7'.*CUDA device"),
    ],
)
def test_bad_parameters_raise_in_fit(blobs, params, message):
    X, y = blobs
    clf = HypothesisConditionedClassifier(
        **{**FAST, **params}
    )  # constructing never raises
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y)


def test_bad_data(blobs, fitted):
    X, y = blobs
    clf = HypothesisConditionedClassifier(**FAST)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X_nan, y)
    with pytest.raises(ValueError, match="infinity"):
        clf.fit(X_inf, y)
    with pytest.raises(ValueError, match="one class"):
        clf.fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="continuous"):
        clf.fit(X, np.linspace(0, 1, len(y)))
    with pytest.raises(ValueError, match="0 sample"):
        clf.fit(X[:0], y[:0])
    with pytest.raises(TypeError, match="toarray"):
        clf.fit(sp.csr_matrix(X), y)
    with pytest.raises(TypeError, match="sample_weight"):
        clf.fit(X, y, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="X has 5 features, but"):
        fitted.predict(X[:, :5])
    with pytest.raises(NotFittedError):
        HypothesisConditionedClassifier().predict(X)


def test_non_finite_loss_names_objective_and_epoch():
    X, y = make_blobs(n_samples=64, random_state=0)
    clf = HypothesisConditionedClassifier(objective="kl", **FAST)
    with pytest.raises(FloatingPointError, match=r"objective 'kl'.*epoch 1"):
        clf.fit(X * 1e30, y)


@pytest.mark.parametrize(
    "Est",
    [HypothesisConditionedClassifier, CNNClassifier, VIBClassifier, LeNet5Classifier],
)
def test_pickle_and_joblib_roundtrip(Est, blobs, tmp_path):
    X, y = blobs
    params = (
        FAST if Est is not LeNet5Classifier else {**FAST, "module__hidden_units": (8,)}
    )
    if Est is VIBClassifier:
        params = {k: v for k, v in FAST.items() if k != "module__hidden_units"}
    est = Est(**params).fit(X, y)
    expected = est.predict_proba(X)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(est)).predict_proba(X), expected
    )
    joblib.dump(est, tmp_path / "m.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "m.joblib").predict_proba(X), expected
    )


def test_same_random_state_same_predictions(blobs):
    X, y = blobs
    a = (
        HypothesisConditionedClassifier(ie_lambda=0.01, **FAST)
        .fit(X, y)
        .predict_proba(X)
    )
    b = (
        HypothesisConditionedClassifier(ie_lambda=0.01, **FAST)
        .fit(X, y)
        .predict_proba(X)
    )
    c = (
        HypothesisConditionedClassifier(ie_lambda=0.01, **{**FAST, "random_state": 1})
        .fit(X, y)
        .predict_proba(X)
    )
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_global_torch_rng_is_left_alone(blobs):
    import torch

    X, y = blobs
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    HypothesisConditionedClassifier(**FAST).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_partial_fit_continues_and_accepts_classes(blobs):
    X, y = blobs
    clf = HypothesisConditionedClassifier(**{**FAST, "max_epochs": 1})
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert clf.classes_.tolist() == [0, 1, 2]
    before = clf.module_.out.weight.detach().clone()
    clf.partial_fit(X, y)
    assert len(clf.history) == 2
    assert not np.allclose(before.numpy(), clf.module_.out.weight.detach().numpy())
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X, y + 10)


def test_warm_start_keeps_weights(blobs):
    X, y = blobs
    clf = CNNClassifier(**{**FAST, "warm_start": True, "max_epochs": 1}).fit(X, y)
    first = clf.module_.out.weight.detach().clone()
    clf.fit(X, y)
    assert len(clf.history) == 2
    # continued from epoch 1's weights: equal to two epochs at once
    two = CNNClassifier(**{**FAST, "max_epochs": 2}).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), two.predict_proba(X))
    assert not np.allclose(first.numpy(), clf.module_.out.weight.detach().numpy())


def test_device_auto_resolves_and_param_is_kept(blobs):
    import torch

    X, y = blobs
    clf = HypothesisConditionedClassifier(**{**FAST, "device": "auto"}).fit(X, y)
    assert clf.device == "auto"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(clf.module_.parameters()).device.type == expected
    assert pickle.loads(pickle.dumps(clf)).device == "auto"


def test_cuda_trained_model_maps_to_cpu(blobs):
    """A net saved with device='cuda' loads on a machine without CUDA.

    This exercises the map-to-CPU path of unpickling; the device tool checks
    the real GPU round trip when a GPU is lent (see docs).
    """
    import torch

    if torch.cuda.is_available():
        pytest.skip(
            "this machine has CUDA; the GPU round trip is checked on the device"
        )
    X, y = blobs
    clf = CNNClassifier(**FAST).fit(X, y)
    expected = clf.predict_proba(X)
    clf.device = "cuda"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = pickle.loads(pickle.dumps(clf))
    assert any("CUDA" in str(w.message) for w in caught)
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)


def test_grid_search_routes_parameters(blobs):
    X, y = blobs
    grid = GridSearchCV(
        HypothesisConditionedClassifier(**{**FAST, "max_epochs": 1}),
        {
            "ie_lambda": [0.0, 0.01],
            "sigma": ["median", 1.0],
            "module__hidden_units": [(16, 16, 8)],
        },
        cv=2,
    ).fit(X, y)
    assert grid.best_estimator_.module_.inject.out_features == 16
    assert set(grid.cv_results_["param_sigma"]) == {"median", 1.0}


def test_vib_prediction_modes(blobs):
    X, y = blobs
    params = {k: v for k, v in FAST.items() if k != "module__hidden_units"}
    vib = VIBClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(vib.predict_proba(X), vib.predict_proba(X))
    vib.set_params(n_predict_samples=12)  # read at prediction, no refit
    sampled = vib.predict_proba(X)
    assert not np.allclose(
        sampled, vib.set_params(n_predict_samples=0).predict_proba(X)
    )
    np.testing.assert_allclose(sampled.sum(1), 1, rtol=1e-5)
    assert vib.history[-1, "batches", 0]["kl"] >= 0


def test_ie_gradient_reaches_only_regularised_layers():
    """One training step = objective gradient everywhere + lambda * IE gradient
    on the injection-to-Z layers only, computed against autograd by hand."""
    import torch

    from sk_guessfirst.objectives import objective_loss
    from sk_guessfirst.regularizers import class_mmd

    rng = np.random.RandomState(0)
    X, y = rng.rand(48, 8, 8).astype(np.float32), np.arange(48) % 3
    lam = 0.5
    clf = HypothesisConditionedClassifier(
        ie_lambda=lam, sigma=1.0, **{**FAST, "max_epochs": 1}
    ).fit(X, y)
    m = clf.module_.train()
    xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    params = dict(m.named_parameters())
    regularised = {
        n for n, p in params.items() if any(p is q for q in m.regularized_parameters())
    }
    # the reference: both gradients by hand (BatchNorm in train mode is deterministic)
    scores, z = m.forward_train(xt)
    objective = objective_loss(scores, yt, "dv")
    ie = class_mmd(z.transpose(0, 1), yt, 1.0).sum()
    g_obj = torch.autograd.grad(objective, list(params.values()), retain_graph=True)
    g_ie = torch.autograd.grad(ie, list(params.values()), allow_unused=True)
    # the IE term does depend on the trunk: routing is what keeps it out
    trunk_ie = [
        g for n, g in zip(params, g_ie) if n.startswith("trunk") and g is not None
    ]
    assert trunk_ie and any(float(g.abs().sum()) > 0 for g in trunk_ie)

    m.zero_grad()
    clf.history.new_epoch()
    clf.history.new_batch()
    clf.train_step_single((xt, yt))
    for (name, p), go, gi in zip(params.items(), g_obj, g_ie):
        expected = go + lam * gi if name in regularised else go
        torch.testing.assert_close(p.grad, expected, msg=name)


@pytest.mark.parametrize(
    "Est",
    [HypothesisConditionedClassifier, CNNClassifier, VIBClassifier, LeNet5Classifier],
)
@pytest.mark.usefixtures("real_ctrl_c")
def test_keyboard_interrupt_propagates(Est, blobs):
    """skorch swallows Ctrl-C and returns a cut-short model; ours must not."""
    from skorch.callbacks import Callback

    class CtrlC(Callback):  # a real SIGINT: raising KeyboardInterrupt from a
        # callback is how skorch's EarlyStopping stops, and must not propagate
        def on_batch_end(self, net, **kwargs):
            if len(net.history) >= 2:
                os.kill(os.getpid(), signal.SIGINT)

    X, y = blobs
    params = {k: v for k, v in FAST.items() if k != "module__hidden_units"}
    est = Est(**{**params, "max_epochs": 4}, callbacks=[CtrlC()])
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    assert len(est.history) == 2  # stopped in the second epoch
    with pytest.raises(KeyboardInterrupt):
        est.partial_fit(X, y)


@pytest.mark.parametrize("ie_lambda", [0.0, 0.01])
def test_partial_fit_continues_the_training_stream_exactly(blobs, ie_lambda):
    """fit(n) == fit(k) + pickle round trip + partial_fit(n - k), bit for bit."""
    X, y = blobs
    params = {**FAST, "ie_lambda": ie_lambda}
    whole = HypothesisConditionedClassifier(**{**params, "max_epochs": 5}).fit(X, y)
    part = HypothesisConditionedClassifier(**{**params, "max_epochs": 2}).fit(X, y)
    part = pickle.loads(pickle.dumps(part))
    part.set_params(max_epochs=3).partial_fit(X, y)
    assert len(part.history) == 5
    for a, b in zip(
        whole.module_.state_dict().values(), part.module_.state_dict().values()
    ):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert whole.history[:, "train_loss"] == part.history[:, "train_loss"]
    # a continuation is not a restart: re-seeding would replay epoch 1's batches
    restart = HypothesisConditionedClassifier(**{**params, "max_epochs": 2}).fit(X, y)
    restart.set_params(max_epochs=3)
    restart.rng_state_ = None
    restart.partial_fit(X, y)
    assert not np.array_equal(restart.predict_proba(X), whole.predict_proba(X))


def test_vib_sampled_prediction_is_reproducible(blobs):
    X, y = blobs
    params = {k: v for k, v in FAST.items() if k != "module__hidden_units"}
    vib = VIBClassifier(n_predict_samples=3, **params).fit(X, y)
    first = vib.predict_proba(X)
    np.testing.assert_array_equal(vib.predict_proba(X), first)
    vib.set_params(random_state=None)
    draws = [vib.predict_proba(X) for _ in range(2)]
    assert not np.array_equal(draws[0], draws[1])


def test_prediction_reads_fitted_state_and_prediction_parameters(blobs):
    X, y = blobs
    js = HypothesisConditionedClassifier(objective="js", **FAST).fit(X, y)
    proba = js.predict_proba(X)
    js.set_params(objective="pearson")  # not refitted: probabilities unchanged
    np.testing.assert_array_equal(js.predict_proba(X), proba)
    js.set_params(hypothesis_chunk_size=1)  # a prediction-time parameter
    np.testing.assert_allclose(js.predict_proba(X), proba, rtol=1e-5, atol=1e-6)
    assert js.module_.hypothesis_chunk_size == 1


def test_image_layouts_are_said_not_guessed():
    rng = np.random.RandomState(0)
    X, y = rng.rand(40, 784).astype(np.float32), np.arange(40) % 2
    params = {**FAST, "max_epochs": 1, "module__hidden_units": (8,)}
    # flat rows of a square width (784 = 28 x 28, 64, 81, 100) are features,
    # never guessed to be images; a class named for convolutions says so
    for width in (784, 64, 81, 100):
        with pytest.warns(UserWarning, match="builds an MLP trunk"):
            flat = CNNClassifier(**params).fit(X[:, :width], y)
        assert flat.input_shape_ == (width,) and flat.input_kind_ == "mlp"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # images said: nothing to warn about
        warnings.simplefilter("ignore", ConvergenceWarning)  # random labels
        assert (
            CNNClassifier(**params).fit(X.reshape(40, 28, 28), y).input_kind_ == "paper"
        )
        said = CNNClassifier(input_shape=(1, 28, 28), **params).fit(X, y)
        assert said.input_kind_ == "paper"
    with pytest.raises(ValueError, match="channels-last"):
        CNNClassifier(**params).fit(X.reshape(40, 28, 28, 1), y)
    with pytest.raises(ValueError, match="channels-last"):
        CNNClassifier(**params).fit(np.repeat(X.reshape(40, 28, 28, 1), 3, -1), y)
    with pytest.raises(ValueError, match="2 to 4 dimensions"):
        CNNClassifier(**params).fit(X.reshape(40, 1, 1, 28, 28), y)


def test_skorch_save_and_load_params_workflow(blobs, tmp_path):
    X, y = blobs
    params = {**FAST, "input_shape": (6,), "classes": [0, 1, 2]}
    clf = HypothesisConditionedClassifier(**params).fit(X, y)
    clf.save_params(f_params=tmp_path / "params.pt")
    new = HypothesisConditionedClassifier(**{**params, "device": "auto"})
    new.initialize()
    new.load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_allclose(new.predict_proba(X), clf.predict_proba(X), rtol=1e-6)
    with pytest.raises(ValueError, match="pass input_shape=... and classes=..."):
        HypothesisConditionedClassifier().initialize()


def test_class_weight_reweights_the_joint_term():
    """On imbalanced data, "balanced" weights raise the minority's probability
    by the weight ratio (p_w(k|x) ∝ w_k p(k|x)) and its recall."""
    X, y = make_blobs(n_samples=[400, 40], centers=[[0, 0], [1.2, 1.2]], random_state=0)
    X = X.astype(np.float32)
    params = {**FAST, "max_epochs": 40, "batch_size": 64}
    plain = HypothesisConditionedClassifier(**params).fit(X, y)
    balanced = HypothesisConditionedClassifier(class_weight="balanced", **params).fit(
        X, y
    )
    np.testing.assert_allclose(balanced.class_weight_, [440 / 800, 440 / 80])
    assert plain.class_weight_ is None
    minority = y == 1
    recall = [(m.predict(X)[minority] == 1).mean() for m in (plain, balanced)]
    assert recall[1] > recall[0] + 0.1
    assert (
        balanced.predict_proba(X)[:, 1].mean() > 2 * plain.predict_proba(X)[:, 1].mean()
    )
    with pytest.raises(ValueError, match="not in classes_"):
        HypothesisConditionedClassifier(class_weight={5: 2.0}, **FAST).fit(X, y)


def test_train_noise_adds_seeded_gaussian_noise_to_the_training_batches_only():
    import torch
    from skorch.dataset import Dataset

    from sk_guessfirst.datasets import load_dataset

    X, y = load_dataset("digits")
    X, y = X[:300], y[:300]
    fit = dict(max_epochs=2, batch_size=100, random_state=0, device="cpu")
    noisy = CNNClassifier(train_noise=0.3, **fit).fit(X, y)
    torch.manual_seed(0)
    batches = list(noisy.get_iterator(Dataset(X, y), training=True))
    # the batches are shuffled: compare sums of squares, which shuffling keeps
    # (E (x + e)^2 - x^2 = sigma^2 per feature)
    excess = (torch.cat([b[0] for b in batches]) ** 2).sum() - (X**2).sum()
    assert float(excess) / X.size == pytest.approx(0.3**2, rel=0.05)
    (Xv, _), *_ = noisy.get_iterator(Dataset(X, y), training=False)
    assert torch.equal(Xv, torch.as_tensor(X[: len(Xv)]))  # evaluation: the data
    # seeded: the same noise again; and the noise changes the model
    again = CNNClassifier(train_noise=0.3, **fit).fit(X, y)
    plain = CNNClassifier(**fit).fit(X, y)
    assert np.array_equal(noisy.decision_function(X), again.decision_function(X))
    assert not np.array_equal(noisy.decision_function(X), plain.decision_function(X))
    with pytest.raises(ValueError, match="train_noise"):
        CNNClassifier(train_noise=-0.1, max_epochs=1).fit(X, y)


def test_set_params_stores_a_bad_device_and_fit_refuses_it(blobs):
    """Validation belongs in fit: set_params never raises for a value (and so
    never leaves a half-applied change behind), fit names the parameter."""
    X, y = blobs
    clf = HypothesisConditionedClassifier(**FAST)
    assert clf.set_params(device=-1) is clf and clf.device == -1
    # with other parameters at once (check_estimator's fuzz: it raised, with
    # the bad device already stored)
    assert clf.set_params(device=-np.inf, lr=0.5).device == -np.inf
    with pytest.raises(ValueError, match="'device' parameter"):
        clf.fit(X, y)


def test_a_fitted_net_refuses_a_bad_device_before_changing_anything(blobs):
    """A fitted net re-initialises its module on the device when other
    parameters change: a bad device is refused first, nothing changed."""
    X, y = blobs
    clf = HypothesisConditionedClassifier(**FAST).fit(X, y)
    before = clf.get_params(deep=False)
    with pytest.raises(ValueError, match="device must be"):
        clf.set_params(device="nonsense", module__hidden_units=(8,))
    after = clf.get_params(deep=False)
    assert all(after[k] is v for k, v in before.items())
    assert clf.predict(X).shape == (len(X),)  # still the fitted net


def test_a_dataframe_fit_warns_nothing_about_feature_names(blobs):
    pd = pytest.importorskip("pandas")
    X, y = blobs
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        clf = HypothesisConditionedClassifier(**FAST).fit(df, y)  # the chance
        # check reads the validated X itself
        clf.predict(df)
    assert list(clf.feature_names_in_) == list(df.columns)
    with pytest.warns(UserWarning, match="valid feature names"):
        clf.predict(X)  # sklearn's own warning stays where it is true


@pytest.mark.parametrize("Est", [CNNClassifier, LeNet5Classifier])
def test_a_convolutional_class_warns_on_flat_rows(Est):
    from sk_guessfirst.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    flat = X.reshape(len(X), -1)[:200]
    with pytest.warns(UserWarning, match=r"MLP trunk.*input_shape=\(1, 8, 8\)"):
        clf = Est(max_epochs=1, device="cpu").fit(flat, y[:200])
    assert clf.input_kind_ == "mlp"
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*MLP trunk")  # images said
        Est(max_epochs=1, device="cpu", input_shape=(1, 8, 8)).fit(flat, y[:200])
        HypothesisConditionedClassifier(max_epochs=1, device="cpu").fit(flat, y[:200])


def test_compile_on_the_cpu_warns_of_its_fixed_cost(blobs, monkeypatch):
    import torch

    X, y = blobs
    # skorch compiles through torch.compile: stand it in, the warning is the
    # package's and comes first (a real compile costs 20-40 s here)
    monkeypatch.setattr(torch, "compile", lambda module, **kwargs: module)
    with pytest.warns(UserWarning, match="compile=True on the CPU.*pays off only"):
        HypothesisConditionedClassifier(**FAST, compile=True).fit(X, y)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="compile=True")
        HypothesisConditionedClassifier(**FAST).fit(X, y)
