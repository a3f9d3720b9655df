"""The evaluation of models the package did not build (_torch_classifier.py):
plain skorch nets, torch modules, a quantised one, one with dropout left on."""

import numpy as np
import pytest
import torch
from budgets import LIGHT_AA, LIGHT_REPORT
from skorch import NeuralNetClassifier
from torch import nn

from sk_guessfirst.adversarial import (
    TorchClassifier,
    attacked_function,
    evaluate_attack,
    robustness_report,
    to_art,
)
from sk_guessfirst.datasets import load_dataset


@pytest.fixture(scope="module")
def digits():
    X, y = load_dataset("digits")
    Xt, yt = load_dataset("digits", subset="test")
    return X, y, Xt[:60], yt[:60]


def _mlp():
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.out = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        return self.out(torch.relu(self.conv(x)).flatten(1))


def _skorch(module, X, y, epochs=15):
    torch.manual_seed(0)
    return NeuralNetClassifier(
        module, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=0.01,
        max_epochs=epochs, batch_size=64, train_split=None, verbose=0,
    ).fit(X, y)  # fmt: skip


@pytest.fixture(scope="module")
def mlp(digits):
    X, y, _, _ = digits
    return _skorch(_mlp(), X, y)


def test_a_plain_skorch_mlp_end_to_end(mlp, digits):
    _, _, Xt, yt = digits
    clean = float((mlp.predict(Xt) == yt).mean())
    result = evaluate_attack(mlp, Xt, yt, attack="pgd", eps=0.1, random_state=0)
    assert clean > 0.85 and result.accuracy < clean - 0.3
    assert result.flags == []  # deterministic: no EOT
    art = to_art(mlp)  # the layout read from the first Linear layer
    assert art.predict(Xt[:3]).shape == (3, 10)
    report = robustness_report(
        mlp, Xt[:40], yt[:40], eps=0.1, attack_params=LIGHT_REPORT, random_state=0
    )
    passed = {c.name: c.passed for c in report.checks}
    assert passed["input gradients"] and passed["single-step vs iterative"]


def test_a_skorch_cnn_needs_its_layout_said_once(digits):
    X, y, Xt, yt = digits
    images = X.reshape(-1, 1, 8, 8)
    cnn = _skorch(SmallCNN(), images, y, epochs=8)
    # the attacked X's layout says it...
    result = evaluate_attack(
        cnn, Xt.reshape(-1, 1, 8, 8), yt, attack="fgsm", eps=0.1, random_state=0
    )
    assert (
        0
        <= result.accuracy
        < float((cnn.predict(Xt.reshape(-1, 1, 8, 8)) == yt).mean())
    )
    # ... to_art has no X: the first layer is a convolution, so it is asked for
    with pytest.raises(ValueError, match="pass input_shape"):
        to_art(cnn)
    art = to_art(TorchClassifier(cnn, input_shape=(1, 8, 8)))
    assert art.predict(Xt[:2].reshape(-1, 1, 8, 8)).shape == (2, 10)


def test_a_torch_module_is_wrapped_with_what_the_package_cannot_infer(mlp, digits):
    _, _, Xt, yt = digits
    with pytest.raises(TypeError, match="TorchClassifier"):
        evaluate_attack(mlp.module_, Xt, yt, attack="fgsm", eps=0.1)
    letters = np.array(list("abcdefghij"))
    clf = TorchClassifier(mlp.module_, classes=letters)
    assert clf.input_shape_ == (64,) and clf.classes_[0] == "a"
    np.testing.assert_array_equal(clf.predict(Xt), letters[mlp.predict(Xt)])
    result = evaluate_attack(clf, Xt, letters[yt], attack="fgsm", eps=0.1)
    same = evaluate_attack(mlp, Xt, yt, attack="fgsm", eps=0.1)
    np.testing.assert_array_equal(result.worst, same.worst)  # the same network
    mlp.module_.train()
    clf.predict(Xt[:5])  # predicts in evaluation mode, and leaves the mode alone
    assert mlp.module_.training
    mlp.module_.eval()


def test_autoattack_on_a_torch_module_equals_a_direct_call_of_the_reference(
    mlp, digits
):
    from pyautoattack import AutoAttack

    _, _, Xt, yt = digits
    X, y = Xt[:40], yt[:40]
    clf = TorchClassifier(mlp.module_)
    ours = evaluate_attack(clf, X, y, attack="autoattack", eps=0.1, seed=3, **LIGHT_AA)
    # flat inputs are handed to AutoAttack as 1 x 64 images (Square samples
    # squares): the same for the direct call
    module = nn.Sequential(nn.Flatten(), mlp.module_).eval()
    reference = AutoAttack(module, eps=0.1, seed=3, version="standard", device="cpu")
    reference.square.n_queries = LIGHT_AA["n_queries"]
    x = torch.as_tensor(X).reshape(len(X), 1, 1, 64)
    x_adv, _ = reference.run_standard_evaluation(x, torch.as_tensor(y))
    with torch.no_grad():
        robust = module(x_adv).argmax(1).numpy() == y
    np.testing.assert_array_equal(ours.worst, robust & (clf.predict(X) == y))
    assert 0 < ours.accuracy


class Quantised(nn.Module):
    """Inputs rounded to 4 levels before the network: gradients are zero."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(torch.round(x * 3) / 3)


@pytest.mark.slow
def test_the_report_flags_a_quantised_model(mlp, digits):
    _, _, Xt, yt = digits
    clf = TorchClassifier(Quantised(mlp.module_), input_shape=(64,))
    report = robustness_report(
        clf, Xt[:40], yt[:40], eps=0.1, attack_params=LIGHT_REPORT, random_state=0
    )
    flagged = {c.name for c in report.flags}
    assert "input gradients" in flagged, str(report)
    # the masking hides nothing from gradient-free Square
    assert report.accuracies["PGD"] >= report.worst_case


class AlwaysDropout(nn.Module):
    """Dropout left on at test time: a randomised model."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(nn.functional.dropout(x, p=0.3, training=True))


def test_a_randomised_model_is_attacked_through_eot(mlp, digits):
    _, _, Xt, yt = digits
    clf = TorchClassifier(AlwaysDropout(mlp.module_), input_shape=(64,))
    result = evaluate_attack(clf, Xt[:30], yt[:30], attack="pgd", eps=0.1,
                             random_state=0, max_iter=5)  # fmt: skip
    assert result.details["eot_samples"] == 20
    assert any("randomised model" in flag for flag in result.flags)
    # EOT: the attacked function is the log of the mean probability over passes
    fn = attacked_function(clf, eot_samples=200)
    x = torch.as_tensor(Xt[:5])
    torch.manual_seed(0)
    a = fn(x).exp()
    torch.manual_seed(1)
    b = fn(x).exp()
    assert torch.allclose(a.sum(1), torch.ones(5), atol=1e-5)
    assert (a - b).abs().max() < 0.1  # the average of 200 passes barely moves
    deterministic = evaluate_attack(mlp, Xt[:30], yt[:30], attack="pgd", eps=0.1,
                                    random_state=0, max_iter=5)  # fmt: skip
    assert "eot_samples" not in deterministic.details


class BatchScaleNoise(nn.Module):
    """Randomness drawn once per batch: every row of a batch scaled alike."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x * (0.5 + torch.rand(1, device=x.device)))


def test_declared_per_row_randomness_batches_the_eot_passes(mlp, digits):
    """The EOT passes as one batch of copies: the same expectation as the
    passes one after another, up to the sampling error of two n-pass means."""
    _, _, Xt, yt = digits
    x = torch.as_tensor(Xt[:5])
    looped = attacked_function(
        TorchClassifier(AlwaysDropout(mlp.module_), input_shape=(64,)),
        eot_samples=2000,
    )
    clf = TorchClassifier(
        AlwaysDropout(mlp.module_), input_shape=(64,), per_sample_randomness=True
    )
    batched = attacked_function(clf, eot_samples=2000)
    assert batched.eot_batched and not looped.eot_batched
    torch.manual_seed(0)
    a = batched(x).exp()
    b = looped(x).exp()
    assert torch.allclose(a.sum(1), torch.ones(5), atol=1e-5)
    # a probability's per-pass sd is at most 0.5: 5 sd of the difference of two
    # 2000-pass means (0.08); one shared draw for all copies would miss by ~0.3
    assert (a - b).abs().max() < 5 * 0.5 * (2 / 2000) ** 0.5
    result = evaluate_attack(clf, Xt[:30], yt[:30], attack="pgd", eps=0.1,
                             random_state=0, max_iter=5)  # fmt: skip
    assert result.details["eot_samples"] == 20


def test_a_false_per_row_declaration_is_refused(mlp, digits):
    _, _, Xt, yt = digits
    wrong = TorchClassifier(
        BatchScaleNoise(mlp.module_), input_shape=(64,), per_sample_randomness=True
    )
    with pytest.raises(ValueError, match="once per batch"):
        evaluate_attack(wrong, Xt[:10], yt[:10], attack="pgd", eps=0.1, max_iter=2)
    honest = TorchClassifier(BatchScaleNoise(mlp.module_), input_shape=(64,))
    assert not attacked_function(honest, eot_samples=4).eot_batched
