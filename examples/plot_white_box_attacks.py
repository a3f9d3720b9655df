"""
White-box attacks with ART
==========================

``to_art`` hands ART the model's K hypothesis scores, computed end to end, so
gradient attacks differentiate through every hypothesis. Any ART attack
works; ``adversarial_accuracy`` wraps the common ones with strong defaults.
"""

# %%
from _common import EPOCHS, example_data
from art.attacks.evasion import ProjectedGradientDescent

from sk_guessfirst import CNNClassifier, HypothesisConditionedClassifier
from sk_guessfirst.adversarial import adversarial_accuracy, as_model_input, to_art

X, y, X_test, y_test = example_data()
models = {
    "CNN": CNNClassifier(max_epochs=EPOCHS, batch_size=100, random_state=0),
    "C-DV": HypothesisConditionedClassifier(
        max_epochs=EPOCHS, batch_size=100, random_state=0
    ),
}
for name, model in models.items():
    model.fit(X, y)
    row = [f"clean {model.score(X_test, y_test):.2f}"]
    for attack in ("fgsm", "pgd", "apgd-dlr"):
        acc = adversarial_accuracy(model, X_test, y_test, attack=attack, eps=0.1)
        row.append(f"{attack} {acc:.2f}")
    print(name, ", ".join(row))

# %%
# The same with ART directly: images in NCHW layout, eps in [0, 1] pixels.
art_model = to_art(models["C-DV"])
images = as_model_input(models["C-DV"], X_test)
pgd = ProjectedGradientDescent(
    art_model, eps=0.1, eps_step=0.01, max_iter=40, verbose=False
)
adversarial = pgd.generate(images)
print(
    "accuracy on PGD images:",
    (art_model.predict(adversarial).argmax(1) == y_test).mean(),
)
