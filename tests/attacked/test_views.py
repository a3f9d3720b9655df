"""What the attacker is handed (attacked/_function.py's views)."""

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
    tiny = torch.finfo(torch.float64).tiny
    expected = {
        "scores": scores,
        "bpda": scores,  # values unchanged, only gradients appear
        "activated": np.log(2) - torch.nn.functional.softplus(-scores),
        "sigmoid": torch.sigmoid(scores),
        "clipped-log-proba": torch.log(
            torch.as_tensor(js.predict_proba(Xt[:5]), dtype=torch.float32).clamp(1e-7)
        ),
        "log-outputs": torch.log(scores.double().clamp_min(tiny)).float(),
        "probabilities": torch.as_tensor(js.predict_proba(Xt[:5]), dtype=torch.float32),
    }[view]
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
