"""How much label information IE removes, and at what cost: a sweep of ie_lambda.

C-DV-IE and C-JS-IE on the embedded digits (1,257 training images, 15
epochs, batch 64, sigma "median", seed 0) for each ie_lambda; on the first
300 test images: clean accuracy, APGD-CE (reference code, 50 iterations) at
L-inf 0.05 and 0.1, and the information measures of
``sk_guessfirst.information`` (per hypothesis: kNN estimate and linear-probe
bound of I(Z_k; Y), probe accuracy, the regulariser's MMD; jointly over the
K hypotheses: the probe bound and accuracy)::

    OMP_NUM_THREADS=1 python3 tools/ie_information_sweep.py OUT.csv
"""

import csv
import sys
import time

import torch

from sk_guessfirst import HypothesisConditionedClassifier
from sk_guessfirst.adversarial import adversarial_accuracy
from sk_guessfirst.datasets import load_dataset
from sk_guessfirst.information import information_measures

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
            objective=objective, ie_lambda=ie_lambda, max_epochs=15, batch_size=64,
            random_state=0, device="cpu",
        ).fit(X, y)  # fmt: skip
        m = information_measures(model, Xt, yt)
        row = dict(
            objective=objective, ie_lambda=ie_lambda, clean=model.score(Xt, yt),
            **{f"apgd_{eps}": adversarial_accuracy(
                model, Xt, yt, attack="apgd-ce", eps=eps, random_state=0, n_iter=50
            ) for eps in (0.05, 0.1)},
            knn=m.knn.mean(), knn_max=m.knn.max(), probe=m.probe.mean(),
            probe_accuracy=m.probe_accuracy.mean(), mmd=m.mmd.mean(),
            joint_probe=m.joint_probe, joint_probe_accuracy=m.joint_probe_accuracy,
            entropy=m.entropy, seconds=time.time() - start,
        )  # fmt: skip
        rows.append(row)
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()},
              flush=True)  # fmt: skip
with open(sys.argv[1], "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
