"""Each check of the masking checklist (adversarial/_report.py's CHECKS), on its
own: what it passes and what it flags, from hand-made evidence (attack masks
written out) or a two-layer model where it reads the model itself."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sk_guessfirst.adversarial import AttackResult, TorchClassifier
from sk_guessfirst.adversarial._report import (
    AUTOATTACK,
    CHECKS,
    FGSM,
    PGD,
    SQUARE,
    STRONG_PGD,
    TRANSFER,
    Evidence,
    NotApplicable,
    RobustnessReport,
)
from sk_guessfirst.attacked._function import resolve_target

N = 100


def covers(name):
    """The check under test (test_every_check_has_its_test_here reads these)."""
    return CHECKS[name].run


def survive(k, n=N):
    """A mask in which the first k of n examples survive."""
    return np.arange(n) < k


def evidence(target=None, X=None, y=None, **common):
    X = np.zeros((N, 4), np.float32) if X is None else X
    y = np.zeros(len(X), int) if y is None else y
    target = target if target is None else resolve_target(target)
    return Evidence(
        target, X, y, 0.1, 0.02, (0.0, 1.0), None, {},
        {"view": "scores", "random_state": 0, **common}, RobustnessReport(eps=0.1),
        binarization_samples=0,
    )  # fmt: skip


def record(ev, attack, robust, flags=(), params=None):
    """Store ``attack``'s result: per loss, the examples that survive it."""
    if not isinstance(robust, dict):
        robust = {"ce": robust}
    n = len(next(iter(robust.values())))
    result = AttackResult(
        attack.attack, ev.eps, attack.mode, np.ones(n, bool), robust,
        params=params or {}, flags=list(flags),
    )  # fmt: skip
    ev.base[attack] = ev.results[f"{attack.label}-{len(ev.results)}"] = result
    return ev


def white(ev, k=50):
    """PGD and its strong run leave the first k examples."""
    record(ev, PGD, survive(k))
    return record(ev, STRONG_PGD, survive(k))


BROKEN_BY = [("single-step vs iterative", FGSM),
             ("gradient-free vs gradient attacks", SQUARE),
             ("transfer vs white-box", TRANSFER)]  # fmt: skip


@pytest.mark.parametrize("name, attack", BROKEN_BY)
def test_what_another_attack_breaks_pgd_must_break(name, attack):
    check = covers(name)
    why = check(white(evidence()))  # not run: nothing to compare
    assert isinstance(why, NotApplicable)
    assert ("substitute" in why.why) is (attack is TRANSFER)
    # the other attack breaks a subset of what PGD breaks: passed
    passed, found = check(record(white(evidence()), attack, survive(60)))
    assert passed and "0.0% of the examples" in found
    # it breaks 10 examples PGD left standing: 10% > tolerance 2%
    ev = record(white(evidence()), attack, survive(40))
    passed, found = check(ev)
    assert not passed and "10.0% of the examples" in found


def test_more_iterations_flag_a_gap_the_exact_test_finds():
    check = covers("more iterations and restarts")
    ev = record(record(evidence(), PGD, survive(50)), STRONG_PGD, survive(49))
    assert check(ev)[0]  # one image: within tolerance
    ev = record(record(evidence(), PGD, survive(50)), STRONG_PGD, survive(40))
    passed, found = check(ev)
    assert not passed and "helped" in found and "10 vs 0" in found


def test_the_two_losses_must_agree():
    check = covers("cross-entropy vs margin loss")
    assert check(record(evidence(), PGD, survive(50))) == NotApplicable(
        "PGD ran with one loss only (ce)"
    )
    same = {"ce": survive(50), "margin": survive(49)}
    assert check(record(evidence(), PGD, same))[0]
    apart = {"ce": survive(80), "margin": survive(20)}
    passed, found = check(record(evidence(), PGD, apart))
    assert not passed and "cross-entropy 80.0%" in found and "masked" in found


@pytest.mark.parametrize(
    "growing, passes",
    [({0.1: 0.5, 0.4: 0.1, 1.0: 0.0}, True),
     ({0.1: 0.5, 0.4: 0.6, 1.0: 0.0}, False),  # rises with eps
     ({0.1: 0.5, 0.4: 0.4, 1.0: 0.3}, False)],  # stuck above zero
)  # fmt: skip
def test_accuracy_must_fall_to_zero_as_eps_grows(growing, passes):
    ev = evidence()
    ev.report.growing = growing
    assert covers("growing eps")(ev)[0] is passes


def test_autoattacks_own_flags_except_the_randomness_eot_answers():
    check = covers("AutoAttack's own checks")

    def ev(*flags):
        return record(record(evidence(), AUTOATTACK, survive(5), flags), SQUARE,
                      survive(5))  # fmt: skip

    assert check(ev()) == (True, "no flag raised")
    assert check(ev("randomised model: EOT used")) == (True, "no flag raised")
    passed, found = check(ev("Square is lower than APGD"))
    assert not passed and found == "Square is lower than APGD"
    # its randomness flag: answered where AutoAttack ran through EOT (the
    # randomness check's remedy), a flag where it did not
    randomized = 'it seems to be a randomized defense! Please use version="rand".'
    assert not check(ev(randomized))[0]
    with_eot = ev(randomized)
    with_eot.base[AUTOATTACK].details["eot_samples"] = 20
    assert check(with_eot) == (True, "no flag raised")


class Net(nn.Module):
    def __init__(self, end=None):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        self.end = end

    def forward(self, x):
        out = self.body(x)
        return out if self.end is None else self.end(out)


def model(end=None):
    return TorchClassifier(Net(end), input_shape=(4,), classes=np.arange(3))


def data():
    X = np.random.RandomState(0).rand(40, 4).astype(np.float32)
    return X, np.arange(40) % 3


def test_input_gradients_must_be_usable():
    check = covers("input gradients")
    X, y = data()
    ev = record(evidence(model(), X, y), PGD, {"ce": survive(1, 40),
                                                "margin": survive(1, 40)})  # fmt: skip
    passed, found = check(ev)
    assert passed and set(ev.report.gradients) == {"ce", "margin"}
    ev = record(evidence(model(torch.round), X, y), PGD, survive(1, 40))
    passed, found = check(ev)
    assert not passed and "100.0% all-zero" in found


def test_the_attacked_outputs_must_be_logits():
    check = covers("probability outputs")
    X, y = data()
    assert check(evidence(model(), X, y))[0]
    passed, found = check(evidence(model(nn.Softmax(dim=1)), X, y))
    assert not passed and "summing to 1" in found


def test_a_randomised_model_is_named():
    check = covers("randomness")
    X, y = data()
    assert check(evidence(model(), X, y))[0]
    noisy = model(lambda out: nn.functional.dropout(out, 0.5, training=True))
    passed, found = check(evidence(noisy, X, y))
    assert not passed and "differ" in found


def test_the_binarization_test_runs_on_request_and_judges_pgd():
    check = covers("binarization test")
    X, y = data()
    assert check(evidence(model(), X, y)) == NotApplicable("binarization_samples=0")
    ev = evidence(model(), X, y)
    ev.binarization_samples = 5
    passed, found = check(ev)
    assert passed and "binarized classifiers" in found


def test_every_check_has_its_test_here():
    import ast

    tree = ast.parse(Path(__file__).read_text())
    named = {
        arg.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "covers"
        for arg in node.args
        if isinstance(arg, ast.Constant)
    }
    assert named | {name for name, _ in BROKEN_BY} == set(CHECKS)
