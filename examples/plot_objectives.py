"""
The objectives side by side
===========================

Every objective is a variational lower bound on a divergence between true
(input, label) pairs and inputs paired with a uniform hypothesis. Trained with
the same budget, they reach different accuracies; reverse KL diverges because
its divergence is infinite when labels are deterministic (see the user guide).
"""

# %%
import matplotlib.pyplot as plt
from _common import EPOCHS, example_data

from sk_guessfirst import OBJECTIVES, HypothesisConditionedClassifier

X, y, X_test, y_test = example_data()
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
