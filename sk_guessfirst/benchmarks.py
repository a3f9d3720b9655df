"""Performance benchmarks; each prints a ratio against a baseline timed in the same run.

Run with ``sk-guessfirst bench`` (or ``python -m sk_guessfirst bench``). Timing
is the median of ``repeats`` runs after a warm-up, on the paper's architecture
(1x28x28 inputs, K = 10, batch 250) unless stated.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc

import numpy as np
import torch

from .modules import CNNModule, HypothesisConditionedModule
from .regularizers import class_mmd

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


def bench_train_step(repeats=10, device="cpu", ie_lambda=0.01):
    """One optimiser step of C-DV-IE (and C-DV) over one of the CNN."""
    from .objectives import objective_loss

    torch.manual_seed(0)
    x, y = _inputs(device)
    sync = (
        torch.cuda.synchronize
        if torch.device(device).type == "cuda"
        else (lambda: None)
    )

    def stepper(module, loss_fn):
        opt = torch.optim.Adam(module.parameters(), lr=1e-3)
        module.train()

        def run():
            opt.zero_grad()
            loss_fn(module).backward()
            opt.step()
            sync()

        return run

    cnn = CNNModule(SHAPE, K).to(device)
    hcc = HypothesisConditionedModule(SHAPE, K).to(device)

    def cnn_loss(m):
        return torch.nn.functional.cross_entropy(m(x), y)

    def hcc_loss(m, lam, sigma):
        scores, z = m.forward_train(x, with_representation=lam > 0)
        loss = objective_loss(scores, y, "dv")
        if z is not None:
            loss = loss + lam * class_mmd(z.transpose(0, 1), y, sigma).sum()
        return loss

    t_cnn, t_dv, t_ie, t_ie_fixed = _median_times(
        [
            stepper(cnn, cnn_loss),
            stepper(hcc, lambda m: hcc_loss(m, 0.0, "median")),
            stepper(hcc, lambda m: hcc_loss(m, ie_lambda, "median")),
            stepper(hcc, lambda m: hcc_loss(m, ie_lambda, 1.0)),
        ],
        repeats,
    )
    return {
        "cnn_s": t_cnn,
        "dv_s": t_dv,
        "dv_ie_s": t_ie,
        "dv_ie_fixed_s": t_ie_fixed,
        "dv_over_cnn": t_dv / t_cnn,
        "dv_ie_over_cnn": t_ie / t_cnn,
        "dv_ie_fixed_over_cnn": t_ie_fixed / t_cnn,
    }


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

    from .adversarial import as_model_input, to_art
    from .estimators import CNNClassifier, HypothesisConditionedClassifier

    rng = np.random.RandomState(0)
    X = rng.rand(300, 784).astype(np.float32)
    y = np.arange(300) % K
    out = {}
    for name, Est in (("cnn", CNNClassifier), ("hcc", HypothesisConditionedClassifier)):
        est = Est(max_epochs=1, random_state=0, device=device).fit(X, y)
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
        images = as_model_input(est, X[:n])  # ART's image attacks want NCHW
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
        source = _find_file(
            MNIST.files[("train", kind)][0], _candidate_dirs(MNIST, data_home)
        )
        if source is not None:
            _cache_path(source).unlink(missing_ok=True)
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


def run_all(
    which=("inference", "train", "attack", "data"),
    device="cpu",
    data_home=None,
    print_fn=print,
):
    torch.set_num_threads(torch.get_num_threads())
    print_fn(
        f"sk_guessfirst benchmarks: device={device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    results = {}
    if "inference" in which:
        r = results["inference"] = bench_inference(device=device)
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
    if "train" in which:
        r = results["train"] = bench_train_step(device=device)
        print_fn(
            f"training step, batch {BATCH}: CNN {1e3 * r['cnn_s']:.1f} ms, C-DV "
            f"{1e3 * r['dv_s']:.1f} ms, C-DV-IE {1e3 * r['dv_ie_s']:.1f} ms"
        )
        print_fn(
            f"  ratio C-DV/CNN = {r['dv_over_cnn']:.2f}, C-DV-IE/CNN = "
            f"{r['dv_ie_over_cnn']:.2f} (target <= 1.5); with a fixed sigma "
            f"(no median bandwidth) {r['dv_ie_fixed_over_cnn']:.2f}"
        )
    if "attack" in which:
        r = results["attack"] = bench_attack(device=device)
        for name, v in r.items():
            print_fn(
                f"PGD-40 white-box, {name}: "
                f"ART {v['art_images_per_s']:.0f} img/s, plain "
                f"PyTorch {v['plain_images_per_s']:.0f} img/s, ART overhead "
                f"{v['art_overhead']:.2f}x (target <= 1.3)"
            )
    if "data" in which:
        try:
            r = results["data"] = bench_data(data_home)
        except FileNotFoundError as exc:
            print_fn(f"data: skipped ({str(exc).splitlines()[0]})")
        else:
            print_fn(
                f"full MNIST load: first {r['first_s']:.2f}s "
                f"(peak {r['first_peak_mb']:.0f} MB), "
                f"cached {r['cached_s']:.2f}s "
                f"(peak {r['cached_peak_mb']:.0f} MB),"
                f" ratio {r['first_over_cached']:.1f}x"
            )
    return results
