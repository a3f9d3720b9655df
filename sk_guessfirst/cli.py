"""Command line: ``sk-guessfirst reproduce`` and ``sk-guessfirst bench``."""

from __future__ import annotations

import argparse
import sys

DEFAULT_EPOCHS = {"digits": 30, "mnist": 5, "fashion-mnist": 5}


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _sigma(text):
    if text == "median":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sigma must be 'median' or a number > 0, got {text!r}"
        ) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"sigma must be > 0, got {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sk-guessfirst",
        description="Hypothesis-conditioned ('Guess First') classifiers: reproduce the "
        "paper's experiment, or run the benchmarks.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    rep = sub.add_parser(
        "reproduce",
        help="train the paper's six models and a substitute, attack them, write tables "
        "and plots",
        description="Train CNN, VIB, C-DV, C-JS, C-DV-IE, C-JS-IE and a LeNet-5 "
        "substitute; "
        "run FGSM/PGD (eps 0.15, 0.30) and C&W (L2 2.0), white- and black-box; write "
        "results.md/.csv, curves_*.png and report.md to --out.",
    )
    rep.add_argument(
        "--dataset",
        choices=sorted(DEFAULT_EPOCHS),
        default="digits",
        help="default: digits, embedded in scikit-learn (no files needed)",
    )
    rep.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="training epochs per model (default: 30 digits, 5 MNIST and "
        "Fashion-MNIST; the paper used 200)",
    )
    rep.add_argument(
        "--n-eval",
        type=_positive_int,
        default=200,
        help="test images attacked (default 200)",
    )
    rep.add_argument(
        "--n-train",
        type=_positive_int,
        default=None,
        help="use a random subset of the training set (default: all)",
    )
    rep.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--ie-lambda", type=float, default=0.01)
    rep.add_argument("--sigma", type=_sigma, default="median")
    rep.add_argument("--batch-size", type=_positive_int, default=250)
    rep.add_argument(
        "--out", default=None, help="output folder (default: results/<dataset>)"
    )
    rep.add_argument("--data-home", default=None, help="folder holding the IDX files")
    rep.add_argument(
        "--download",
        action="store_true",
        help="download missing MNIST/Fashion-MNIST files",
    )
    rep.add_argument(
        "--force",
        action="store_true",
        help="overwrite a finished run in --out and retrain its models",
    )
    rep.add_argument(
        "--attacks",
        nargs="+",
        default=["fgsm", "pgd", "cw", "pgd-l2"],
        choices=["fgsm", "pgd", "cw", "pgd-l2"],
        help="attacks of the protocol to run (default: all)",
    )
    rep.add_argument(
        "--no-curves", action="store_true", help="skip the minimal-perturbation curves"
    )
    rep.add_argument(
        "--no-report",
        action="store_true",
        help="skip the robustness report (gradient-masking checks)",
    )
    rep.add_argument("--quiet", action="store_true", help="no progress output")

    bench = sub.add_parser("bench", help="performance benchmarks (prints ratios)")
    bench.add_argument(
        "--which",
        nargs="+",
        default=["inference", "epoch", "attack", "data"],
        choices=["inference", "epoch", "attack", "data"],
    )
    bench.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    bench.add_argument("--data-home", default=None)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from ._base import resolve_device

    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error(
                "--device cuda: no CUDA device is available here (use auto or cpu)"
            )
    device = resolve_device(args.device)
    if args.command == "bench":
        from .benchmarks import run_all

        run_all(tuple(args.which), device=device, data_home=args.data_home)
        return 0

    from .reproduce import Settings, reproduce

    settings = Settings(
        dataset=args.dataset,
        epochs=args.epochs or DEFAULT_EPOCHS[args.dataset],
        n_eval=args.n_eval,
        n_train=args.n_train,
        seed=args.seed,
        device=args.device,
        ie_lambda=args.ie_lambda,
        sigma=args.sigma,
        batch_size=args.batch_size,
        data_home=args.data_home,
        attacks=tuple(args.attacks),
        curves=not args.no_curves,
        report=not args.no_report,
    )
    if settings.ie_lambda < 0:
        parser.error(f"--ie-lambda must be >= 0, got {settings.ie_lambda}")
    try:
        reproduce(
            settings,
            args.out or f"results/{args.dataset}",
            force=args.force,
            verbose=0 if args.quiet else 1,
            download=args.download,
        )
    except (FileNotFoundError, FileExistsError, PermissionError) as exc:
        print(f"sk-guessfirst: error: {exc}", file=sys.stderr)
        if isinstance(exc, FileNotFoundError) and "--download" not in str(exc):
            print(
                "sk-guessfirst: hint: pass --download, or --data-home DIR",
                file=sys.stderr,
            )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
