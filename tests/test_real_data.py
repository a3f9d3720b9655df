"""Every objective, with and without IE, learns real data (small sizes, CPU).

The paper's four hypothesis models (C-DV, C-JS, with and without IE) and its
CNN baseline learn MNIST: 6,000 training / 2,000 test images, 8 epochs at
batch 100 (480 steps). Every other objective of the registry, each with and
without IE, learns the embedded digits (1,257 training / 540 test 8x8 images,
10 epochs at batch 100): a claim about the objectives, not about MNIST, so it
is tested on the small real data set (measured: 98.0% - 98.9% at 10 epochs,
with and without IE). The bar is 95% test accuracy on both.
Reverse KL stays on MNIST, where its documented divergence was measured (on
the digits its accuracy swings between 30% and 97% from epoch to epoch). The
IE weight 0.01 is the largest of {0.1, 0.01, 0.001} at which training at the
MNIST budget is unharmed (0.1 collapses the representation: docs, user guide).
"""

import pytest
from budgets import FAST, MNIST_BUDGET, one_torch_thread

from sk_guessfirst import OBJECTIVES, HypothesisConditionedClassifier

DIGITS_BUDGET = dict(max_epochs=10, **FAST)
IE_LAMBDA = 0.01

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def one_thread():
    with one_torch_thread():
        yield


RKL_DIVERGES = pytest.mark.xfail(
    strict=True,
    reason="reverse KL(P||Q) = KL(Q||P) is infinite when labels are deterministic "
    "(p(x, k) = 0 where Q = p(x)u(k) > 0), so its bound is unbounded and training "
    "diverges: measured 65%/40%/40% test accuracy at 5/10/20 epochs (docs)",
)
MNIST_OBJECTIVES = ("dv", "js", pytest.param("rkl", marks=RKL_DIVERGES))
DIGITS_OBJECTIVES = [o for o in OBJECTIVES if o not in ("dv", "js", "rkl")]
IE_CASES = pytest.mark.parametrize("ie_lambda", [0.0, IE_LAMBDA], ids=["plain", "ie"])


@pytest.fixture(scope="module")
def digits_images():
    from sk_guessfirst.datasets import load_dataset

    X, y = load_dataset("digits", images=True)
    Xt, yt = load_dataset("digits", subset="test", images=True)
    return X, y, Xt, yt


def _test_accuracy(data, budget, objective, ie_lambda):
    """Test accuracy of a hypothesis model trained on ``data`` (X, y, Xt, yt)."""
    X, y, Xt, yt = data
    clf = HypothesisConditionedClassifier(
        objective=objective, ie_lambda=ie_lambda, **budget
    )
    return clf.fit(X, y).score(Xt, yt)


@IE_CASES
@pytest.mark.parametrize("objective", DIGITS_OBJECTIVES)
def test_digits_every_other_objective(digits_images, objective, ie_lambda):
    accuracy = _test_accuracy(digits_images, DIGITS_BUDGET, objective, ie_lambda)
    assert accuracy >= 0.95, f"{objective} ie_lambda={ie_lambda}: {accuracy:.4f}"


@IE_CASES
@pytest.mark.parametrize("objective", MNIST_OBJECTIVES)
def test_mnist_the_papers_objectives_and_rkl(mnist_small, objective, ie_lambda):
    accuracy = _test_accuracy(mnist_small, MNIST_BUDGET, objective, ie_lambda)
    assert accuracy >= 0.95, f"{objective} ie_lambda={ie_lambda}: {accuracy:.4f}"


@pytest.mark.parametrize("objective, ie_lambda", [("dv", 0.0), ("js", IE_LAMBDA)])
def test_fashion_mnist(fashion_small, objective, ie_lambda):
    assert _test_accuracy(fashion_small, MNIST_BUDGET, objective, ie_lambda) >= 0.80


@pytest.mark.xdist_group("mnist_cnn")  # shares its model with test_evaluate
def test_cnn_baseline_mnist(mnist_small, mnist_cnn):
    _, _, Xt, yt = mnist_small
    assert mnist_cnn.score(Xt, yt) >= 0.95
