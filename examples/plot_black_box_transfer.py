"""
Black-box transfer from a substitute
====================================

Black-box attacks craft adversarial examples on a LeNet-5 substitute trained
on the same data and transfer them. ``fit_substitute`` trains it once; the
fitted substitute is passed to every black-box evaluation.

Run time: about 25 s on one core of a 2-core CPU (torch, one thread).
"""

# %%
import os

import matplotlib.pyplot as plt

from sk_guessfirst import CNNClassifier, HypothesisConditionedClassifier
from sk_guessfirst.adversarial import adversarial_accuracy, fit_substitute
from sk_guessfirst.datasets import load_dataset

DATA = os.environ.get("SK_GUESSFIRST_EXAMPLE_DATA", "digits")  # or "mnist"
EPOCHS = 10 if DATA == "digits" else 5
X, y = load_dataset(DATA, images=True)  # (n, H, W): images are said
X_test, y_test = (a[:100] for a in load_dataset(DATA, subset="test", images=True))
models = {
    "CNN": CNNClassifier(max_epochs=EPOCHS, batch_size=100, random_state=0),
    "C-JS-IE": HypothesisConditionedClassifier(
        objective="js",
        ie_lambda=0.01,
        max_epochs=EPOCHS,
        batch_size=100,
        random_state=0,
    ),
}
substitute = fit_substitute(X, y)  # LeNet-5, 10 epochs
budgets = [0.05, 0.1, 0.2, 0.3]
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, model in models.items():
    model.fit(X, y)
    for mode, style in (("white-box", "-"), ("black-box", "--")):
        accs = [
            adversarial_accuracy(
                model,
                X_test,
                y_test,
                attack="pgd",
                eps=eps,
                mode=mode,
                substitute=substitute,
            )
            for eps in budgets
        ]
        ax.plot(budgets, accs, style, marker="o", label=f"{name} {mode}")
ax.set_xlabel("L-inf eps")
ax.set_ylabel("robust accuracy (PGD)")
ax.legend()
fig.tight_layout()
