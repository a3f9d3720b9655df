"""
Robustness curves from minimal perturbations
============================================

As in the paper's Figure 3, with Foolbox 3 (the library the paper used): for
every test image the smallest perturbation that changes the prediction (the
paper's FGSM line search, and the Fast Minimum Norm attack), and the share of
images whose minimal perturbation exceeds eps. The worst case over attacks
takes the per-image minimum.

Run time: about 7 s on one core of a 2-core CPU (torch, one thread).
"""

# %%
import os

import matplotlib.pyplot as plt

from sk_guessfirst import CNNClassifier, HypothesisConditionedClassifier
from sk_guessfirst.adversarial import robustness_curve, worst_case
from sk_guessfirst.datasets import load_dataset

DATA = os.environ.get("SK_GUESSFIRST_EXAMPLE_DATA", "digits")  # or "mnist"
EPOCHS = 10 if DATA == "digits" else 5
X, y = load_dataset(DATA, images=True)  # (n, H, W): images are said
X_test, y_test = (a[:100] for a in load_dataset(DATA, subset="test", images=True))
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
    fgsm = robustness_curve(model, X_test, y_test, attack="fgsm-search")
    fmn = robustness_curve(model, X_test, y_test, attack="fmn-linf", steps=50)
    # the worst case under the attacks (wide, pale), so that where it equals
    # FMN the FMN line stays visible on top of it
    for curve, style in (
        (worst_case(fgsm, fmn), dict(lw=6, alpha=0.3, color="k", zorder=1)),
        (fgsm, dict(ls="--", zorder=2)),
        (fmn, dict(ls="-", lw=1.5, zorder=3)),
    ):
        curve.eps = fgsm.eps
        curve.plot(ax=ax, **style)
    ax.set_xlim(0, 0.6)
    ax.set_title(f"{name}: median FMN perturbation {fmn.median_perturbation:.3f}")
fig.tight_layout()
