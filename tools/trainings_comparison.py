"""Two models compared over several trainings (one run folder per seed).

Each seed trains both models anew and attacks its own 500 test images (the seed
orders the test set), so each training gives a paired comparison on its images.
The tests, fixed before the numbers were seen:

- per training: the exact McNemar test on that training's images;
- across trainings, images as the unit: the exact binomial test on the
  discordant images summed over trainings (a stratified McNemar: each stratum's
  discordant pairs are binomial(1/2) under no difference, so their sum is);
- across trainings, the training as the unit: a paired t-test on the per-training
  differences (what a claim about the *method* needs; low power with 3 trainings).

Usage::

    python3 tools/trainings_comparison.py AT C-DV-AT --cell white-box-autoattack-0.15 \
        runs/fashion-at runs/fashion-at-s1 runs/fashion-at-s2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import binomtest, ttest_1samp

from sk_guessfirst._plaindata import load
from sk_guessfirst.adversarial import compare_paired, format_accuracy


def mask(run: Path, model: str, cell: str) -> np.ndarray:
    """The per-image worst-case mask of ``cell`` of ``model`` in a run folder."""
    (path,) = run.glob(f"cells/*/{model}-*/{cell}.npz")
    result, _ = load(path)
    return np.asarray(getattr(result, "worst", result))  # a clean cell is the mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--cell", default="white-box-autoattack-0.15")
    args = parser.parse_args()
    differences, only_a, only_b = [], 0, 0
    print(f"{args.a} vs {args.b}, {args.cell}")
    for run in args.runs:
        seed = json.loads((run / "run.json").read_text())["settings"]["seed"]
        a, b = mask(run, args.a, args.cell), mask(run, args.b, args.cell)
        c = compare_paired(a, b)
        only_a, only_b = only_a + c.only_a, only_b + c.only_b
        differences.append(c.difference)
        print(f"  seed {seed}: {args.a} {format_accuracy(a)}, {args.b} "
              f"{format_accuracy(b)}; {c}")  # fmt: skip
    m = only_a + only_b
    pooled = binomtest(only_a, m, 0.5).pvalue if m else 1.0
    d = np.array(differences)
    print(f"  over {len(d)} trainings: difference {args.a} - {args.b} "
          f"{100 * d.mean():+.1f} points (sd {100 * d.std(ddof=1):.1f})")  # fmt: skip
    print(f"  images as the unit (stratified exact McNemar): {only_a} vs {only_b} "
          f"discordant, p = {pooled:.3g}")  # fmt: skip
    if len(d) > 1:
        t = ttest_1samp(d, 0.0)  # the paired t-test: differences against zero
        print(f"  trainings as the unit (paired t-test, {len(d) - 1} df): "
              f"p = {t.pvalue:.3g}")  # fmt: skip


if __name__ == "__main__":
    main()
