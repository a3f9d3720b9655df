"""scikit-learn's own estimator checks on every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_guessfirst import (
    AdversarialTrainingClassifier,
    CNNClassifier,
    HypothesisConditionedClassifier,
    LeNet5Classifier,
    VIBClassifier,
)

# Small settings so that the whole suite runs in well under a minute; the
# defaults (batch 250, 10 epochs) are too slow for 55 checks x 4 estimators.
# Enough steps remain for check_classifiers_train's accuracy threshold.
_SMALL = dict(max_epochs=20, batch_size=32, lr=3e-3, random_state=0, device="cpu")

ESTIMATORS = [
    HypothesisConditionedClassifier(**_SMALL),
    HypothesisConditionedClassifier(objective="js", ie_lambda=0.01, **_SMALL),
    CNNClassifier(**_SMALL),
    VIBClassifier(**_SMALL),
    LeNet5Classifier(**_SMALL),
    # the checks' data are not images in [0, 1]: a range that holds them all,
    # and a budget that is small in it
    AdversarialTrainingClassifier(
        adv_eps=0.05, adv_steps=2, clip_values=(-1e6, 1e6), **_SMALL
    ),
]

EXPECTED_FAILED_CHECKS: dict = {}


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(
        type(est).__name__, {}
    ),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
