"""How much information IE removes, and at what cost: a sweep of ie_lambda x sigma.

C-DV-IE and C-JS-IE for each ie_lambda and MMD bandwidth sigma (and VIB for
each beta, the information bottleneck that compresses by design), on the
first ``--n-test`` test images: clean accuracy, white-box robust accuracy
under each ``--attacks`` entry at L-inf 0.05 and 0.1 (on the first
``--n-attack`` of them), the label information of
``sk_guessfirst.information`` (per hypothesis: kNN estimate and linear-probe
bound of I(Z_k; Y), probe accuracy, the regulariser's MMD; jointly over the K
hypotheses: the probe bound and accuracy), and I(X; Z): for VIB through its
stochastic encoder, for the others through Z_k + N(0, s^2 I) with
s^2 = tr Cov(Z_k) (a total signal-to-noise ratio of 1, so at most about 0.5
nats for a Gaussian Z_k whatever its dimension; s in the ``ixz_noise``
column). Rows are appended to OUT.csv as each
model finishes; rerunning the command skips the rows already there::

    OMP_NUM_THREADS=1 python3 tools/ie_information_sweep.py OUT.csv   # digits
    OMP_NUM_THREADS=1 python3 tools/ie_information_sweep.py OUT.csv \\
        --dataset mnist --data-home /work/data/mnist --n-train 10000 \\
        --epochs 10 --batch-size 100 --sigmas median 10 \\
        --attacks apgd-ce autoattack --n-attack 200
    python3 tools/ie_information_sweep.py --plot OUT.csv   # OUT.png, OUT.rst
"""

import argparse
import csv
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from sk_guessfirst import HypothesisConditionedClassifier, VIBClassifier
from sk_guessfirst.adversarial import adversarial_accuracy
from sk_guessfirst.datasets import load_dataset
from sk_guessfirst.information import (
    information_measures,
    input_information,
    representation,
)

EPS = (0.05, 0.1)
KEY = ("model", "ie_lambda", "sigma", "beta")


def _float(value):
    return "median" if value == "median" else float(value)


def _label(r):
    if r["model"] == "VIB":
        return f"VIB beta {float(r['beta']):g}"
    return f"C-{r['model']}-IE sigma {r['sigma']}"


def plot(path):
    """Four panels, one line per model and bandwidth (points labelled by
    ie_lambda or beta): label information per hypothesis and jointly against
    clean accuracy; robust accuracy (the last attack at the smallest eps)
    against per-hypothesis information; the information plane I(X; Z)
    against I(Z; Y). And the table of every row as OUT.rst."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(path)))
    groups = {}
    for r in rows:
        groups.setdefault(_label(r), []).append(r)
    robust = [k for k in rows[0] if k.startswith(("apgd-ce_", "autoattack_"))][-2]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
    panels = (
        (axes[0, 0], "clean", "knn", "clean test accuracy (%)",
         "I(Z_k; Y), kNN, mean over k (nats)", "per hypothesis"),
        (axes[0, 1], "clean", "joint_probe", "clean test accuracy (%)",
         "I(Z_1..Z_K; Y), probe bound (nats)", "all hypotheses jointly"),
        (axes[1, 0], "knn", robust, "I(Z_k; Y), kNN (nats)",
         f"{robust.replace('_', ' at ')} (%)", "compression against robustness"),
        (axes[1, 1], "ixz", "knn",
         "I(X; Z_k) (nats; VIB: its encoder, others: noise s^2 = tr Cov Z_k)",
         "I(Z_k; Y), kNN (nats)", "information plane"),
    )  # fmt: skip
    percent = {"clean", robust}
    for (name, group), color in zip(
        groups.items(), plt.cm.tab10(np.arange(len(groups)) % 10), strict=True
    ):
        for ax, xkey, ykey, *_ in panels:
            xs = [float(r[xkey]) * (100 if xkey in percent else 1) for r in group]
            ys = [float(r[ykey]) * (100 if ykey in percent else 1) for r in group]
            ax.plot(xs, ys, marker="o", color=color, label=name, ms=4)
            for r, x, y in zip(group, xs, ys, strict=True):
                lam = r["beta"] if r["model"] == "VIB" else r["ie_lambda"]
                ax.annotate(f"{float(lam):g}", (x, y), fontsize=6,
                            textcoords="offset points", xytext=(3, -8))  # fmt: skip
    entropy = float(rows[0]["entropy"])
    for ax, _, _, xlabel, ylabel, title in panels:
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_title(title, fontsize=9)
    for ax in (axes[0, 0], axes[0, 1]):
        ax.axhline(entropy, color="grey", ls=":", lw=1)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(Path(path).with_suffix(".png"), dpi=100)
    _table(rows, Path(path).with_suffix(".rst"))


def _table(rows, path):
    attacks = [k for k in rows[0] if k.startswith(("apgd-ce_", "autoattack_"))]
    header = ["model", "ie_lambda / beta", "sigma", "clean", *attacks,
              "I(Z_k;Y) kNN", "I(Z_k;Y) probe", "probe acc.", "MMD",
              "I(Z_1..Z_K;Y) probe", "joint probe acc.", "I(X;Z_k)",
              "bounds"]  # fmt: skip

    def pct(v):
        return "" if v in ("", None) else f"{float(v) * 100:.1f}"

    lines = [
        ".. csv-table:: Clean and robust accuracy (%), label information I(Z;Y) "
        f"and input information I(X;Z) (nats; H(Y) = {float(rows[0]['entropy']):.2f}, "
        f"log n = {np.log(int(rows[0]['n'])):.2f}) on {rows[0]['n']} held-out "
        "test images",
        "   :header: " + ", ".join(f'"{h}"' for h in header),
        "",
    ]
    for r in rows:
        vib = r["model"] == "VIB"
        cells = [
            "VIB" if vib else f"C-{r['model']}-IE",
            f"{float(r['beta' if vib else 'ie_lambda']):g}",
            "" if vib else r["sigma"],
            pct(r["clean"]),
            *(pct(r[a]) for a in attacks),
            f"{float(r['knn']):.2f}", f"{float(r['probe']):.2f}",
            pct(r["probe_accuracy"]), f"{float(r['mmd']):.3f}",
            f"{float(r['joint_probe']):.2f}", pct(r["joint_probe_accuracy"]),
            f"{float(r['ixz']):.2f}",
            f"[{float(r['ixz_lower']):.2f}, {float(r['ixz_upper']):.2f}]",
        ]  # fmt: skip
        lines.append("   " + ", ".join(f'"{c}"' for c in cells))
    path.write_text("\n".join(lines) + "\n")


def _models(args):
    """VIB first (cheap, and the reference for I(X; Z)), then each sigma's
    full ie_lambda sweep for each objective."""
    for beta in args.vib_betas:
        yield (
            dict(model="VIB", ie_lambda="", sigma="", beta=beta),
            VIBClassifier(beta=beta),
        )
    for sigma in args.sigmas:
        for objective in args.objectives:
            for lam in args.lambdas:
                yield (
                    dict(model=objective.upper(), ie_lambda=lam, sigma=sigma, beta=""),
                    (
                        HypothesisConditionedClassifier(
                            objective=objective, ie_lambda=lam, sigma=sigma
                        )
                    ),
                )


def _key(row):
    return tuple(str(row[k]) for k in KEY)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="the CSV (appended to; rows present are skipped)")
    parser.add_argument("--plot", action="store_true", help="only draw OUT.png/.rst")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=300)
    parser.add_argument("--n-attack", type=int, default=None,
                        help="test images attacked (default: --n-test)")  # fmt: skip
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--objectives", nargs="+", default=["dv", "js"])
    parser.add_argument("--lambdas", nargs="+", type=float,
                        default=[0.0, 0.01, 0.1, 1.0, 10.0, 100.0])  # fmt: skip
    parser.add_argument("--sigmas", nargs="+", type=_float, default=["median"])
    parser.add_argument("--vib-betas", nargs="+", type=float, default=[])
    parser.add_argument("--attacks", nargs="+", default=["apgd-ce"],
                        choices=["apgd-ce", "autoattack"])  # fmt: skip
    args = parser.parse_args(argv)
    if args.plot:
        plot(args.out)
        return
    torch.set_num_threads(1)
    home = dict(data_home=args.data_home, images=True)
    X, y = load_dataset(args.dataset, **home)
    if args.n_train is not None and args.n_train < len(X):
        pick = np.random.default_rng(0).permutation(len(X))[: args.n_train]
        X, y = X[pick], y[pick]
    Xt, yt = load_dataset(args.dataset, subset="test", **home)
    Xt, yt = Xt[: args.n_test], yt[: args.n_test]
    n_attack = args.n_attack or args.n_test
    out = Path(args.out)
    done = {_key(r) for r in csv.DictReader(open(out))} if out.exists() else set()
    for settings, model in _models(args):
        if _key(settings) in done:
            continue
        start = time.time()
        model.set_params(max_epochs=args.epochs, batch_size=args.batch_size,
                         random_state=0, device="cpu").fit(X, y)  # fmt: skip
        m = information_measures(model, Xt, yt)
        if settings["model"] == "VIB":
            noise = None
        else:  # total signal-to-noise 1: s^2 = tr Cov(Z_k), mean over k
            noise = float(np.sqrt(representation(model, Xt).var(0).sum(-1)).mean())
        if noise == 0:  # a constant representation (dead units): I(X; Z) = 0
            ixz = SimpleNamespace(
                **{f: np.zeros(1) for f in ("estimate", "lower", "upper")}
            )
        else:
            ixz = input_information(model, Xt[:1000], noise=noise)
        row = dict(
            **settings,
            n=len(yt),
            clean=model.score(Xt, yt),
            **{
                f"{attack}_{eps}": adversarial_accuracy(
                    model,
                    Xt[:n_attack],
                    yt[:n_attack],
                    attack=attack,
                    eps=eps,
                    random_state=0,
                )  # fmt: skip
                for attack in args.attacks
                for eps in EPS
            },
            knn=m.knn.mean(),
            knn_max=m.knn.max(),
            probe=m.probe.mean(),
            probe_accuracy=m.probe_accuracy.mean(),
            mmd=m.mmd.mean(),
            joint_probe=m.joint_probe,
            joint_probe_accuracy=m.joint_probe_accuracy,
            entropy=m.entropy,
            ixz=ixz.estimate.mean(),
            ixz_lower=ixz.lower.mean(),
            ixz_upper=ixz.upper.mean(),
            ixz_noise={None: "encoder", 0: "constant Z"}.get(noise, noise),
            seconds=round(time.time() - start, 1),
        )
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()},
              flush=True)  # fmt: skip
        new = not out.exists()
        if not new and next(csv.reader(open(out))) != list(row):
            raise SystemExit(
                f"{out} holds other columns (another --attacks?); write to a new file"
            )
        with open(out, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
    plot(out)


if __name__ == "__main__":
    main()
