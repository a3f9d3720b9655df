"""
White-box attacks with ART
==========================

``to_art`` hands ART the model's K hypothesis scores, computed end to end, so
gradient attacks differentiate through every hypothesis. Any ART attack
works; ``evaluate_attack`` runs the registry's attacks with strong defaults,
gradient attacks with both cross-entropy and margin losses (the per-example
worst case is the result), and AutoAttack from its reference code.

Run time: about 35 s on one core of a 2-core CPU (torch, one thread).
"""

# %%
import os

import matplotlib.pyplot as plt
from art.attacks.evasion import ProjectedGradientDescent

from sk_guessfirst import CNNClassifier, HypothesisConditionedClassifier
from sk_guessfirst.adversarial import evaluate_attack, to_art
from sk_guessfirst.datasets import load_dataset

DATA = os.environ.get("SK_GUESSFIRST_EXAMPLE_DATA", "digits")  # or "mnist"
EPOCHS = 10 if DATA == "digits" else 5
X, y = load_dataset(DATA, images=True)  # (n, H, W): images are said
X_test, y_test = (a[:100] for a in load_dataset(DATA, subset="test", images=True))
models = {
    "CNN": CNNClassifier(max_epochs=EPOCHS, batch_size=100, random_state=0),
    "C-DV": HypothesisConditionedClassifier(
        max_epochs=EPOCHS, batch_size=100, random_state=0
    ),
}
accuracy = {}  # model -> attack -> robust accuracy
for name, model in models.items():
    model.fit(X, y)
    row = [f"clean {model.score(X_test, y_test):.2f}"]
    accuracy[name] = {"clean": model.score(X_test, y_test)}
    for attack in ("fgsm", "pgd", "apgd-t"):
        result = evaluate_attack(
            model, X_test, y_test, attack=attack, eps=0.1, random_state=0
        )
        accuracy[name][attack] = result.accuracy
        losses = ", ".join(f"{k} {v:.2f}" for k, v in result.accuracy_by_loss().items())
        row.append(f"{attack} {result.accuracy:.2f} ({losses})")
    print(name, ", ".join(row))

# %%
# The same with ART directly: images in NCHW layout, eps in [0, 1] pixels.
art_model = to_art(models["C-DV"])
images = X_test.reshape(len(X_test), *models["C-DV"].input_shape_)
pgd = ProjectedGradientDescent(
    art_model, eps=0.1, eps_step=0.01, max_iter=40, verbose=False
)
adversarial = pgd.generate(images)
print(
    "accuracy on PGD images:",
    (art_model.predict(adversarial).argmax(1) == y_test).mean(),
)

# %%
# Per model, clean accuracy and each attack's worst case over its losses.
fig, ax = plt.subplots(figsize=(6, 3.5))
columns = ["clean", "fgsm", "pgd", "apgd-t"]
width = 0.8 / len(accuracy)
for i, (name, by_attack) in enumerate(accuracy.items()):
    ax.bar([j + i * width for j in range(len(columns))],
           [by_attack[c] for c in columns], width=width, label=name)  # fmt: skip
ax.set_xticks([j + 0.4 - width / 2 for j in range(len(columns))], columns)
ax.set_ylabel("accuracy at L-inf eps 0.1")
ax.set_title(f"White-box attacks ({DATA}, {len(X_test)} test images)")
ax.legend(fontsize=8)
fig.tight_layout()
