"""The experiment's models (reproduce/_plan.py): the default run, what each builds."""

import pytest

from sk_guessfirst import AdversarialTrainingClassifier
from sk_guessfirst.adversarial_training import AdversarialHypothesisClassifier
from sk_guessfirst.reproduce import DEFAULT_MODELS, MODELS, Settings
from sk_guessfirst.reproduce._certify import noisy


def test_the_default_run_is_the_papers_models_and_at():
    assert DEFAULT_MODELS == ("CNN", "C-DV", "C-JS", "C-DV-IE", "C-JS-IE", "VIB", "AT")
    assert set(MODELS) - set(DEFAULT_MODELS) == {
        "TRADES", "C-DV-AT", "C-JS-IE-AT", "C-DV-TRADES", "TRADES-6", "C-DV-TRADES-6"
    }  # fmt: skip


@pytest.mark.parametrize(
    "name, cls, params",
    [
        ("AT", AdversarialTrainingClassifier, dict(adv_method="madry")),
        ("TRADES", AdversarialTrainingClassifier, dict(adv_method="trades")),
        ("C-DV-AT", AdversarialHypothesisClassifier,
         dict(adv_method="madry", objective="dv", ie_lambda=0.0)),
        ("C-JS-IE-AT", AdversarialHypothesisClassifier,
         dict(adv_method="madry", objective="js", ie_lambda=0.03, sigma=10.0)),
        ("C-DV-TRADES", AdversarialHypothesisClassifier,
         dict(adv_method="trades", objective="dv", ie_lambda=0.0, trades_beta=1.0)),
        ("TRADES-6", AdversarialTrainingClassifier,
         dict(adv_method="trades", trades_beta=6.0)),
        ("C-DV-TRADES-6", AdversarialHypothesisClassifier,
         dict(adv_method="trades", objective="dv", trades_beta=6.0)),
    ],
)  # fmt: skip
@pytest.mark.parametrize("dataset, eps", [("mnist", 0.3), ("fashion-mnist", 0.15)])
def test_adversarial_models_train_at_the_data_sets_budget(
    name, cls, params, dataset, eps
):
    s = Settings(dataset=dataset, budget="paper", ie_lambda=0.03, sigma=10.0)
    est = MODELS[name].make(s.resolved())
    assert type(est) is cls
    got = est.get_params()
    assert {k: got[k] for k in params} == params
    assert got["adv_eps"] == eps and got["adv_steps"] == 10  # the paper budget's
    assert got["max_epochs"] == 50


def test_a_noisy_model_is_its_model_with_train_noise():
    spec = noisy(MODELS["C-JS-IE"], 0.5)
    est = spec.make(Settings(dataset="mnist", ie_lambda=0.03, sigma=10.0).resolved())
    assert spec.name == "C-JS-IE+N0.5" and not spec.default
    assert est.train_noise == 0.5 and est.objective == "js" and est.ie_lambda == 0.03
