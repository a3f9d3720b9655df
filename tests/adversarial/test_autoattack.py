"""AutoAttack's reference code (adversarial/_autoattack.py)."""

import numpy as np
import pytest
import torch
from budgets import FAST, LIGHT_AA

from sk_guessfirst import (
    VIBClassifier,
)
from sk_guessfirst.adversarial import (
    attacked_function,
    evaluate_attack,
)


@pytest.mark.slow
def test_autoattack_equals_a_direct_call_of_the_reference(hcc, digits):
    from pyautoattack import AutoAttack

    _, _, Xt, yt = digits
    X, y = Xt[:20], yt[:20]  # equality is per image: 20 show it as 40 do
    ours = evaluate_attack(hcc, X, y, attack="autoattack", eps=0.1, seed=7, **LIGHT_AA)
    reference = AutoAttack(
        attacked_function(hcc), eps=0.1, seed=7, version="standard", device="cpu"
    )
    reference.square.n_queries = LIGHT_AA["n_queries"]
    x = torch.as_tensor(X.reshape(-1, 1, 8, 8))
    x_adv, _ = reference.run_standard_evaluation(x, torch.as_tensor(y))
    robust = hcc.predict(x_adv.reshape(len(X), -1).numpy()) == y
    np.testing.assert_array_equal(ours.worst, robust & (hcc.predict(X) == y))
    assert set(ours.details["accuracy_after"]) == {
        "apgd-ce",
        "apgd-t",
        "fab-t",
        "square",
    }
    assert 0 < ours.accuracy < hcc.score(X, y)  # some survive, some do not


def test_autoattack_flags_are_collected(digits):
    X, y, Xt, yt = digits
    vib = VIBClassifier(max_epochs=5, **FAST).fit(X, y)
    plain = evaluate_attack(vib, Xt[:20], yt[:20], attack="apgd-ce", eps=0.05)
    assert plain.flags == []  # the mean encoder is deterministic
    eot = evaluate_attack(
        vib, Xt[:20], yt[:20], attack="apgd-ce", eps=0.05, eot_samples=4
    )
    assert any("randomized defense" in flag for flag in eot.flags)
