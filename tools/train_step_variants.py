"""One training step (forward, backward, Adam) of the CNN and the hypothesis model
on a batch of 250 MNIST-sized inputs, plain, in channels-last memory format, and
through torch.compile, as achieved GFLOP/s against a 2048^3 float32 matrix product
measured in the same run (2 threads)::

    python3 tools/train_step_variants.py cnn,hcc default,cl,compile
"""

import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from sk_guessfirst.modules import CNNModule, HypothesisConditionedModule

BATCH = 250
MODULES = {
    "cnn": lambda: CNNModule((1, 28, 28), 10),
    "hcc": lambda: HypothesisConditionedModule((1, 28, 28), 10),
}


def bench(kind, variant, x, y, steps=12):
    """Seconds per training step and achieved GFLOP/s of one variant."""
    module = MODULES[kind]()
    if "cl" in variant:
        module = module.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(module.parameters())
    forward = torch.compile(module) if "compile" in variant else module

    def step():
        opt.zero_grad()
        F.cross_entropy(forward(x), y).backward()
        opt.step()

    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(module(x), y).backward()
    flops = counter.get_total_flops()
    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - start) / steps
    return seconds, flops / seconds / 1e9


def peak_gflops(n=2048, repeats=5):
    a, b = torch.rand(n, n), torch.rand(n, n)
    for _ in range(2):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 / ((time.perf_counter() - start) / repeats) / 1e9


def main(kinds, variants):
    torch.set_num_threads(2)
    torch.manual_seed(0)
    x, y = torch.rand(BATCH, 1, 28, 28), torch.randint(0, 10, (BATCH,))
    peak = peak_gflops()
    print(f"peak {peak:.0f} GFLOP/s")
    for kind in kinds:
        for variant in variants:
            try:
                seconds, gflops = bench(kind, variant, x, y)
            except Exception as exc:  # a variant torch cannot run here
                print(kind, variant, "failed", type(exc).__name__, str(exc)[:200])
                continue
            ms = seconds * 1000
            print(f"{kind:5s} {variant:12s} {ms:7.1f} ms/step  {gflops:6.1f} "
                  f"GFLOP/s  {gflops / peak:.0%}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1].split(","), sys.argv[2].split(","))
