"""Information measures: against scikit-learn's estimator and Gaussian mixtures."""

import numpy as np
import pytest
import torch
from scipy.stats import norm
from sklearn.feature_selection import mutual_info_classif

from sk_guessfirst import CNNClassifier, HypothesisConditionedClassifier, VIBClassifier
from sk_guessfirst._plaindata import dump, load
from sk_guessfirst.datasets import load_dataset
from sk_guessfirst.information import (
    InformationMeasures,
    InputInformation,
    gaussian_mixture_information,
    information_measures,
    input_information,
    knn_mutual_information,
    probe_mutual_information,
    representation,
    two_gaussians_label_information,
)

_mixture_mi = two_gaussians_label_information


def _mixture(n, delta, dims, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    Z = rng.standard_normal((n, dims))
    Z[:, 0] += np.where(y == 1, delta / 2, -delta / 2)  # the other dims: noise
    return Z, y


def test_knn_equals_scikit_learns_estimator_in_one_dimension():
    Z, y = _mixture(1500, 1.5, 1)
    ours = knn_mutual_information(Z, y, k=3)
    theirs = mutual_info_classif(Z, y, n_neighbors=3, random_state=0)[0]
    # the same construction; only the tie-breaking noise draws differ (1e-10)
    assert ours == pytest.approx(theirs, abs=1e-6)


@pytest.mark.parametrize("delta, dims", [(0.0, 4), (1.0, 1), (2.0, 4), (4.0, 2)])
def test_both_estimators_find_a_gaussian_mixtures_information(delta, dims):
    Z, y = _mixture(3000, delta, dims)
    truth = _mixture_mi(delta)  # 0, 0.1114, 0.3368, 0.6327 nats
    assert knn_mutual_information(Z, y) == pytest.approx(truth, abs=0.04)
    bound, accuracy = probe_mutual_information(Z, y)
    # equal covariances: the logistic probe is the Bayes classifier, so its
    # bound is tight up to sampling error
    assert bound == pytest.approx(truth, abs=0.04)
    assert accuracy == pytest.approx(norm.cdf(delta / 2), abs=0.03)


def test_the_joint_information_can_exceed_every_single_ones():
    # the rotation coupling of the issue: each Z_k alone independent of y,
    # their comparison says y (here: which of two uniforms is larger)
    rng = np.random.default_rng(0)
    n = 3000
    U = rng.uniform(size=(n, 2))
    y = (U[:, 0] > U[:, 1]).astype(int)
    for j in range(2):
        assert knn_mutual_information(U[:, j : j + 1], y) < 0.25
    bound, accuracy = probe_mutual_information(U, y)
    assert accuracy > 0.97 and bound > 0.5  # H(Y) = log 2 = 0.693


def test_a_gaussian_channels_information_and_its_bounds_in_closed_form():
    # X ~ N(0, I_d) (sampled), Z = X + N(0, s^2 I): I = d/2 log(1 + 1/s^2);
    # the pairwise bounds' population values: D = |dx|^2 / (2 s^2) (KL) or
    # / (8 s^2) (Bhattacharyya) averages to d/2 log(1 + 1/t) + d / (2 (1 + t))
    # with t = s^2 and t = 4 s^2
    rng = np.random.default_rng(0)
    for s, d in ((0.5, 1), (1.0, 3), (2.0, 2)):
        x = rng.standard_normal((3000, d))
        info = gaussian_mixture_information(x, s)

        def pairwise(t):
            return d / 2 * np.log(1 + 1 / t) + d / (2 * (1 + t))

        assert info.estimate == pytest.approx(d / 2 * np.log(1 + 1 / s**2), abs=0.03)
        assert info.stderr < 0.015
        assert info.upper == pytest.approx(pairwise(s**2), abs=0.05)
        assert info.lower == pytest.approx(pairwise(4 * s**2), abs=0.05)
        assert info.lower < info.estimate < info.upper


def test_the_mixture_bounds_at_their_extremes_and_per_point_variances():
    apart = gaussian_mixture_information([[0.0, 0.0], [50.0, 0.0], [0.0, 50.0]], 1.0)
    assert apart.lower == apart.upper == pytest.approx(np.log(3))
    assert apart.estimate == pytest.approx(np.log(3), abs=1e-9)
    same = gaussian_mixture_information(np.ones((4, 2)), [0.5, 2.0])
    assert same.lower == same.upper == 0.0 and abs(same.estimate) < 1e-9
    # per-point variances (the pairwise path) agree with the shared-variance
    # path where they barely differ, and are sound where they do
    rng = np.random.default_rng(1)
    m = rng.standard_normal((200, 3))
    shared = gaussian_mixture_information(m, 0.8)
    nudged = gaussian_mixture_information(m, 0.8 * (1 + 1e-9 * rng.random((200, 3))))
    assert nudged.lower == pytest.approx(shared.lower, abs=1e-6)
    assert nudged.upper == pytest.approx(shared.upper, abs=1e-6)
    varied = gaussian_mixture_information(m, rng.uniform(0.3, 1.5, (200, 3)))
    assert varied.lower < varied.estimate < varied.upper <= np.log(200)
    with pytest.raises(ValueError, match="stds must be finite and > 0"):
        gaussian_mixture_information(m, 0.0)
    with pytest.raises(ValueError, match="means must be 2-D"):
        gaussian_mixture_information(m[0], 1.0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_dataset("digits", images=True)
    Xt, yt = load_dataset("digits", subset="test", images=True)
    return X, y, Xt[:400], yt[:400]


def test_measures_of_a_hypothesis_model_and_a_cnn(digits):
    X, y, Xt, yt = digits
    fit = dict(max_epochs=4, batch_size=64, random_state=0, device="cpu")
    hcc = HypothesisConditionedClassifier(objective="dv", **fit).fit(X, y)
    cnn = CNNClassifier(**fit).fit(X, y)
    Z = representation(hcc, Xt)
    assert Z.shape[:2] == (len(Xt), 10) and representation(cnn, Xt).shape[1] == 1
    m = information_measures(hcc, Xt, yt)
    assert isinstance(m, InformationMeasures) and m.knn.shape == (10,)
    assert m.entropy == pytest.approx(np.log(10), abs=0.01)
    assert (m.knn <= m.entropy + 0.1).all() and (m.probe <= m.entropy).all()
    assert m.joint_probe_accuracy > 0.8  # the model classifies: Z says y
    c = information_measures(cnn, Xt, yt)
    assert c.knn.shape == (1,) and c.probe_accuracy[0] > 0.8
    # VIB: its decoder's input at the mean encoder, whatever it predicts with
    vib = VIBClassifier(
        n_predict_samples=5,
        max_epochs=1,
        **{k: v for k, v in fit.items() if k != "max_epochs"},
    ).fit(X[:300], y[:300])
    assert representation(vib, Xt[:50]).shape == (50, 1, 128)


def test_input_information_through_vibs_encoder_and_injected_noise(digits, tmp_path):
    X, y, Xt, yt = digits
    fit = dict(max_epochs=3, batch_size=64, random_state=0, device="cpu")
    # beta 1 pulls q(z|x) to the prior: a channel that keeps little of X
    vib = VIBClassifier(beta=1.0, **fit).fit(X, y)
    info = input_information(vib, Xt[:300])
    assert isinstance(info, InputInformation) and info.noise is None
    assert info.cap == pytest.approx(np.log(300))
    dump(info, tmp_path / "info.npz")  # plain data, as a run folder stores it
    again, _ = load(tmp_path / "info.npz")
    assert again.noise is None and np.array_equal(again.upper, info.upper)
    assert 0 <= info.lower[0] <= info.upper[0] <= info.cap
    # the VIB's own rate E KL(q(z|x) || N(0, I)) bounds I(X; Z) from above
    with torch.no_grad():
        x = torch.as_tensor(Xt[:300].reshape(-1, *vib.input_shape_))
        mu, sd = vib.module_.eval().encode(x)
        rate = float((0.5 * (mu**2 + sd**2 - 1 - 2 * sd.log()).sum(1)).mean())
    assert info.lower[0] <= rate
    cnn = CNNClassifier(**fit).fit(X, y)
    with pytest.raises(ValueError, match="deterministic.*noise=s"):
        input_information(cnn, Xt)
    with pytest.raises(ValueError, match="noise must be a number > 0"):
        input_information(cnn, Xt, noise=-1.0)
    # more noise, less information (data processing)
    low, high = (input_information(cnn, Xt[:300], noise=s) for s in (20.0, 2.0))
    assert low.noise == 20.0 and low.upper[0] < high.lower[0]
