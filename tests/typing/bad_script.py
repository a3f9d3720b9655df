"""Mistakes mypy --strict must catch in a user's script (tests/test_typing.py)."""

from sk_guessfirst import HypothesisConditionedClassifier
from sk_guessfirst.adversarial import evaluate_attack
from sk_guessfirst.datasets import load_digits

X, y = load_digits(return_X_y=True)
clf = HypothesisConditionedClassifier(objective=3)  # not a str
accuracy: str = evaluate_attack(clf, X, y, attack="fgsm", eps=0.1).accuracy
