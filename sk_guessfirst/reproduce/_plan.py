"""What the experiment runs, stated once: models, budgets, protocol, paper numbers.

The paper (Zhu, An & Niu, arXiv 2001.03311, Section 3 and Appendix F) trains
six models and a LeNet-5 substitute, then attacks them at L-inf 0.15 and 0.30
and L2 2.0, white-box and black-box (Tables 1 and 2, Figure 3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..adversarial_training import (
    AdversarialHypothesisClassifier,
    AdversarialTrainingClassifier,
)
from ..estimators import (
    CNNClassifier,
    HypothesisConditionedClassifier,
    LeNet5Classifier,
    VIBClassifier,
)


@dataclass(frozen=True)
class ModelSpec:
    """One model of the experiment: a column of the paper's tables."""

    name: str
    make: Callable  # settings -> unfitted estimator
    summary: str
    # in the experiment run without --models (the paper's models and AT);
    # the others beyond the paper run when named
    default: bool = True


def _common(s):
    return dict(
        max_epochs=s.epochs,
        batch_size=s.batch_size,
        random_state=s.seed,
        device=s.device,
    )


def _hcc(objective, ie):
    def make(s):
        extra = dict(ie_lambda=s.ie_lambda, sigma=s.sigma) if ie else {}
        return HypothesisConditionedClassifier(
            objective=objective, **extra, **_common(s)
        )

    return make


def _adversarial(objective=None, ie=False, method="madry", beta=1.0):
    """An adversarially trained model at the data set's AT budget."""

    def make(s):
        adv = dict(
            adv_method=method, adv_eps=AT_EPS[s.dataset],
            adv_steps=BUDGETS[s.budget].adv_steps, trades_beta=beta,
        )  # fmt: skip
        if objective is None:
            return AdversarialTrainingClassifier(**adv, **_common(s))
        extra = dict(ie_lambda=s.ie_lambda, sigma=s.sigma) if ie else {}
        return AdversarialHypothesisClassifier(
            objective=objective, **adv, **extra, **_common(s)
        )

    return make


MODELS = {
    m.name: m
    for m in [
        ModelSpec("CNN", lambda s: CNNClassifier(**_common(s)), "baseline CNN"),
        ModelSpec("C-DV", _hcc("dv", False), "hypothesis model, Donsker-Varadhan"),
        ModelSpec("C-JS", _hcc("js", False), "hypothesis model, Jensen-Shannon"),
        ModelSpec("C-DV-IE", _hcc("dv", True), "C-DV with the IE regulariser"),
        ModelSpec("C-JS-IE", _hcc("js", True), "C-JS with the IE regulariser"),
        ModelSpec(
            "VIB",
            lambda s: VIBClassifier(beta=1e-3, **_common(s)),
            "variational information bottleneck (Alemi et al.), beta 1e-3",
        ),
        ModelSpec(
            "AT",
            _adversarial(),
            "the baseline CNN with Madry et al.'s PGD adversarial training (not in "
            "the paper: the defence the field trusts, for comparison)",
        ),
        ModelSpec(
            "TRADES",
            _adversarial(method="trades"),
            "the baseline CNN trained with TRADES (Zhang et al. 2019), beta 1",
            default=False,
        ),
        ModelSpec(
            "C-DV-AT",
            _adversarial("dv"),
            "C-DV with Madry's PGD adversarial training",
            default=False,
        ),
        ModelSpec(
            "C-JS-IE-AT",
            _adversarial("js", ie=True),
            "C-JS-IE with Madry's PGD adversarial training",
            default=False,
        ),
        ModelSpec(
            "C-DV-TRADES",
            _adversarial("dv", method="trades"),
            "C-DV trained with TRADES, beta 1, on the softmax of its K scores",
            default=False,
        ),
        ModelSpec(
            "TRADES-6",
            _adversarial(method="trades", beta=6.0),
            "the baseline CNN trained with TRADES, beta 6 (Zhang et al.'s reported "
            "MNIST setting, 1/lambda = 6)",
            default=False,
        ),
        ModelSpec(
            "C-DV-TRADES-6",
            _adversarial("dv", method="trades", beta=6.0),
            "C-DV trained with TRADES, beta 6, on the softmax of its K scores",
            default=False,
        ),
    ]
}
DEFAULT_MODELS = tuple(name for name, m in MODELS.items() if m.default)
# Budget of the adversarial training (Madry et al.: 0.3 on MNIST; Fashion-MNIST
# is usually trained at 0.1-0.15, where 0.3 would cost most clean accuracy)
AT_EPS: dict[str, float] = {"digits": 0.3, "mnist": 0.3, "fashion-mnist": 0.15}
SUBSTITUTE = ModelSpec(
    "substitute",
    lambda s: LeNet5Classifier(**_common(s)),
    "LeNet-5 substitute for black-box attacks",
)

# The table: (attack, eps) rows in the paper's order, each in every mode the
# attack supports; PGD-L2 and AutoAttack are not in the paper (see docs).
PROTOCOL = (
    ("fgsm", 0.15),
    ("fgsm", 0.30),
    ("pgd", 0.15),
    ("pgd", 0.30),
    ("cw", 2.0),
    ("pgd-l2", 2.0),
    ("autoattack", 0.15),
    ("autoattack", 0.30),
    ("autoattack-l2", 2.0),
)
# Minimal-perturbation curves (the paper's Figure 3): attack -> modes
CURVES = {
    "fgsm-search": ("white-box", "black-box"),
    "fmn-linf": ("white-box", "black-box"),
    "fmn-l2": ("white-box",),
    "ddn": ("white-box",),
}
# The table's order of modes, the paper's: black-box rows, then white-box rows.
TABLE_MODES = ("black-box", "white-box")
REPORT_EPS = (0.15, 0.30)
# The paper's training length (its tables' numbers are at 200 epochs).
PAPER_EPOCHS = 200
# The training-length study's fixed cheap attack.
LENGTH_ATTACK = ("pgd", 0.15)
# The paper's white-box rows, rerun under each attacker's view.
VIEW_ROWS = (("fgsm", 0.15), ("fgsm", 0.30), ("pgd", 0.15), ("pgd", 0.30))
# A view masks gradients when more of the examples the raw scores' attack
# breaks survive its attack than this share.
MASKING_TOLERANCE = 0.02


@dataclass(frozen=True)
class Budget:
    """How much the experiment spends: epochs, images, attack strength.

    ``attack_params`` overrides the registry's defaults per attack name
    (``sk_guessfirst.adversarial.ATTACKS``), for the table, curves and
    report alike; an empty dict means the registry's strong defaults.
    """

    name: str
    epochs: dict
    n_eval: int
    n_curve: int
    n_report: int
    adv_steps: int = 40
    attack_params: dict = field(default_factory=dict)
    summary: str = ""


BUDGETS: dict[str, Budget] = {
    b.name: b
    for b in [
        Budget(
            "quick",
            epochs={"digits": 30, "mnist": 3, "fashion-mnist": 3},
            n_eval=100,
            n_curve=50,
            n_report=50,
            adv_steps=5,
            attack_params={
                "pgd": {"max_iter": 20},
                "pgd-l2": {"max_iter": 20},
                "cw": {
                    "steps": 50,
                    "binary_search_steps": 5,
                    "stepsize": 0.05,
                    "initial_const": 1.0,
                },
                "fmn-linf": {"steps": 30},
                "fmn-l2": {"steps": 30},
                "ddn": {"steps": 30},
                "autoattack": {"n_queries": 300, "n_iter": 30},
                "autoattack-l2": {"n_queries": 300, "n_iter": 30},
                "square": {"n_queries": 300},
            },
            summary="every model, mode and row at a small budget: minutes on a CPU",
        ),
        Budget(
            "paper",
            epochs={"digits": 30, "mnist": 50, "fashion-mnist": 50},
            n_eval=1000,
            n_curve=1000,
            n_report=200,
            adv_steps=10,
            summary="full strength (registry defaults, AutoAttack standard), 1,000 "
            "test images: hours on a CPU",
        ),
    ]
}

PAPER_MODELS = ("CNN", "C-DV", "C-JS", "C-DV-IE", "C-JS-IE", "VIB")
PAPER = {  # accuracy %, columns in PAPER_MODELS order (paper Tables 1 and 2)
    "mnist": {
        ("clean", "", 0.0): [98.8, 98.9, 99.0, 98.9, 99.0, 99.0],
        ("fgsm", "black-box", 0.15): [65.6, 84.7, 88.0, 91.1, 89.8, 83.6],
        ("fgsm", "black-box", 0.30): [16.0, 32.8, 26.8, 44.6, 40.6, 27.3],
        ("pgd", "black-box", 0.15): [53.7, 84.1, 85.0, 87.2, 87.6, 74.3],
        ("pgd", "black-box", 0.30): [8.4, 24.0, 13.1, 27.7, 27.0, 15.5],
        ("cw", "black-box", 2.0): [63.4, 76.0, 74.4, 79.3, 74.8, 66.7],
        ("fgsm", "white-box", 0.15): [40.8, 54.0, 75.6, 58.7, 82.8, 50.7],
        ("fgsm", "white-box", 0.30): [13.4, 23.8, 74.4, 31.9, 81.1, 19.1],
        ("pgd", "white-box", 0.15): [4.4, 26.2, 69.8, 38.0, 78.0, 11.4],
        ("pgd", "white-box", 0.30): [0.0, 4.8, 29.7, 7.4, 50.0, 1.0],
        ("cw", "white-box", 2.0): [1.5, 34.6, 7.7, 38.8, 9.6, 6.7],
    },
    "fashion-mnist": {
        ("clean", "", 0.0): [91.7, 91.3, 92.0, 90.4, 91.0, 92.3],
        ("fgsm", "black-box", 0.15): [18.2, 52.3, 47.9, 54.9, 51.3, 29.3],
        ("fgsm", "black-box", 0.30): [9.6, 24.2, 19.8, 28.8, 24.7, 15.3],
        ("pgd", "black-box", 0.15): [12.4, 48.6, 45.7, 48.0, 47.6, 24.6],
        ("pgd", "black-box", 0.30): [4.8, 15.3, 11.8, 15.9, 14.5, 6.6],
        ("cw", "black-box", 2.0): [14.9, 20.5, 19.1, 24.7, 21.6, 18.9],
        ("fgsm", "white-box", 0.15): [14.4, 32.6, 43.5, 33.8, 49.3, 27.9],
        ("fgsm", "white-box", 0.30): [7.9, 15.2, 39.7, 18.9, 44.0, 12.5],
        ("pgd", "white-box", 0.15): [3.6, 14.0, 38.5, 17.0, 41.2, 7.7],
        ("pgd", "white-box", 0.30): [0.0, 2.6, 23.4, 5.7, 33.5, 0.0],
        ("cw", "white-box", 2.0): [0.0, 8.4, 2.9, 11.7, 3.5, 0.0],
    },
}


def paper_value(dataset, attack, mode, eps, model):
    """The paper's accuracy (%) for a cell, or None where it has none."""
    row = PAPER.get(dataset, {}).get((attack, mode, round(float(eps), 2)))
    if row is None or model not in PAPER_MODELS:
        return None
    return row[PAPER_MODELS.index(model)]
