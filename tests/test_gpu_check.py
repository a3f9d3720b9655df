"""gpu/check.sh on a machine without CUDA: it must stop at once, clearly, having
installed and written nothing (the GPU checks themselves need the device)."""

import os
import subprocess
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_it_refuses_before_doing_anything(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path / "out")}
    done = subprocess.run(["bash", str(ROOT / "gpu" / "check.sh")], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "no CUDA device here" in done.stderr
    assert not (tmp_path / "out").exists() and not (ROOT / "gpu-results").exists()


def test_the_check_script_compiles_and_names_every_estimator():
    source = (ROOT / "gpu" / "check.py").read_text()
    compile(source, "check.py", "exec")
    from sk_guessfirst import __all__ as public

    estimators = [n for n in public if n.endswith("Classifier")]
    assert estimators and all(n in source for n in estimators)


@pytest.mark.slow
def test_the_checks_rehearse_on_the_cpu(tmp_path):
    """The script's own logic, every check but the benchmark and the main job,
    run with device "cpu": what the GPU machine runs is not run for the first
    time there."""
    import json

    env = {**os.environ, "SK_GUESSFIRST_CHECK_DEVICE": "cpu",
           "SK_GUESSFIRST_CHECK_QUICK": "1", "PYTHONPATH": str(ROOT),
           "OMP_NUM_THREADS": "1"}  # fmt: skip  # beside the other test worker
    done = subprocess.run(
        ["python3", str(ROOT / "gpu" / "check.py"), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "check.json").read_text())
    checks = {k: v for k, v in results.items() if k != "environment"}
    # two fits (the device, and "auto") of each of its 8 models, then 6 checks
    fits = [k for k in checks if k.startswith("fit ")]
    assert len(fits) == 16 and len(checks) == 22, sorted(checks)
    assert all(v["ok"] for v in checks.values())
