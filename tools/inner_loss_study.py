"""The inner-loss measurement of the user guide ("Adversarial training").

C-DV-AT and C-JS-IE-AT trained on digits (15 epochs, PGD-5 at 0.2) with a
cross-entropy or a margin inner maximisation, then attacked on 300 test
images at 0.2 with PGD-20 (worst of both losses) and AutoAttack standard::

    OMP_NUM_THREADS=1 python3 tools/inner_loss_study.py   # about 12 min, one core
"""

import time

import torch

from sk_guessfirst.adversarial import evaluate_attack
from sk_guessfirst.adversarial_training import AdversarialHypothesisClassifier
from sk_guessfirst.datasets import load_dataset

torch.set_num_threads(1)
X, y = load_dataset("digits", images=True)
Xt, yt = load_dataset("digits", subset="test", images=True)
Xt, yt = Xt[:300], yt[:300]
for objective, ie_lambda in (("dv", 0.0), ("js", 0.01)):
    for loss in ("ce", "margin"):
        start = time.time()
        model = AdversarialHypothesisClassifier(
            objective=objective, ie_lambda=ie_lambda, adv_eps=0.2, adv_steps=5,
            adv_loss=loss, max_epochs=15, batch_size=64, random_state=0,
            device="cpu",
        ).fit(X, y)  # fmt: skip
        pgd = evaluate_attack(
            model, Xt, yt, attack="pgd", eps=0.2, random_state=0, max_iter=20
        )
        aa = evaluate_attack(
            model, Xt, yt, attack="autoattack", eps=0.2, random_state=0
        )
        by_loss = {k: round(v, 3) for k, v in pgd.accuracy_by_loss().items()}
        print(
            objective, ie_lambda, loss, f"clean {model.score(Xt, yt):.3f}", by_loss,
            f"worst {pgd.accuracy:.3f}", f"AA {aa.accuracy:.3f}",
            f"{time.time() - start:.0f}s", flush=True,
        )  # fmt: skip
