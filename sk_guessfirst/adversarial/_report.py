"""Checks of an honest evaluation (Carlini et al. 2019; Athalye et al. 2018)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from art.utils import to_categorical

from ._art import as_model_input, check_fitted_net, check_X_in_range, to_art
from ._metrics import adversarial_accuracy


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class RobustnessReport:
    """Accuracies under each attack and the gradient-masking checks.

    ``accuracies`` maps a label such as ``"pgd-40 white-box"`` to robust
    accuracy; ``checks`` lists each check with its numbers; ``flags`` the
    checks that failed (a sign of gradient masking or a weak attack).
    """

    eps: float
    accuracies: dict = field(default_factory=dict)
    checks: list = field(default_factory=list)

    @property
    def flags(self):
        return [c for c in self.checks if not c.passed]

    @property
    def worst_case(self):
        """Accuracy under the strongest attack (per-attack minimum)."""
        return min(self.accuracies.values())

    def __str__(self):
        lines = [f"Robustness report at eps={self.eps}", ""]
        lines += [f"  {name:<28} {acc:6.1%}" for name, acc in self.accuracies.items()]
        lines += ["", "Checks:"]
        lines += [
            f"  [{'ok' if c.passed else 'FLAG'}] {c.name}: {c.detail}"
            for c in self.checks
        ]
        return "\n".join(lines)


def input_gradient_stats(estimator, X, y, clip_values=(0.0, 1.0)):
    """Share of examples whose input gradient is all zero, and whether any is NaN."""
    art = to_art(estimator, clip_values=clip_values)
    y_enc = np.searchsorted(estimator.classes_, np.asarray(y))
    grads = art.loss_gradient(
        as_model_input(estimator, X), to_categorical(y_enc, len(estimator.classes_))
    )
    flat = grads.reshape(len(grads), -1)
    return float((np.abs(flat).max(1) == 0).mean()), bool(np.isnan(flat).any())


def robustness_report(
    estimator,
    X,
    y,
    *,
    eps=0.3,
    substitute=None,
    tolerance=0.02,
    clip_values=(0.0, 1.0),
    large_eps=1.0,
    verbose=0,
):
    """Run the attacks an honest L-inf evaluation needs and check their consistency.

    Attacks: FGSM, PGD-40, PGD with 5x the iterations and 5 restarts, APGD-CE
    and (for K >= 3) APGD-DLR (the adaptive attack for models whose logits are
    hypothesis scores), the gradient-free Square attack, PGD transferred from
    the substitute (if given), and PGD at ``large_eps``.

    Checks (each passes or is flagged with its numbers, ``tolerance`` slack):

    - iterative beats single step: PGD <= FGSM;
    - more iterations and restarts do not help: PGD-200x5 >= PGD-40 - tol;
    - white-box beats gradient-free: PGD <= Square;
    - white-box beats black-box transfer: PGD <= transferred PGD;
    - large budgets reach chance: PGD at ``large_eps`` <= 1/K + tol;
    - gradients are usable: no NaN, (almost) no all-zero input gradients.

    Returns
    -------
    report : RobustnessReport
    """
    check_fitted_net(estimator)
    X = check_X_in_range(X, clip_values)
    y = np.asarray(y)
    k = len(estimator.classes_)
    report = RobustnessReport(eps=eps)
    acc = report.accuracies

    def run(label, attack, budget=eps, mode="white-box", **params):
        acc[label] = adversarial_accuracy(
            estimator,
            X,
            y,
            attack=attack,
            eps=budget,
            mode=mode,
            substitute=substitute,
            clip_values=clip_values,
            verbose=verbose,
            **params,
        )
        return acc[label]

    clean = float((estimator.predict(X) == y).mean())
    acc["clean"] = clean
    fgsm = run("fgsm white-box", "fgsm")
    pgd = run("pgd-40 white-box", "pgd")
    strong = run(
        "pgd-200x5 white-box",
        "pgd",
        max_iter=200,
        num_random_init=5,
        eps_step=2.5 * eps / 200,
    )
    run("apgd-ce white-box", "apgd-ce")
    if k >= 3:
        run("apgd-dlr white-box", "apgd-dlr")
    square = run("square (gradient-free)", "square")
    best_white = min(v for name, v in acc.items() if "white-box" in name)
    add = report.checks.append
    add(
        Check(
            "iterative beats single-step",
            pgd <= fgsm + tolerance,
            f"PGD {pgd:.1%} vs FGSM {fgsm:.1%}",
        )
    )
    add(
        Check(
            "more iterations do not help",
            strong >= pgd - tolerance,
            f"PGD-200x5 {strong:.1%} vs PGD-40 {pgd:.1%}",
        )
    )
    add(
        Check(
            "white-box beats gradient-free",
            best_white <= square + tolerance,
            f"best white-box {best_white:.1%} vs Square {square:.1%}",
        )
    )
    if substitute is not None:
        black = run("pgd-40 black-box", "pgd", mode="black-box")
        add(
            Check(
                "white-box beats black-box",
                best_white <= black + tolerance,
                f"best white-box {best_white:.1%} vs transfer {black:.1%}",
            )
        )
    large = run(f"pgd-40 eps={large_eps}", "pgd", budget=large_eps)
    add(
        Check(
            "large eps reaches chance",
            large <= 1.0 / k + tolerance,
            f"{large:.1%} at eps={large_eps} (chance {1.0 / k:.1%})",
        )
    )
    zero, has_nan = input_gradient_stats(estimator, X, y, clip_values)
    add(
        Check(
            "input gradients usable",
            zero <= 0.05 and not has_nan,
            f"{zero:.1%} all-zero, NaN: {has_nan}",
        )
    )
    return report
