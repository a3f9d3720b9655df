"""A user's script that mypy --strict accepts (tests/test_typing.py); not
collected by pytest, never run."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GridSearchCV

from sk_guessfirst import (
    AdversarialHypothesisClassifier,
    AdversarialTrainingClassifier,
    CNNClassifier,
    HypothesisConditionedClassifier,
    LeNet5Classifier,
    VIBClassifier,
)
from sk_guessfirst.adversarial import (
    AttackResult,
    RobustnessReport,
    accuracy_interval,
    compare_paired,
    evaluate_attack,
    make_adversarial_scorer,
    robustness_report,
    to_art,
)
from sk_guessfirst.datasets import load_digits


def main() -> float:
    X, y = load_digits(return_X_y=True)
    clf: HypothesisConditionedClassifier = HypothesisConditionedClassifier(
        objective="dv", ie_lambda=0.01, max_epochs=2
    )
    clf.fit(X, y)
    cnn = CNNClassifier(max_epochs=1).fit(X, y)
    scores: np.ndarray = cnn.decision_function(X)
    result: AttackResult = evaluate_attack(clf, X[:10], y[:10], attack="fgsm", eps=0.1)
    accuracy: float = result.accuracy
    low, high = accuracy_interval(result.worst)
    report: RobustnessReport = robustness_report(clf, X[:10], y[:10], eps=0.1)
    worst: float = report.worst_case
    GridSearchCV(
        clf,
        {"ie_lambda": [0.0, 0.01]},
        scoring=make_adversarial_scorer(attack="fgsm", eps=0.1),
    )
    to_art(cnn)
    c = compare_paired(result.worst, result.clean)
    AdversarialTrainingClassifier(adv_eps=0.1)
    AdversarialHypothesisClassifier(objective="js")
    VIBClassifier(beta=1e-3)
    LeNet5Classifier()
    return accuracy + low + high + worst + float(scores.sum()) + c.pvalue


if __name__ == "__main__":
    print(main())
