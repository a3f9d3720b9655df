"""What the attacker is handed (attacked/_function.py's views)."""

import copy

import numpy as np
import pytest
import torch
from budgets import FAST

from sk_guessfirst import (
    HypothesisConditionedClassifier,
)
from sk_guessfirst.adversarial import (
    VIEWS,
    attacked_function,
)


@pytest.fixture(scope="module")
def js3(digits):
    """A JS hypothesis model (3 epochs), one for every view."""
    X, y, _, _ = digits
    js = HypothesisConditionedClassifier(objective="js", max_epochs=3, **FAST)
    return js.fit(X, y)


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_attacker_views(digits, js3, view):
    _, _, Xt, _ = digits
    js = js3
    scores = torch.as_tensor(js.decision_function(Xt[:5]), dtype=torch.float32)
    fn = attacked_function(js, view=view)
    out = fn(torch.as_tensor(Xt[:5].reshape(5, 1, 8, 8), dtype=torch.float32))
    if view == "noise-averaged":  # random: log-probabilities near the scores'
        torch.testing.assert_close(out.exp().sum(1), torch.ones(5), rtol=1e-4, atol=0)
        assert (out.argmax(1) == scores.argmax(1)).float().mean() >= 0.8
        return
    assert (scores < 0).any()  # what the log-outputs view must not clamp
    expected = {
        "scores": scores,
        "bpda": scores,  # values unchanged, only gradients appear
        "activated": np.log(2) - torch.nn.functional.softplus(-scores),
        "sigmoid": torch.sigmoid(scores),
        "clipped-log-proba": torch.log(
            torch.as_tensor(js.predict_proba(Xt[:5]), dtype=torch.float32).clamp(1e-7)
        ),
        # JS scores are not probabilities (some are negative): handed over as
        # they are, never clamped to a constant
        "log-outputs": scores,
        "probabilities": torch.as_tensor(js.predict_proba(Xt[:5]), dtype=torch.float32),
    }[view]
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


def test_the_log_outputs_view_takes_the_log_of_probabilities_only(digits, js3):
    """On a softmax output it is the log-softmax (the logits up to a constant),
    in float64 where float32 saturates; on a randomised model's EOT output
    (log-probabilities, all negative) it keeps the gradient the log of a
    clamped negative number would zero."""
    _, _, Xt, _ = digits
    x = torch.as_tensor(Xt[:5].reshape(5, 1, 8, 8), dtype=torch.float32)
    net = js3.module_

    class Wrap(torch.nn.Module):  # the net as a submodule: float64 copies convert it
        def __init__(self):
            super().__init__()
            self.net = copy.deepcopy(net)

    class Softmax(Wrap):
        def forward(self, x):
            return torch.softmax(50 * self.net(x), -1)  # saturates in float32

    from sk_guessfirst.adversarial import TorchClassifier

    model = TorchClassifier(Softmax().eval(), input_shape=(1, 8, 8))
    out = attacked_function(model, view="log-outputs")(x)
    with torch.no_grad():
        proba = torch.softmax(50 * copy.deepcopy(net).double()(x.double()), -1)
        expected = torch.log(proba.clamp_min(torch.finfo(torch.float64).tiny)).float()
    assert (proba.float() == 0).any()  # float32 would saturate: log(0)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)

    class Dropout(Wrap):
        def forward(self, x):
            return self.net(torch.nn.functional.dropout(x, 0.3, training=True))

    noisy = TorchClassifier(Dropout().eval(), input_shape=(1, 8, 8))
    fn = attacked_function(noisy, view="log-outputs", eot_samples=4)
    x.requires_grad_(True)
    fn(x)[:, 0].sum().backward()
    assert x.grad.abs().sum() > 0
