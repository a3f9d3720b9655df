"""The GPU checks of gpu/check.sh; each is recorded, pass or fail, in check.json.

Every estimator fits with device="cuda" and "auto" (IE included) and predicts;
to_art + PGD, AutoAttack and a Foolbox attack run on CUDA; a CUDA-trained model
pickled and loaded in a process that sees no GPU predicts the same labels; a
CUDA checkpoint loads into a CPU estimator; then the epoch benchmark and the
digits main job with --device cuda, timed.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "gpu-results")
RESULTS: dict = {}
# A CPU rehearsal of the script's logic (the test suite runs it so):
# SK_GUESSFIRST_CHECK_DEVICE=cpu, and SK_GUESSFIRST_CHECK_QUICK=1 skips the
# benchmark and the main job and trains on a fifth of the digits.
DEVICE = os.environ.get("SK_GUESSFIRST_CHECK_DEVICE", "cuda")
QUICK = os.environ.get("SK_GUESSFIRST_CHECK_QUICK") == "1"


def check(name):
    def wrap(fn):
        start = time.perf_counter()
        try:
            detail = fn()
            RESULTS[name] = {"ok": True, "detail": detail}
        except Exception as exc:  # record and go on: one report for all checks
            RESULTS[name] = {"ok": False, "error": repr(exc),
                             "traceback": traceback.format_exc(limit=6)}  # fmt: skip
        RESULTS[name]["seconds"] = round(time.perf_counter() - start, 2)
        print(f"[{'ok' if RESULTS[name]['ok'] else 'FAIL'}] {name} "
              f"({RESULTS[name]['seconds']} s): {RESULTS[name].get('detail', RESULTS[name].get('error'))}")  # fmt: skip
        return fn

    return wrap


from sk_guessfirst import (  # noqa: E402
    AdversarialHypothesisClassifier,
    AdversarialTrainingClassifier,
    CNNClassifier,
    HypothesisConditionedClassifier,
    LeNet5Classifier,
    VIBClassifier,
)
from sk_guessfirst.datasets import load_dataset  # noqa: E402

X, y = load_dataset("digits", images=True)
Xt, yt = (a[:200] for a in load_dataset("digits", subset="test", images=True))
if QUICK:  # the rehearsal checks the logic, not the numbers: a fifth of the data
    X, y, Xt, yt = X[:250], y[:250], Xt[:100], yt[:100]
FAST = dict(max_epochs=3, batch_size=64, random_state=0)
MODELS = {
    "C-DV": lambda d: HypothesisConditionedClassifier(device=d, **FAST),
    "C-DV-IE": lambda d: HypothesisConditionedClassifier(
        ie_lambda=0.03, device=d, **FAST
    ),
    "C-JS-IE": lambda d: HypothesisConditionedClassifier(
        objective="js", ie_lambda=0.03, device=d, **FAST
    ),
    "CNN": lambda d: CNNClassifier(device=d, **FAST),
    "VIB": lambda d: VIBClassifier(device=d, **FAST),
    "LeNet5": lambda d: LeNet5Classifier(device=d, **FAST),
    "AT": lambda d: AdversarialTrainingClassifier(adv_steps=3, device=d, **FAST),
    "C-DV-AT": lambda d: AdversarialHypothesisClassifier(
        adv_steps=3, device=d, **FAST
    ),
}
FITTED = {}

RESULTS["environment"] = {
    "torch": torch.__version__,
    "cuda": torch.version.cuda,
    "device": torch.cuda.get_device_name(0) if DEVICE == "cuda" else DEVICE,
}
print(RESULTS["environment"])

for name, make in MODELS.items():
    for device in (DEVICE, "auto"):

        @check(f"fit {name} device={device}")
        def _(name=name, make=make, device=device):
            clf = make(device).fit(X, y)
            on = next(clf.module_.parameters()).device.type
            assert on == DEVICE, f"module on {on}"
            FITTED[name, device] = clf
            return {"test accuracy": round(float(clf.score(Xt, yt)), 4), "on": on}


@check("to_art + PGD on CUDA (C-DV-IE)")
def _():
    from sk_guessfirst.adversarial import evaluate_attack, to_art

    clf = FITTED["C-DV-IE", DEVICE]
    assert to_art(clf).device.type == DEVICE
    r = evaluate_attack(clf, Xt[:100], yt[:100], attack="pgd", eps=0.1, max_iter=10)
    return r.accuracy_by_loss() | {"worst": r.accuracy}


@check("AutoAttack on CUDA (CNN, 50 images, small budget)")
def _():
    from sk_guessfirst.adversarial import evaluate_attack

    r = evaluate_attack(FITTED["CNN", DEVICE], Xt[:50], yt[:50], attack="autoattack",
                        eps=0.1, n_queries=100, n_iter=10)  # fmt: skip
    return {"accuracy": r.accuracy, "flags": r.flags}


@check("Foolbox FMN on CUDA (C-DV)")
def _():
    from sk_guessfirst.adversarial import robustness_curve

    c = robustness_curve(FITTED["C-DV", DEVICE], Xt[:50], yt[:50], attack="fmn-linf",
                         steps=20)  # fmt: skip
    return {"median perturbation": c.median_perturbation}


@check("randomized smoothing certified on CUDA (C-DV-IE, 10 images, n=200)")
def _():
    from sk_guessfirst.adversarial import certify

    c = certify(FITTED["C-DV-IE", DEVICE], Xt[:10], yt[:10], sigma=0.25, n=200)
    return {"certified at r=0": c.accuracy_at(0.0), "max radius": c.max_radius}


@check("CUDA-trained model pickled, loaded where no GPU is seen")
def _():
    clf = FITTED["C-DV-IE", "auto"]
    path = OUT / "model.pkl"
    path.write_bytes(pickle.dumps(clf))  # our own file, read back by us
    np.save(OUT / "Xt.npy", Xt)
    code = (
        "import pickle, numpy as np, sys; "
        f"m = pickle.loads(open({str(path)!r}, 'rb').read()); "
        f"np.save(sys.argv[1], m.predict_proba(np.load({str(OUT / 'Xt.npy')!r})))"
    )
    env = {"CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": ":".join(sys.path)}
    subprocess.run([sys.executable, "-c", code, str(OUT / "cpu_proba.npy")],
                   check=True, env=env, timeout=300)  # fmt: skip
    cpu = np.load(OUT / "cpu_proba.npy")
    gpu = clf.predict_proba(Xt)
    for f in ("model.pkl", "Xt.npy", "cpu_proba.npy"):
        (OUT / f).unlink()
    same = float(np.mean(cpu.argmax(1) == gpu.argmax(1)))
    assert same == 1.0, f"labels agree on {same:.1%}"
    return {"labels equal": same, "max |p_cpu - p_gpu|": float(np.abs(cpu - gpu).max())}


@check("CUDA checkpoint loaded into a CPU estimator")
def _():
    from sk_guessfirst.checkpoint import fit_or_resume, load_checkpoint

    path = OUT / "cdvie.ckpt"
    gpu = fit_or_resume(MODELS["C-DV-IE"](DEVICE), X, y, path)
    cpu = load_checkpoint(path, MODELS["C-DV-IE"]("cpu"))
    path.unlink()
    same = float(np.mean(cpu.predict(Xt) == gpu.predict(Xt)))
    assert same == 1.0, f"labels agree on {same:.1%}"
    return {"labels equal": same}


def _command(name, args, timeout):
    @check(name)
    def _():
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "sk_guessfirst", *args],
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
        (OUT / f"{name.split()[0]}.log").write_text(done.stdout + done.stderr)
        assert done.returncode == 0, done.stderr[-2000:]
        return {"wall s": round(time.perf_counter() - start, 1),
                "tail": done.stdout.strip().splitlines()[-12:]}  # fmt: skip


if not QUICK:
    _command(f"bench epoch/inference --device {DEVICE}",
             ["bench", "--which", "inference", "epoch", "--device", DEVICE], 400)  # fmt: skip
    _command(f"mainjob reproduce --device {DEVICE} (digits, quick)",
             ["reproduce", "--device", DEVICE, "--out", str(OUT / "mainjob")],
             500)  # fmt: skip

(OUT / "check.json").write_text(json.dumps(RESULTS, indent=2, default=str))
failed = [k for k, v in RESULTS.items() if isinstance(v, dict) and v.get("ok") is False]
print(f"{len(failed)} of {len(RESULTS) - 1} checks failed: {failed}" if failed
      else f"all {len(RESULTS) - 1} checks passed")  # fmt: skip
sys.exit(1 if failed else 0)
