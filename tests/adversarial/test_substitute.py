"""Black-box substitutes (adversarial/_substitute.py)."""

from sk_guessfirst import (
    LeNet5Classifier,
)
from sk_guessfirst.adversarial import (
    adversarial_accuracy,
    fit_substitute,
    make_adversarial_scorer,
    robustness_curve,
)


def test_a_substitute_is_fitted_once_by_who_holds_it(hcc, digits, monkeypatch):
    X, y, Xt, yt = digits
    fits = []
    original = LeNet5Classifier.fit

    def counting_fit(self, *args, **kwargs):
        fits.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LeNet5Classifier, "fit", counting_fit)
    scorer = make_adversarial_scorer(
        attack="pgd", eps=0.1, mode="black-box", substitute=(X, y), random_state=0
    )
    scores = [scorer(hcc, Xt, yt) for _ in range(2)]
    # the scorer holds its substitute: fitted once for every candidate it scores
    assert len(fits) == 1 and scores[0] == scores[1]
    assert scorer.substitutes.resolve((X, y)) is scorer.substitutes.resolve((X, y))
    assert len(fits) == 1
    # a one-off call with (X, y) fits its own; no state outlives it
    adversarial_accuracy(
        hcc,
        Xt[:20],
        yt[:20],
        attack="fgsm",
        eps=0.1,
        mode="black-box",
        substitute=(X, y),
    )
    assert len(fits) == 2
    curve = robustness_curve(
        hcc,
        Xt[:40],
        yt[:40],
        attack="fgsm-search",
        mode="black-box",
        substitute=fit_substitute(X, y),
    )
    assert len(fits) == 3 and curve.median_perturbation > 0
