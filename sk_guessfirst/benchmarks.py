"""Performance benchmarks; each prints a ratio against a baseline timed in the same run.

Run with ``sk-guessfirst bench`` (or ``python -m sk_guessfirst bench``). Timing
is the median of ``repeats`` runs after a warm-up, on the paper's architecture
(1x28x28 inputs, K = 10, batch 250) unless stated.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from dataclasses import replace

import numpy as np
import torch

from .modules import CNNModule, HypothesisConditionedModule

SHAPE, K, BATCH = (1, 28, 28), 10, 250


def _median_times(fns, repeats, warmup=2):
    """Median seconds of each function, timed round-robin.

    Interleaving the candidates (A, B, C, A, B, C, ...) keeps drift in clock
    speed, caches and thread pools from favouring whichever runs first.
    """
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def _inputs(device, n=BATCH, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *SHAPE, generator=g).to(device)
    y = torch.randint(0, K, (n,), generator=g).to(device)
    return x, y


def bench_inference(repeats=20, device="cpu"):
    """Inference time of the hypothesis model (bias form, naive) over the CNN's."""
    torch.manual_seed(0)
    cnn = CNNModule(SHAPE, K).to(device).eval()
    hcc = HypothesisConditionedModule(SHAPE, K).to(device).eval()
    x, _ = _inputs(device)
    sync = (
        torch.cuda.synchronize
        if torch.device(device).type == "cuda"
        else (lambda: None)
    )

    def timed(f):
        def run():
            with torch.no_grad():
                f(x)
            sync()

        return run

    t_cnn, t_hcc, t_naive = _median_times(
        [timed(cnn), timed(hcc), timed(hcc.forward_naive)], repeats
    )
    return {
        "cnn_s": t_cnn,
        "hcc_s": t_hcc,
        "naive_s": t_naive,
        "hcc_over_cnn": t_hcc / t_cnn,
        "naive_over_cnn": t_naive / t_cnn,
        "naive_over_hcc": t_naive / t_hcc,
    }


def _mnist_or_synthetic(data_home):
    """Full MNIST training set if found, else random images of its size."""
    from .datasets import load_mnist

    try:
        X, y = load_mnist(data_home=data_home, return_X_y=True)
        return X, y, "MNIST"
    except FileNotFoundError:
        rng = np.random.RandomState(0)
        X = rng.rand(60000, 784).astype(np.float32)
        return X, rng.randint(0, K, 60000), "synthetic (MNIST not found)"


EPOCH_MODELS = ("CNN", "C-DV", "C-DV-IE")
# the targets for a full-MNIST epoch, as ratios to the CNN's
EPOCH_TARGETS = {"C-DV": 1.5, "C-DV-IE": 2.0}


def _epoch_estimators(device):
    from .estimators import CNNClassifier, HypothesisConditionedClassifier

    common = dict(
        max_epochs=1, batch_size=BATCH, random_state=0, device=device, input_shape=SHAPE
    )
    return {
        "CNN": CNNClassifier(**common),
        "C-DV": HypothesisConditionedClassifier(objective="dv", **common),
        "C-DV-IE": HypothesisConditionedClassifier(
            objective="dv", ie_lambda=0.01, **common
        ),
    }


def _clock_methods(est, clock, parts):
    """Wrap an estimator's own methods (instance attributes over the class's)
    so that their time adds up in ``clock[part]``: the benchmark times the
    training step that ``fit`` runs, not a copy of it."""

    def timed(method, part):
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            out = method(*args, **kwargs)
            clock[part] += time.perf_counter() - t0
            return out

        return run

    for name, part in parts.items():
        setattr(est, name, timed(getattr(est, name), part))


def bench_epoch(
    data_home=None, device="cpu", repeats=2, breakdown_batches=40, n_train=None
):
    """One full-MNIST training epoch (60,000 images, batch 250) of CNN, C-DV and
    C-DV-IE through ``fit``, timed round-robin, with the ratios to the CNN, the
    ratios' FLOP floors and a per-part breakdown of the estimators' own
    training step (data, forward, objective, and the rest: IE's MMD where on,
    backward and the optimizer step) over ``breakdown_batches`` batches."""
    from skorch.dataset import Dataset
    from torch.utils.data import DataLoader
    from torch.utils.flop_counter import FlopCounterMode

    from ._iterators import batch_iterator

    X, y, source = _mnist_or_synthetic(data_home)
    X, y = X[:n_train], y[:n_train]  # n_train: a smaller epoch (tests)
    ests = _epoch_estimators(device)

    def fit_once(est):
        return lambda: est.fit(X, y)

    times = _median_times([fit_once(e) for e in ests.values()], repeats, warmup=0)
    epoch = dict(zip(ests, times, strict=True))

    # data loading alone, the tensor slicer against skorch's DataLoader default
    dataset = Dataset(X, y)

    def drain(make):
        return lambda: sum(1 for _ in make(dataset, batch_size=BATCH, shuffle=True))

    t_slices, t_loader = _median_times(
        [drain(batch_iterator), drain(DataLoader)], 1, warmup=0
    )

    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else None
    parts, flops = {}, {}
    for name, est in ests.items():
        # the estimator's own step (fit's), its methods timed where they run:
        # forward (infer), the objective (get_loss), and the rest of the step
        # (IE's MMD where on, backward, the optimizer)
        clock = dict.fromkeys(("data", "forward", "objective", "step"), 0.0)
        _clock_methods(est, clock, {"infer": "forward", "get_loss": "objective"})
        batches = iter(est.get_iterator(est.get_dataset(X, y), training=True))
        est.history.new_epoch()
        for _ in range(breakdown_batches):
            t0 = time.perf_counter()
            batch = next(batches)
            t1 = time.perf_counter()
            est.history.new_batch()
            est.train_step(batch)
            if sync:
                sync()
            clock["data"] += t1 - t0
            clock["step"] += time.perf_counter() - t1
        clock["step"] -= clock["forward"] + clock["objective"]
        n_batches = len(X) // BATCH
        parts[name] = {k: v * n_batches / breakdown_batches for k, v in clock.items()}
        est.history.new_batch()
        with FlopCounterMode(display=False) as counter:
            est.train_step(next(batches))
        flops[name] = counter.get_total_flops()
    n_batches = len(X) // BATCH
    peak = peak_gflops(device)
    achieved = {m: flops[m] * n_batches / epoch[m] / 1e9 for m in ests}
    return {
        "source": source,
        "epoch_s": epoch,
        "gflops": achieved,
        "peak_gflops": peak,
        "fraction_of_peak": {m: achieved[m] / peak for m in ests},
        "ratio": {m: epoch[m] / epoch["CNN"] for m in ests},
        "flop_floor": {m: flops[m] / flops["CNN"] for m in ests},
        "parts_s": parts,
        "data_slices_s": t_slices,
        "data_dataloader_s": t_loader,
    }


def peak_gflops(device="cpu", n=2048, repeats=5):
    """This machine's float32 matrix-product rate (GFLOP/s), the reference the
    training epoch's achieved rate is a fraction of."""
    g = torch.Generator().manual_seed(0)
    a, b = (torch.rand(n, n, generator=g).to(device) for _ in range(2))
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else None

    def product():
        a @ b
        if sync:
            sync()

    (seconds,) = _median_times([product], repeats, warmup=2)
    return 2 * n**3 / seconds / 1e9


def _plain_pgd(module, x, y, eps, steps, step_size):
    """Reference L-inf PGD in plain PyTorch (random start, CE loss)."""
    delta = (torch.rand_like(x) * 2 - 1) * eps
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(module(x + delta), y)
        (grad,) = torch.autograd.grad(loss, delta)
        delta = (delta.detach() + step_size * grad.sign()).clamp(-eps, eps)
        delta = (x + delta).clamp(0, 1) - x
    return (x + delta).detach()


def bench_attack(n=250, steps=40, repeats=3, eps=0.3, device="cpu"):
    """Images/s of white-box PGD-40 through to_art vs a plain PyTorch loop."""
    from art.attacks.evasion import ProjectedGradientDescent

    from .adversarial import to_art
    from .estimators import CNNClassifier, HypothesisConditionedClassifier

    rng = np.random.RandomState(0)
    X = rng.rand(300, 784).astype(np.float32)
    y = np.arange(300) % K
    out = {}
    for name, Est in (("cnn", CNNClassifier), ("hcc", HypothesisConditionedClassifier)):
        est = Est(max_epochs=1, random_state=0, device=device, input_shape=SHAPE)
        est.fit(X, y)
        art = to_art(est)
        attack = ProjectedGradientDescent(
            art,
            eps=eps,
            eps_step=2.5 * eps / steps,
            max_iter=steps,
            num_random_init=1,
            batch_size=n,
            verbose=False,
        )
        module = est.module_.eval()
        images = X[:n].reshape(n, *est.input_shape_)  # ART's image attacks want NCHW
        xt = torch.as_tensor(images, device=device)
        yt = torch.as_tensor(y[:n], device=device)
        t_art, t_plain = _median_times(
            [
                lambda: attack.generate(images, y=y[:n]),
                lambda: _plain_pgd(module, xt, yt, eps, steps, 2.5 * eps / steps),
            ],
            repeats,
            warmup=1,
        )
        out[name] = {
            "art_images_per_s": n / t_art,
            "plain_images_per_s": n / t_plain,
            "art_overhead": t_art / t_plain,
        }
    return out


def bench_data(data_home=None):
    """First (decode) and cached load of full MNIST, with peak traced memory."""
    from sklearn.datasets import get_data_home

    from .datasets import load_mnist
    from .datasets._loaders import MNIST, _cache_path, _candidate_dirs, _find_file

    for kind in ("images", "labels"):  # drop cached arrays so the first load decodes
        filename, md5 = MNIST.files[("train", kind)]
        source = _find_file(filename, _candidate_dirs(MNIST, data_home))
        if source is not None:
            _cache_path(source, md5, data_home).unlink(missing_ok=True)
    result = {"cache_dir": str(get_data_home())}
    for label in ("first", "cached"):
        tracemalloc.start()
        start = time.perf_counter()
        load_mnist(data_home=data_home)
        result[f"{label}_s"] = time.perf_counter() - start
        result[f"{label}_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    result["first_over_cached"] = result["first_s"] / result["cached_s"]
    return result


_MEMORY_CHILD = """
import json, resource, sys, torch
torch.set_num_threads(1)
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
kind, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if kind == "score":
    from sk_guessfirst.modules import HypothesisConditionedModule
    chunk = None if b == "None" else int(b)
    m = HypothesisConditionedModule((64,), a, hypothesis_chunk_size=chunk).eval()
    x = torch.randn(250, 64)
    before = peak_mb()
    with torch.no_grad():
        m(x)
    print(json.dumps({"peak_mb": peak_mb() - before}))
else:
    import numpy as np
    from sk_guessfirst import HypothesisConditionedClassifier
    rng = np.random.RandomState(0)
    X = rng.rand(2000, 64).astype(np.float32)
    y = rng.randint(0, 10, 2000)
    clf = HypothesisConditionedClassifier(max_epochs=1, device="cpu", random_state=0,
                                          input_shape=(64,)).fit(X, y)
    rows = rng.rand(a, 64).astype(np.float32)
    before = rss_mb()
    clf.predict_proba(rows)
    print(json.dumps({"growth_mb": rss_mb() - before}))
"""


def _memory_child(*args):
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, *map(str, args)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.splitlines()[-1])


def bench_memory(ks=(10, 200, 2000), chunks=(None, 100, 10, 1), rows=(50_000, 200_000)):
    """Peak memory of scoring one batch of 250 flat inputs (64 features) against
    K and ``hypothesis_chunk_size``, and the resident-memory growth of
    ``predict_proba`` on many rows; each figure from a fresh process (Linux)."""
    scoring = {
        (k, c): _memory_child("score", k, c)["peak_mb"]
        for k in ks
        for c in chunks
        if c is None or c < k
    }
    growth = {n: _memory_child("predict", n, "-")["growth_mb"] for n in rows}
    return {"scoring_peak_mb": scoring, "predict_growth_mb": growth}


AT_IMAGES, AT_STEPS = 5000, 10


def bench_adversarial_training(data_home=None, device="cpu", repeats=1):
    """One epoch of PGD adversarial training (``AT_STEPS`` steps) on
    ``AT_IMAGES`` MNIST images against one plain CNN epoch on the same
    images: the floor of the ratio is ``AT_STEPS + 1`` (every step a forward
    and a backward pass, plus the training step). Beside it, the same
    training with each batch crafted through the public evaluation API
    (``attack_examples``: numpy, checks, a frozen copy, ART), as the package
    did before crafting moved onto the live network."""
    from skorch.dataset import unpack_data

    from .adversarial import attack_examples
    from .adversarial_training import AdversarialTrainingClassifier
    from .estimators import CNNClassifier

    X, y, source = _mnist_or_synthetic(data_home)
    X, y = X[:AT_IMAGES], y[:AT_IMAGES]

    class ThroughART(AdversarialTrainingClassifier):
        def train_step_single(self, batch, **fit_params):
            Xi, yi = unpack_data(batch)
            X_adv = attack_examples(
                self, Xi.numpy().reshape(len(Xi), -1), self.classes_[yi.numpy()],
                attack="pgd", eps=self.adv_eps, loss="ce", batch_size=len(Xi),
                random_state=0, max_iter=self.adv_steps,
            )  # fmt: skip
            X_adv = torch.as_tensor(X_adv).reshape(Xi.shape)
            return CNNClassifier.train_step_single(self, (X_adv, yi), **fit_params)

    common = dict(
        max_epochs=1, batch_size=BATCH, random_state=0, device=device, input_shape=SHAPE
    )
    ests = {
        "CNN": CNNClassifier(**common),
        "AT": AdversarialTrainingClassifier(adv_steps=AT_STEPS, **common),
        "AT through ART": ThroughART(adv_steps=AT_STEPS, **common),
    }
    times = _median_times(
        [lambda e=e: e.fit(X, y) for e in ests.values()], repeats, warmup=0
    )
    epoch = dict(zip(ests, times, strict=True))
    return {
        "source": source,
        "epoch_s": epoch,
        "ratio": epoch["AT"] / epoch["CNN"],
        "floor": AT_STEPS + 1,
        "art_over_torch": epoch["AT through ART"] / epoch["AT"],
    }


def _adversarial_training(device, data_home, print_fn):
    r = bench_adversarial_training(data_home=data_home, device=device)
    e = r["epoch_s"]
    print_fn(
        f"adversarial training, PGD-{AT_STEPS}, one epoch of {AT_IMAGES} "
        f"{r['source']} images: CNN {e['CNN']:.1f} s, AT {e['AT']:.1f} s "
        f"(ratio {r['ratio']:.1f}, floor {r['floor']}), through ART "
        f"{e['AT through ART']:.1f} s ({r['art_over_torch']:.2f}x the torch path)"
    )
    return r


# The parallel benchmarks' work: the digits main job itself (every model, row,
# curve and report: minutes on one thread), and a part of it with three
# models and the fixed-budget rows that runs in about a minute.
PARALLEL_WORK = {
    "main-job": {},
    "quick": dict(
        models=("CNN", "C-DV", "C-DV-IE"), attacks=("fgsm", "pgd"), curves=False,
        report=False,
    ),
}  # fmt: skip


def _noop(i):
    return i


def _worker_imports():
    import sk_guessfirst.reproduce  # noqa: F401  (what a task imports first)


def _cluster_overhead(workers):
    """Seconds to start a LocalCluster as ``reproduce --workers`` does, import
    the package on every worker, and close it: the fixed cost of a run."""
    from .reproduce._cluster import dask_client

    start = time.perf_counter()
    with dask_client(workers, None) as client:
        client.run(_worker_imports)
    return time.perf_counter() - start


def bench_parallel(device="cpu", workers=2, tiny_tasks=400, work="quick"):
    """The experiment serially on 1 and on ``workers`` threads, and on a Dask
    LocalCluster of ``workers`` 1-thread processes: the cluster's time over
    the serial multi-thread time, beside its floor (the 1-thread time over
    ``workers`` times the multi-thread time: perfect scaling of the work).
    ``work`` names the experiment in ``PARALLEL_WORK``. Also the cluster's
    fixed cost (start, imports, close) and the scheduler's cost per task,
    from ``tiny_tasks`` no-op tasks."""
    import tempfile

    from .reproduce import Settings, reproduce
    from .reproduce._cluster import dask_client

    base = Settings(device=device, **PARALLEL_WORK[work])
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="sk-guessfirst-bench-") as tmp:
        for label, threads, cluster in (
            ("serial 1 thread", 1, None),
            (f"serial {workers} threads", workers, None),
            (f"{workers} workers x 1 thread", 1, workers),
        ):
            start = time.perf_counter()
            reproduce(
                replace(base, threads=threads), f"{tmp}/{len(seconds)}", verbose=0,
                workers=cluster,
            )  # fmt: skip
            seconds[label] = time.perf_counter() - start
        overhead = _cluster_overhead(workers)
        with dask_client(workers, None) as client:
            client.gather(client.map(_noop, range(10)))  # warm
            start = time.perf_counter()
            client.gather(client.map(_noop, range(10, 10 + tiny_tasks)))
            per_task = (time.perf_counter() - start) / tiny_tasks
    one, many, dask = seconds.values()
    return {
        "work": work,
        "seconds": seconds,
        "ratio": dask / many,
        "floor": one / (workers * many),
        "cluster_overhead_s": overhead,
        "ratio_without_overhead": (dask - overhead) / many,
        "per_task_ms": 1e3 * per_task,
        "workers": workers,
    }


def _inference(device, data_home, print_fn):
    r = bench_inference(device=device)
    print_fn(
        f"inference, batch {BATCH}: CNN {1e3 * r['cnn_s']:.1f} ms, "
        f"hypothesis model {1e3 * r['hcc_s']:.1f} ms, "
        f"naive concatenation {1e3 * r['naive_s']:.1f} ms"
    )
    print_fn(
        f"  ratio hypothesis/CNN = {r['hcc_over_cnn']:.2f} (target <= 1.15), "
        f"naive/CNN = {r['naive_over_cnn']:.2f}, naive/bias form = "
        f"{r['naive_over_hcc']:.2f}"
    )
    return r


def _epoch(device, data_home, print_fn):
    r = bench_epoch(data_home=data_home, device=device)
    print_fn(f"training epoch, full {r['source']}, batch {BATCH}, through fit:")
    for m in EPOCH_MODELS:
        target = EPOCH_TARGETS.get(m)
        parts = ", ".join(f"{k} {v:.1f}s" for k, v in r["parts_s"][m].items())
        print_fn(
            f"  {m:<8} {r['epoch_s'][m]:6.1f} s  ratio/CNN {r['ratio'][m]:.2f}"
            + (f" (target <= {target})" if target else "")
            + f", FLOP floor {r['flop_floor'][m]:.2f}; breakdown: {parts}"
        )
    print_fn(
        f"  achieved GFLOP/s (forward and backward FLOPs x batches / epoch time) "
        f"against a {r['peak_gflops']:.0f} GFLOP/s float32 matrix product: "
        + ", ".join(
            f"{m} {r['gflops'][m]:.0f} ({r['fraction_of_peak'][m]:.0%})"
            for m in EPOCH_MODELS
        )
    )
    print_fn(
        f"  data loading alone, one epoch: tensor slices {r['data_slices_s']:.2f}s,"
        f" skorch's DataLoader {r['data_dataloader_s']:.2f}s "
        f"({r['data_dataloader_s'] / r['data_slices_s']:.0f}x)"
    )
    return r


def _attack(device, data_home, print_fn):
    r = bench_attack(device=device)
    for name, v in r.items():
        print_fn(
            f"PGD-40 white-box, {name}: "
            f"ART {v['art_images_per_s']:.0f} img/s, plain "
            f"PyTorch {v['plain_images_per_s']:.0f} img/s, ART overhead "
            f"{v['art_overhead']:.2f}x (target <= 1.3)"
        )
    return r


def _data(device, data_home, print_fn):
    try:
        r = bench_data(data_home)
    except FileNotFoundError as exc:
        print_fn(f"data: skipped ({str(exc).splitlines()[0]})")
        return None
    print_fn(
        f"full MNIST load: first {r['first_s']:.2f}s "
        f"(peak {r['first_peak_mb']:.0f} MB), "
        f"cached {r['cached_s']:.2f}s "
        f"(peak {r['cached_peak_mb']:.0f} MB),"
        f" ratio {r['first_over_cached']:.1f}x"
    )
    return r


def _parallel(work):
    def run(device, data_home, print_fn):
        r = bench_parallel(device=device, work=work)
        s = r["seconds"]
        what = PARALLEL_WORK[work].get("models")
        print_fn(
            "parallel, the digits main job"
            + (f" with {', '.join(what)} and its fixed-budget rows" if what else "")
            + ": " + ", ".join(f"{k} {v:.0f} s" for k, v in s.items())
        )  # fmt: skip
        print_fn(
            f"  {r['workers']} workers / serial on {r['workers']} threads = "
            f"{r['ratio']:.2f} (floor {r['floor']:.2f}, target within 10%); "
            f"without the cluster's fixed {r['cluster_overhead_s']:.1f} s (start, "
            f"imports, close) {r['ratio_without_overhead']:.2f}; scheduler "
            f"{r['per_task_ms']:.1f} ms per tiny task"
        )
        return r

    return run


def _memory(device, data_home, print_fn):
    r = bench_memory()
    print_fn("memory: peak resident memory of scoring one batch of 250, MB "
             "above the process's peak before it (0: under it), by K and "
             "hypothesis_chunk_size:")  # fmt: skip
    for (k, chunk), mb in r["scoring_peak_mb"].items():
        print_fn(f"  K={k:<5} chunk={str(chunk):<5} {mb:8.1f} MB")
    growth = r["predict_growth_mb"]
    print_fn(
        "  predict_proba resident growth: "
        + ", ".join(f"{n:,} rows {mb:.0f} MB" for n, mb in growth.items())
        + f" (output alone: {max(growth) * 10 * 8 / 2**20:.0f} MB at the most)"
    )
    return r


def _seconds_of(code: str, repeats: int = 3) -> float:
    """Median wall seconds of a fresh interpreter running ``code``."""
    import statistics
    import subprocess
    import sys

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_import(repeats=3):
    """Import and ``--help`` times in fresh interpreters, against their
    baselines measured in the same run."""
    return {
        "python": _seconds_of("pass", repeats),
        "torch, sklearn, skorch": _seconds_of("import torch, sklearn, skorch", repeats),
        "sk_guessfirst": _seconds_of("import sk_guessfirst", repeats),
        "the estimators": _seconds_of(
            "from sk_guessfirst import HypothesisConditionedClassifier", repeats
        ),
        "--help": _seconds_of(
            "import sys; from sk_guessfirst.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass",
            repeats,
        ),
    }


def _import(device, data_home, print_fn):
    r = bench_import()
    base = r["torch, sklearn, skorch"]
    print_fn("import (fresh interpreters, median of 3):")
    print_fn(f"  import sk_guessfirst {r['sk_guessfirst']:.2f} s (python alone "
             f"{r['python']:.2f} s)")  # fmt: skip
    est = r["the estimators"]
    print_fn(f"  the estimators / torch, sklearn, skorch = {est:.2f} / {base:.2f} s "
             f"= {est / base:.2f} (target <= 1.2)")  # fmt: skip
    print_fn(f"  sk-guessfirst --help {r['--help']:.2f} s (target < 0.5 s idle)")
    return r


def _masking(device, data_home, print_fn):
    from .adversarial._zoo import masking_benchmark

    return masking_benchmark(print_fn=print_fn)


# Every benchmark by name: (device, data_home, print_fn) -> its figures, printed.
BENCHMARKS = {
    "import": _import,
    "inference": _inference,
    "epoch": _epoch,
    "attack": _attack,
    "data": _data,
    "memory": _memory,
    "masking": _masking,
    "adversarial-training": _adversarial_training,
    "parallel": _parallel("quick"),
    "parallel-main-job": _parallel("main-job"),
}


def run_all(which=tuple(BENCHMARKS), device="cpu", data_home=None, print_fn=print):
    """Run the benchmarks named in ``which`` (in registry order), printing each."""
    unknown = set(which) - set(BENCHMARKS)
    if unknown:
        raise ValueError(
            f"unknown benchmark(s) {sorted(unknown)}; choose from {list(BENCHMARKS)}"
        )
    torch.set_num_threads(torch.get_num_threads())
    print_fn(
        f"sk_guessfirst benchmarks: device={device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    results = {}
    for name, bench in BENCHMARKS.items():
        if name in which:
            r = bench(device, data_home, print_fn)
            if r is not None:
                results[name] = r
    return results
