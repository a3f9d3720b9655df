"""
The objectives side by side
===========================

Every objective is a variational lower bound on a divergence between true
(input, label) pairs and inputs paired with a uniform hypothesis. Trained with
the same budget, they reach different accuracies; reverse KL diverges because
its divergence is infinite when labels are deterministic (see the user guide).

Run time: about 25 s on one core of a 2-core CPU (torch, one thread).
"""

# %%
import os

import matplotlib.pyplot as plt

from sk_guessfirst import OBJECTIVES, HypothesisConditionedClassifier
from sk_guessfirst.datasets import load_dataset

DATA = os.environ.get("SK_GUESSFIRST_EXAMPLE_DATA", "digits")  # or "mnist"
EPOCHS = 10 if DATA == "digits" else 5
X, y = load_dataset(DATA, images=True)  # (n, H, W): images are said
X_test, y_test = (a[:200] for a in load_dataset(DATA, subset="test", images=True))
accuracy = {}
for objective in OBJECTIVES:
    clf = HypothesisConditionedClassifier(
        objective=objective, max_epochs=EPOCHS, batch_size=100, random_state=0
    ).fit(X, y)
    accuracy[objective] = clf.score(X_test, y_test)
    print(f"{objective:>10}: {accuracy[objective]:.3f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(list(accuracy), list(accuracy.values()))
ax.set_ylabel("test accuracy")
ax.set_ylim(0, 1)
fig.tight_layout()
