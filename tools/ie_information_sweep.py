"""How much label information IE removes, and at what cost: a sweep of ie_lambda.

C-DV-IE and C-JS-IE on the embedded digits (1,257 training images, 15
epochs, batch 64, sigma "median", seed 0) for each ie_lambda; on the first
300 test images: clean accuracy, APGD-CE (reference code, 50 iterations) at
L-inf 0.05 and 0.1, and the information measures of
``sk_guessfirst.information`` (per hypothesis: kNN estimate and linear-probe
bound of I(Z_k; Y), probe accuracy, the regulariser's MMD; jointly over the
K hypotheses: the probe bound and accuracy)::

    OMP_NUM_THREADS=1 python3 tools/ie_information_sweep.py OUT.csv
    python3 tools/ie_information_sweep.py --plot OUT.csv   # OUT.png from the csv
"""

import csv
import sys
import time
from pathlib import Path

import torch

from sk_guessfirst import HypothesisConditionedClassifier
from sk_guessfirst.adversarial import adversarial_accuracy
from sk_guessfirst.datasets import load_dataset
from sk_guessfirst.information import information_measures


def plot(path):
    """The information plane: per-hypothesis and joint probe information
    against clean and APGD-CE accuracy, one point per ie_lambda."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(path)))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, objective in zip(axes, ("dv", "js"), strict=True):
        group = [r for r in rows if r["objective"] == objective]
        lam = [float(r["ie_lambda"]) for r in group]
        for key, label, marker in (
            ("knn", "I(Z_k; Y), kNN (mean over k)", "o"),
            ("probe", "I(Z_k; Y), probe bound", "s"),
            ("joint_probe", "I(Z_1..Z_K; Y), probe bound", "^"),
        ):
            ax.plot(
                [float(r["clean"]) * 100 for r in group],
                [float(r[key]) for r in group],
                marker=marker,
                label=label,
            )
        for r, lm in zip(group, lam, strict=True):
            ax.annotate(
                f"{lm:g}",
                (float(r["clean"]) * 100, float(r["knn"])),
                textcoords="offset points",
                xytext=(4, -10),
                fontsize=7,
            )
        ax.axhline(float(group[0]["entropy"]), color="grey", ls=":", lw=1)
        ax.set_title(f"C-{objective.upper()}-IE on digits (labels: ie_lambda)")
        ax.set_xlabel("clean test accuracy (%)")
    axes[0].set_ylabel("nats (dotted: H(Y))")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(Path(path).with_suffix(".png"), dpi=110)


if sys.argv[1] == "--plot":
    plot(sys.argv[2])
    sys.exit(0)
torch.set_num_threads(1)
LAMBDAS = (0.0, 0.01, 0.1, 1.0, 10.0, 100.0)
X, y = load_dataset("digits", images=True)
Xt, yt = load_dataset("digits", subset="test", images=True)
Xt, yt = Xt[:300], yt[:300]
rows = []
for objective in ("dv", "js"):
    for ie_lambda in LAMBDAS:
        start = time.time()
        model = HypothesisConditionedClassifier(
            objective=objective,
            ie_lambda=ie_lambda,
            max_epochs=15,
            batch_size=64,
            random_state=0,
            device="cpu",
        ).fit(X, y)
        m = information_measures(model, Xt, yt)
        row = dict(
            objective=objective,
            ie_lambda=ie_lambda,
            clean=model.score(Xt, yt),
            **{
                f"apgd_{eps}": adversarial_accuracy(
                    model, Xt, yt, attack="apgd-ce", eps=eps, random_state=0, n_iter=50
                )
                for eps in (0.05, 0.1)
            },
            knn=m.knn.mean(),
            knn_max=m.knn.max(),
            probe=m.probe.mean(),
            probe_accuracy=m.probe_accuracy.mean(),
            mmd=m.mmd.mean(),
            joint_probe=m.joint_probe,
            joint_probe_accuracy=m.joint_probe_accuracy,
            entropy=m.entropy,
            seconds=time.time() - start,
        )
        rows.append(row)
        print(
            {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()},
            flush=True,
        )
with open(sys.argv[1], "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
plot(sys.argv[1])
