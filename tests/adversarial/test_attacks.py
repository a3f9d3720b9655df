"""The attack and view registries (adversarial/_attacks.py): one entry, everywhere."""

from dataclasses import replace

import torch

from sk_guessfirst.adversarial import (
    ATTACKS,
    VIEWS,
    evaluate_attack,
    make_adversarial_scorer,
)


def test_a_new_attack_or_view_is_one_entry_seen_everywhere(hcc, digits, monkeypatch):
    from sk_guessfirst.adversarial._attacks import ATTACKS as registry
    from sk_guessfirst.adversarial._attacks import attack_table_rst
    from sk_guessfirst.attacked._function import View
    from sk_guessfirst.cli import build_parser
    from sk_guessfirst.reproduce._tables import Row

    pgd = ATTACKS["pgd"]
    quick = replace(pgd, name="pgd-5", label="PGD-5", defaults=lambda eps: dict(
        max_iter=5, num_random_init=1), summary="PGD, 5 steps")  # fmt: skip
    monkeypatch.setitem(registry, "pgd-5", quick)
    tanh = View("tanh", "tanh(V)", lambda scores, objective: torch.tanh(scores))
    monkeypatch.setitem(VIEWS, "tanh", tanh)
    _, _, Xt, yt = digits
    result = evaluate_attack(
        hcc, Xt[:30], yt[:30], attack="pgd-5", eps=0.1, view="tanh", random_state=0
    )
    assert result.params["max_iter"] == 5 and result.params["eps_step"] == 0.05
    assert result.accuracy <= hcc.score(Xt[:30], yt[:30])
    scorer = make_adversarial_scorer(attack="pgd-5", eps=0.1, view="tanh")
    assert 0 <= scorer(hcc, Xt[:30], yt[:30]) <= 1
    assert "pgd-5" in attack_table_rst() and "PGD, 5 steps" in attack_table_rst()
    assert Row("pgd-5", "white-box", 0.1, {}, {}, {}).label == "PGD-5 white"
    views = next(a for a in build_parser()._subparsers._group_actions[0].choices[
        "reproduce"]._actions if a.dest == "views")  # fmt: skip
    assert "tanh" in views.choices and "tanh(V)" in views.help
