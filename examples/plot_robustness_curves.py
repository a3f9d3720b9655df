"""
Robustness curves from minimal perturbations
============================================

As in the paper's Figure 3: for every test image the smallest perturbation
that changes the prediction (FGSM line search, PGD bisection), and the share
of images whose minimal perturbation exceeds eps. The worst case over attacks
takes the per-image minimum.
"""

# %%
import matplotlib.pyplot as plt
from _common import EPOCHS, example_data

from sk_guessfirst import CNNClassifier, HypothesisConditionedClassifier
from sk_guessfirst.adversarial import robustness_curve, worst_case

X, y, X_test, y_test = example_data(n_test=100)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
for ax, model, name in zip(
    axes,
    (
        CNNClassifier(max_epochs=EPOCHS, batch_size=100, random_state=0),
        HypothesisConditionedClassifier(
            max_epochs=EPOCHS, batch_size=100, random_state=0
        ),
    ),
    ("CNN", "C-DV"),
):
    model.fit(X, y)
    fgsm = robustness_curve(model, X_test, y_test, attack="fgsm", eps_max=0.6)
    pgd = robustness_curve(model, X_test, y_test, attack="pgd", eps_max=0.6)
    for curve in (fgsm, pgd, worst_case(fgsm, pgd)):
        curve.eps = fgsm.eps
        curve.plot(ax=ax)
    ax.set_title(name)
fig.tight_layout()
