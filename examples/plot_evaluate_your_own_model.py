"""
Evaluate your own model
=======================

The package's evaluation is not only for its own estimators: a fitted skorch
classifier, or any ``torch.nn.Module`` wrapped as a
:class:`~sk_guessfirst.adversarial.TorchClassifier` with what the package
cannot infer (the input layout, the classes), goes through the same frozen
attacked function into ART, AutoAttack's reference code and Foolbox.

Here a plain skorch MLP on the digits, and two "defences" built on it: a
quantisation of the inputs, whose zero gradients the robustness report flags
(gradient masking, not robustness) and answers with BPDA (straight-through
gradients), and dropout left on at test time, which is detected as a
randomised model, attacked through the expectation over its passes (EOT), as
AutoAttack's rand version does, and judged by the majority of 20 passes
(``per_sample_randomness=True`` says its draws are per input row, so the 20
passes run as one batch; the check refuses a network that draws once per
batch). The
number to quote is each report's worst case, with its 95% interval: the
adaptive attacks a failed check calls for are part of it.

Run time: about 30 s on one core of a 2-core CPU (torch, one thread).
"""

# %%
import matplotlib.pyplot as plt
import torch
from skorch import NeuralNetClassifier
from torch import nn

from sk_guessfirst.adversarial import (
    TorchClassifier,
    robustness_report,
)
from sk_guessfirst.datasets import load_dataset

X, y = load_dataset("digits")  # flat float32 rows in [0, 1]
X_test, y_test = (a[:50] for a in load_dataset("digits", subset="test"))
torch.manual_seed(0)
net = NeuralNetClassifier(
    nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)),
    criterion=nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=0.01,
    max_epochs=15,
    train_split=None,
    verbose=0,
).fit(X, y)


class Quantised(nn.Module):
    """Rounds the pixels to 4 levels before the network."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(torch.round(x * 3) / 3)


class NoisyDropout(nn.Module):
    """Dropout on the inputs, left on at test time."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(nn.functional.dropout(x, p=0.3, training=True))


models = {
    "skorch MLP": net,  # a fitted skorch net is taken as it is
    "quantised": TorchClassifier(Quantised(net.module_), input_shape=(64,)),
    # dropout draws for each input row: the 20 EOT passes may run as one batch
    "dropout on": TorchClassifier(
        NoisyDropout(net.module_), input_shape=(64,), per_sample_randomness=True
    ),
}
light = {"square": {"n_queries": 300}, "autoattack": {"n_queries": 300}}
reports = {}
for name, model in models.items():
    reports[name] = robustness_report(
        model, X_test, y_test, eps=0.1, attack_params=light, random_state=0
    )
    print(f"== {name}\n{reports[name]}\n")

# %%
# The quantised model looks robust to PGD, and its report says why not to
# believe it (its input gradients are zero, gradient-free Square breaks what
# PGD cannot) and what it did about it: PGD and AutoAttack through BPDA, whose
# results join the worst case. BPDA agrees with Square with four times the
# queries (78-82% at eps 0.1 on these 50 images): rounding to four levels
# keeps a pixel that is not near a rounding boundary from changing at this
# budget, so part of the quantised model's robustness is real, not masking.
# The randomised model's PGD run in its report is an EOT attack:
pgd = reports["dropout on"].results["PGD"]
print(pgd.flags[0])

fig, ax = plt.subplots(figsize=(6, 3))
names = list(reports)
columns = {
    "PGD": lambda r: r.accuracies["PGD"],
    "AutoAttack": lambda r: r.accuracies["AutoAttack"],
    "worst case (adaptive included)": lambda r: r.worst_case,
}
for i, (label, value) in enumerate(columns.items()):
    ax.bar(
        [j + 0.27 * i for j in range(len(names))],
        [value(reports[n]) for n in names],
        width=0.27,
        label=label,
    )
ax.set_xticks([j + 0.27 for j in range(len(names))], names)
ax.set_ylabel("robust accuracy at eps 0.1")
ax.legend()
fig.tight_layout()
