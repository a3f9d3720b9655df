"""Information measures: against scikit-learn's estimator and Gaussian mixtures."""

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm
from sklearn.feature_selection import mutual_info_classif

from sk_guessfirst import CNNClassifier, HypothesisConditionedClassifier, VIBClassifier
from sk_guessfirst.datasets import load_dataset
from sk_guessfirst.information import (
    InformationMeasures,
    information_measures,
    knn_mutual_information,
    probe_mutual_information,
    representation,
)


def _mixture_mi(delta):
    """I(Z; Y) of Y uniform on {0, 1}, Z | Y ~ N(+-delta/2, 1) (1-D): H(Y) - H(Y|Z)
    by quadrature (no closed form in elementary functions)."""

    def integrand(z):
        a, b = norm.pdf(z, -delta / 2), norm.pdf(z, delta / 2)
        p = a / (a + b)
        h = -sum(q * np.log(q) for q in (p, 1 - p) if q > 0)
        return 0.5 * (a + b) * h

    return np.log(2) - integrate.quad(integrand, -20, 20)[0]


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
    truth = _mixture_mi(delta)  # 0, 0.1107, 0.3408, 0.5997 nats
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
