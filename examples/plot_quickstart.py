"""
Quick start
===========

Fit a hypothesis-conditioned classifier like any scikit-learn estimator, then
look at its hypothesis scores, probabilities and training history.

Run time: about 5 s on one core of a 2-core CPU (torch, one thread).
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from sk_guessfirst import HypothesisConditionedClassifier
from sk_guessfirst.datasets import load_dataset

DATA = os.environ.get("SK_GUESSFIRST_EXAMPLE_DATA", "digits")  # or "mnist"
EPOCHS = 10 if DATA == "digits" else 5
X, y = load_dataset(DATA, images=True)  # (n, H, W): images are said
X_test, y_test = (a[:200] for a in load_dataset(DATA, subset="test", images=True))
clf = HypothesisConditionedClassifier(
    objective="dv", ie_lambda=0.01, max_epochs=EPOCHS, batch_size=100, random_state=0
)
clf.fit(X, y)
print(f"test accuracy: {clf.score(X_test, y_test):.3f}")

# %%
# ``decision_function`` returns the K hypothesis scores T(x, k); the
# prediction is the hypothesis with the highest score, and ``predict_proba``
# turns the scores into p(k | x) through the objective's density-ratio link.
scores = clf.decision_function(X_test[:3])
print(np.round(scores, 2))
print(np.round(clf.predict_proba(X_test[:3]), 3))

# %%
# The history records the objective and the IE regulariser for every batch.
objective = [b["objective"] for epoch in clf.history for b in epoch["batches"]]
ie = [b["ie"] for epoch in clf.history for b in epoch["batches"]]
fig, ax = plt.subplots(1, 2, figsize=(8, 3))
ax[0].plot(objective)
ax[0].set_title("DV objective (loss)")
ax[1].plot(ie)
ax[1].set_title("IE regulariser (sum over hypotheses)")
for a in ax:
    a.set_xlabel("batch")
fig.tight_layout()
