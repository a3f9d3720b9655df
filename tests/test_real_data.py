"""Every objective, with and without IE, learns real data (small sizes, CPU).

6,000 training / 2,000 test images, 8 epochs at batch 100 (480 steps), the
same budget for every objective. The IE weight 0.01 is the largest of
{0.1, 0.01, 0.001} at which training at this budget is unharmed (0.1 collapses
the representation: docs, user guide).
"""

import pytest

from sk_guessfirst import OBJECTIVES, CNNClassifier, HypothesisConditionedClassifier

BUDGET = dict(max_epochs=8, batch_size=100, random_state=0, device="cpu")
IE_LAMBDA = 0.01

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def one_thread():
    """Trained accuracy depends on torch's thread count (float reductions):
    hellinger with IE measured 0.9595 on 1 thread, 0.9485 on 2, each exactly
    repeatable. One thread makes the asserted number the same on every machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


RKL_DIVERGES = pytest.mark.xfail(
    strict=True,
    reason="reverse KL(P||Q) = KL(Q||P) is infinite when labels are deterministic "
    "(p(x, k) = 0 where Q = p(x)u(k) > 0), so its bound is unbounded and training "
    "diverges: measured 65%/40%/40% test accuracy at 5/10/20 epochs (docs)",
)
OBJECTIVE_CASES = [
    pytest.param(o, marks=RKL_DIVERGES) if o == "rkl" else o for o in OBJECTIVES
]


@pytest.mark.parametrize("ie_lambda", [0.0, IE_LAMBDA], ids=["plain", "ie"])
@pytest.mark.parametrize("objective", OBJECTIVE_CASES)
def test_mnist_every_objective(mnist_small, objective, ie_lambda):
    X, y, Xt, yt = mnist_small
    clf = HypothesisConditionedClassifier(
        objective=objective, ie_lambda=ie_lambda, **BUDGET
    )
    accuracy = clf.fit(X, y).score(Xt, yt)
    assert accuracy >= 0.95, f"{objective} ie_lambda={ie_lambda}: {accuracy:.4f}"


@pytest.mark.parametrize("objective, ie_lambda", [("dv", 0.0), ("js", IE_LAMBDA)])
def test_fashion_mnist(fashion_small, objective, ie_lambda):
    X, y, Xt, yt = fashion_small
    clf = HypothesisConditionedClassifier(
        objective=objective, ie_lambda=ie_lambda, **BUDGET
    )
    assert clf.fit(X, y).score(Xt, yt) >= 0.80


def test_cnn_baseline_mnist(mnist_small):
    X, y, Xt, yt = mnist_small
    assert CNNClassifier(**BUDGET).fit(X, y).score(Xt, yt) >= 0.95
