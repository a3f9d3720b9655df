"""A stronger targeted attack on adversarially trained models of a run folder.

On Fashion-MNIST at eps 0.15, AutoAttack standard leaves C-DV-AT 3.2 points
above AT, and all of that gap is APGD-T's (the targeted DLR attack, one
restart per target): APGD-CE and PGD-40 find the two equal. This asks
whether the gap survives a stronger run of the same attack: APGD-T with
more restarts (``--restarts``) and iterations (``--iterations``) on the
run's own attacked images, each model loaded from the run folder's
checkpoint, and the per-example worst case with the stored AutoAttack
cell. Prints, per model, the robust accuracy of each and of the worst case,
and the per-example comparison (McNemar's exact test) of every pair::

    OMP_NUM_THREADS=1 python3 tools/targeted_attack_check.py /work/runs/fashion-at \\
        --models AT C-DV-AT --eps 0.15 --restarts 5
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from sklearn.base import clone

from sk_guessfirst.adversarial import compare_paired, evaluate_attack
from sk_guessfirst.checkpoint import data_fingerprint, load_checkpoint
from sk_guessfirst.datasets import load_experiment_data
from sk_guessfirst.reproduce import MODELS, Settings, open_run


def mcnemar(a, b):
    """Exact two-sided McNemar of paired boolean masks; (a only, b only, p)."""
    c = compare_paired(a, b)
    return c.only_a, c.only_b, c.pvalue


def stored(run, model, epochs, eps):
    """The stored AutoAttack cell of ``model`` (robust mask, per example)."""
    return run.mask(model, f"white-box-autoattack-{eps}", epochs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a reproduce run folder")
    parser.add_argument("--models", nargs="+", default=["AT", "C-DV-AT"])
    parser.add_argument("--eps", type=float, default=0.15)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None, help="JSON of the masks")
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = open_run(args.run)
    run = {"settings": folder.settings, "data": folder.data}
    fields = set(Settings.__dataclass_fields__)
    settings = Settings(**{k: v for k, v in run["settings"].items() if k in fields})
    _, _, Xt, yt = load_experiment_data(
        settings.dataset, n_train=settings.n_train, seed=settings.seed,
        data_home=settings.data_home,
    )  # fmt: skip
    X, y = Xt[: settings.n_eval], yt[: settings.n_eval]
    # the stored cells' masks are per example: other images would pair silently
    if data_fingerprint(X, y) != run["data"]["eval"]:
        sys.exit(
            f"the {settings.dataset} test images loaded here are not those the run "
            f"attacked (fingerprint {data_fingerprint(X, y)} against "
            f"{run['data']['eval']} in its run.json): other files under the data home?"
        )
    masks = {}
    for name in args.models:
        (path,) = args.run.glob(f"models/*/{name}.ckpt")
        model = load_checkpoint(path, clone(MODELS[name].make(settings)))
        start = time.time()
        result = evaluate_attack(
            model, X, y, attack="apgd-t", eps=args.eps, random_state=0,
            n_restarts=args.restarts, n_iter=args.iterations,
        )  # fmt: skip
        strong = result.worst
        aa = stored(folder, name, settings.epochs, args.eps)
        masks[name] = {"apgd-t strong": strong, "autoattack": aa, "worst": strong & aa}
        print(
            f"{name}: clean {result.clean.mean():.1%}, AutoAttack {aa.mean():.1%}, "
            f"APGD-T x{args.restarts} restarts {strong.mean():.1%}, worst of both "
            f"{(strong & aa).mean():.1%} ({time.time() - start:.0f} s)",
            flush=True,
        )
    names = list(masks)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for kind in ("autoattack", "apgd-t strong", "worst"):
                only_a, only_b, p = mcnemar(masks[a][kind], masks[b][kind])
                print(
                    f"{kind}: {a} only {only_a}, {b} only {only_b}, McNemar p {p:.3f}"
                )
    if args.out is not None:
        args.out.write_text(
            json.dumps(
                {m: {k: v.tolist() for k, v in d.items()} for m, d in masks.items()}
            )
        )


if __name__ == "__main__":
    main()
