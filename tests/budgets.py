"""The small budgets the evaluation tests share."""

from contextlib import contextmanager

import torch

FAST = dict(random_state=0, device="cpu", batch_size=100)
# The MNIST-size trainings (6,000 images): 8 epochs at batch 100, 480 steps
MNIST_BUDGET = dict(max_epochs=8, **FAST)
# small budgets for AutoAttack's slow parts, the same on both sides of a comparison
LIGHT_AA = dict(n_queries=200)
LIGHT_REPORT = {"square": LIGHT_AA, "autoattack": LIGHT_AA}
# The attack and adversarial-training tests' claims are about the attacks, not
# the paper's layer widths: their models keep the architecture's kind (trunk,
# hypothesis head, K scores) with narrower fully connected layers, about a
# sixteenth of the default's cost per step (the examples and the real-data
# tests keep the defaults).
NARROW = dict(module__hidden_units=(128, 64, 32))


@contextmanager
def one_torch_thread():
    """Trained accuracy depends on torch's thread count (float reductions):
    hellinger with IE measured 0.9595 on 1 thread, 0.9485 on 2, each exactly
    repeatable. One thread makes an asserted number the same on every machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
