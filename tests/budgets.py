"""The small budgets the evaluation tests share."""

FAST = dict(random_state=0, device="cpu", batch_size=100)
# small budgets for AutoAttack's slow parts, the same on both sides of a comparison
LIGHT_AA = dict(n_queries=200)
LIGHT_REPORT = {"square": LIGHT_AA, "autoattack": LIGHT_AA}
