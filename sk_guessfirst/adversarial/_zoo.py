"""A zoo of defences that only mask gradients, each with an adaptive attack
written for it: the masking benchmark of the robustness report.

Every defence wraps one undefended network and is no more robust than it
(or only as robust as its own function truly is); each adaptive attack is
written by hand here, independently of the report's checks and remedies, in
the way the literature breaks that defence: BPDA through a threshold or a
rounding (Athalye et al. 2018), the logits under a saturated output,
transfer from the undefended network for shattered gradients, EOT for
randomness. The report's worst case should land within a few points of
each adaptive attack (``tests/adversarial/test_zoo.py``, ``sk-guessfirst bench``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..attacked._torch_classifier import TorchClassifier


class _Wrap(nn.Module):
    def __init__(
        self, net: nn.Module, fn: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    ):
        super().__init__()
        self.net, self.fn = net, fn

    def forward(self, x):
        return self.fn(self.net, x)


def _threshold(net, x):
    return net((x > 0.5).float())


def _threshold_ste(net, x):
    return net(x + ((x > 0.5).float() - x).detach())


def _hidden_round(net, x, ste=False):
    h = net[1](net[0](x)) * 4
    r = torch.round(h)
    h = h + (r - h).detach() if ste else r
    return net[2](h / 4)


def _softmax_t(net, x):
    return torch.softmax(50 * net(x), -1)


def _wobble(net, x):
    return net(x + 0.02 * torch.sin(300 * x))


def _random_sign(net, x):
    return net(x + 0.1 * torch.sign(torch.randn_like(x)))


def _sigmoid(net, x):
    return torch.sigmoid(net(x))


@dataclass(frozen=True)
class Defence:
    """A defence: its forward, and the function an adaptive attack
    differentiates (``None``: the defence itself, through EOT)."""

    name: str
    forward: Callable
    gradient: Callable | None
    randomised: bool = False
    how: str = ""


DEFENCES = {
    d.name: d
    for d in (
        Defence("none", lambda net, x: net(x), lambda net, x: net(x),
                how="PGD on the network"),
        Defence("input threshold", _threshold, _threshold_ste,
                how="BPDA: the threshold's backward is the identity"),
        Defence("rounded hidden layer", _hidden_round,
                lambda net, x: _hidden_round(net, x, ste=True),
                how="BPDA: the rounding's backward is the identity"),
        Defence("softmax output, T=1/50", _softmax_t, lambda net, x: net(x),
                how="PGD on the logits"),
        Defence("high-frequency wobble", _wobble, lambda net, x: net(x),
                how="transfer from the undefended network"),
        Defence("random sign noise", _random_sign, None, randomised=True,
                how="EOT over 20 passes; expected accuracy over 20 passes"),
        Defence("sigmoid output (Guess First's view)", _sigmoid, lambda net, x: net(x),
                how="PGD on the scores under the sigmoid"),
    )
}  # fmt: skip


def defended(net: nn.Module, defence: Defence, input_shape, classes) -> TorchClassifier:
    """``net`` behind ``defence``, as a classifier the package evaluates (a
    randomised defence draws per input row: its EOT passes run as one batch)."""
    return TorchClassifier(
        _Wrap(net, defence.forward).eval(), input_shape=tuple(input_shape),
        classes=np.asarray(classes), per_sample_randomness=defence.randomised,
    )  # fmt: skip


def _margin(out, y):
    true = out.gather(1, y[:, None])[:, 0]
    other = out.masked_fill(torch.nn.functional.one_hot(y, out.shape[1]).bool(), -1e9)
    return (other.max(1).values - true).sum()


def adaptive_accuracy(
    net: nn.Module,
    defence: Defence,
    X: np.ndarray,
    y: np.ndarray,
    eps: float,
    *,
    steps: int = 100,
    restarts: int = 3,
    passes: int = 20,
    seed: int = 0,
) -> float:
    """Robust accuracy of ``net`` behind ``defence`` under the adaptive attack
    written for it (L-inf PGD with the margin loss, random starts, the
    per-example worst case over restarts); a randomised defence's accuracy
    is the expectation over ``passes`` passes (EOT in the attack too)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x0 = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    net = net.eval()

    def gradient_of(x):
        if defence.gradient is not None:
            return defence.gradient(net, x)
        probs = torch.stack([torch.softmax(defence.forward(net, x), -1)
                             for _ in range(passes)]).mean(0)  # fmt: skip
        return torch.log(probs.clamp_min(1e-30))

    def correct(x):
        with torch.no_grad():
            runs = 1 if not defence.randomised else passes
            return torch.stack([
                (defence.forward(net, x).argmax(1) == yt).float() for _ in range(runs)
            ]).mean(0)  # fmt: skip

    worst = correct(x0)
    for _ in range(restarts):
        start = (torch.rand(x0.shape, generator=g) * 2 - 1) * eps
        x = (x0 + start).clamp(0, 1)
        for _ in range(steps):
            x.requires_grad_(True)
            loss = _margin(gradient_of(x), yt)
            (grad,) = torch.autograd.grad(loss, x)
            with torch.no_grad():
                x = x + 2.5 * eps / steps * grad.sign()
                x = torch.min(torch.max(x, x0 - eps), x0 + eps).clamp(0, 1)
        worst = torch.minimum(worst, correct(x.detach()))
    return float(worst.mean())


# The report's light budget in the benchmark (the issue that asked for it).
LIGHT = {"square": {"n_queries": 300}, "autoattack": {"n_queries": 300}}


def undefended_mlp(n: int = 100, seed: int = 0):
    """The zoo's undefended network: an MLP (64-128-10) fitted to the
    embedded digits by 150 full-batch Adam steps; returns it with the first
    ``n`` test images and labels (flat)."""
    from ..datasets import load_dataset

    X, y = load_dataset("digits")
    Xt, yt = load_dataset("digits", subset="test")
    X, Xt = X.reshape(len(X), -1), Xt.reshape(len(Xt), -1)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(150):
        opt.zero_grad()
        nn.functional.cross_entropy(
            net(torch.as_tensor(X)), torch.as_tensor(y)
        ).backward()
        opt.step()
    return net.eval(), Xt[:n], yt[:n]


def masking_benchmark(n: int = 100, eps: float = 0.1, print_fn=print) -> dict:
    """Every defence of the zoo: the adaptive attack's robust accuracy, the
    report's worst case with flags only (``adaptive=False``) and with its
    remedies, and the seconds each report took; printed as a table and
    returned as ``{defence: {...}}``."""
    import time

    from ._report import robustness_report

    net, X, y = undefended_mlp(n)
    classes = np.arange(10)
    print_fn(f"masking: {len(DEFENCES)} defences on one MLP (digits), {n} images, "
             f"L-inf eps {eps}; robust accuracy %, report seconds")  # fmt: skip
    print_fn(f"  {'defence':<38} {'adaptive':>8} {'flags only':>10} {'report':>7}"
             f" {'seconds':>13}")  # fmt: skip
    rows = {}
    for name, defence in DEFENCES.items():
        clf = defended(net, defence, (64,), classes)
        row = {"adaptive": adaptive_accuracy(net, defence, X, y, eps)}
        for key, adaptive in (("flags_only", False), ("report", True)):
            t0 = time.perf_counter()
            report = robustness_report(
                clf, X, y, eps=eps, attack_params=LIGHT, adaptive=adaptive
            )
            row[key], row[key + "_s"] = report.worst_case, time.perf_counter() - t0
        rows[name] = row
        print_fn(
            f"  {name:<38} {100 * row['adaptive']:8.1f} "
            f"{100 * row['flags_only']:10.1f} {100 * row['report']:7.1f} "
            f"{row['flags_only_s']:6.0f} /{row['report_s']:5.0f}"
        )
    worst_gap = max(r["report"] - r["adaptive"] for r in rows.values())
    print_fn(f"  the report above the adaptive attack by at most "
             f"{100 * worst_gap:.1f} points (target: 5)")  # fmt: skip
    return rows


__all__ = [
    "DEFENCES",
    "Defence",
    "adaptive_accuracy",
    "defended",
    "masking_benchmark",
    "undefended_mlp",
]
