"""Command line: ``sk-guessfirst reproduce``, ``evaluate``, ``certify``,
``tune`` and ``bench``."""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_INTERRUPTED = 130  # the shell's code for a process stopped by SIGINT
EXIT_TERMINATED = 143  # ... and by SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so that it stops like Ctrl-C does
    (every finished epoch and cell kept) instead of dying mid-write."""


@contextmanager
def _sigterm_as_interrupt():
    def handler(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(
            f"expected an integer in [0, 2**31), got {value}"
        )
    return value


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


def _finite(text, *, low=None, strict=False, what="a number"):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    if low is not None and (value <= low if strict else value < low):
        bound = f"> {low}" if strict else f">= {low}"
        raise argparse.ArgumentTypeError(f"expected {what} {bound}, got {value}")
    return value


def _ie_lambda(text):
    return _finite(text, low=0.0, what="ie_lambda, a number")


def _sigma(text):
    if text == "median":
        return text
    try:
        return _finite(text, low=0.0, strict=True, what="sigma: 'median' or a number")
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(
            f"sigma must be 'median' or a number > 0 ({exc})"
        )


def _device(text):
    from ._devices import resolve_device

    try:
        resolve_device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _common_options():
    """The options reproduce and tune share, in one parent parser."""
    from .datasets import DATASETS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--dataset",
        choices=list(DATASETS),
        default="digits",
        help="default: digits, embedded in scikit-learn (no files needed)",
    )
    common.add_argument(
        "--n-train",
        type=_positive_int,
        default=None,
        help="train on a random subset of this size (default: the whole training set)",
    )
    common.add_argument(
        "--seed", type=_seed, default=0, help="seed of every model, split and attack"
    )
    common.add_argument(
        "--device",
        type=_device,
        default="auto",
        help="auto (CUDA when available), cpu, cuda or cuda:N",
    )
    common.add_argument(
        "--data-home", default=None, help="folder holding the IDX files"
    )
    common.add_argument(
        "--out",
        default=None,
        help="output folder (default: results/<dataset>, results/<dataset>-tune)",
    )
    where = common.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="run the work on a Dask LocalCluster of this many processes on this "
        "machine (one thread each; with CUDA, one GPU per worker through "
        "CUDA_VISIBLE_DEVICES)",
    )
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the work on the Dask cluster of this scheduler (e.g. "
        "tcp://10.0.0.5:8786); --out must be on storage every worker sees",
    )
    common.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="torch threads per task (default: torch's, or 1 with --workers or "
        "--scheduler); the trained numbers depend on it, so it is recorded",
    )
    return common


def _model_options():
    """The models' training options, shared by reproduce and certify."""
    models = argparse.ArgumentParser(add_help=False)
    models.add_argument(
        "--ie-lambda",
        type=_ie_lambda,
        default=0.01,
        help="weight of the IE regulariser in C-DV-IE and C-JS-IE (default 0.01)",
    )
    models.add_argument(
        "--sigma",
        type=_sigma,
        default="median",
        help="MMD kernel bandwidth: 'median' (default) or a number > 0",
    )
    models.add_argument(
        "--batch-size", type=_positive_int, default=250, help="training batch (250)"
    )
    models.add_argument(
        "--seeds",
        nargs="+",
        type=_seed,
        default=None,
        help="several trainings: the whole run once per seed, into OUT/seed-S "
        "(each resumable); reproduce then writes OUT/trainings.md, every cell "
        "per training with its interval, mean and spread (compare two models "
        "with 'sk-guessfirst compare A B OUT/seed-*')",
    )
    return models


def _protocol_options(BUDGETS, PROTOCOL, VIEWS):
    """The evaluation's options, shared by reproduce and evaluate."""
    protocol = argparse.ArgumentParser(add_help=False)
    protocol.add_argument(
        "--budget",
        choices=sorted(BUDGETS),
        default="quick",
        help="; ".join(f"{b.name}: {b.summary}" for b in BUDGETS.values())
        + " (default: quick)",
    )
    protocol.add_argument(
        "--n-eval",
        type=_positive_int,
        default=None,
        help="test images attacked (default: the budget's)",
    )
    protocol.add_argument(
        "--download",
        action="store_true",
        help="download missing MNIST/Fashion-MNIST files (MD5-checked)",
    )
    protocol.add_argument(
        "--mirror",
        nargs="+",
        default=None,
        metavar="URL",
        help="base URLs to download from, instead of the published mirrors",
    )
    protocol.add_argument(
        "--force",
        action="store_true",
        help="start over: delete the models and results in --out",
    )
    protocol.add_argument(
        "--attacks",
        nargs="+",
        default=None,
        choices=sorted({a for a, _ in PROTOCOL}),
        help="rows of the protocol to run (default: all)",
    )
    other_views = [name for name in VIEWS if name != "scores"]
    protocol.add_argument(
        "--views",
        nargs="+",
        default=(),
        choices=other_views,
        help="rerun the white-box FGSM/PGD rows with the attacker handed these "
        "views instead of the raw scores, and flag views that mask gradients: "
        + "; ".join(f"{name}: {VIEWS[name].summary}" for name in other_views),
    )
    protocol.add_argument(
        "--no-curves", action="store_true", help="skip the minimal-perturbation curves"
    )
    protocol.add_argument(
        "--no-report",
        action="store_true",
        help="skip the robustness report (gradient-masking checks)",
    )
    protocol.add_argument("--quiet", action="store_true", help="no progress output")
    return protocol


def _parents():
    """The option groups commands share (their choices from the registries)."""
    from .adversarial import VIEWS
    from .reproduce import BUDGETS, PROTOCOL

    protocol = _protocol_options(BUDGETS, PROTOCOL, VIEWS)
    return _common_options(), protocol, _model_options()


def _reproduce_parser(sub):
    """The ``reproduce`` command's arguments."""
    from .reproduce import DEFAULT_MODELS, MODELS

    common, protocol, models = _parents()
    rep = sub.add_parser(
        "reproduce",
        parents=[common, protocol, models],
        help=COMMANDS["reproduce"].help,
        description="Train CNN, VIB, C-DV, C-JS, C-DV-IE, C-JS-IE, AT and a LeNet-5 "
        "substitute; attack them white- and black-box (FGSM, PGD, PGD-L2 with "
        "cross-entropy and margin losses, C&W, AutoAttack standard), draw "
        "minimal-perturbation curves and run the gradient-masking checklist. "
        "Stopped at any moment, the same command resumes from the last complete "
        "epoch and evaluation cell.",
    )
    rep.set_defaults(func=_reproduce_command)
    rep.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="training epochs per model (default: the budget's; the paper used "
        "200). Raising it on a finished run trains its models further.",
    )
    rep.add_argument(
        "--models",
        nargs="+",
        default=None,
        choices=list(MODELS),
        help="models to train and evaluate (default: "
        + " ".join(DEFAULT_MODELS)
        + "; the substitute always)",
    )
    rep.add_argument(
        "--keep-epochs",
        nargs="+",
        type=_positive_int,
        default=(),
        help="keep a copy of every model at these epochs (e.g. 3 10 25) and plot "
        "clean, white-box and black-box accuracy against training length",
    )
    return rep


def _evaluate_parser(sub):
    """The ``evaluate`` command's arguments."""
    common, protocol, models = _parents()
    ev = sub.add_parser(
        "evaluate",
        parents=[common, protocol],
        help=COMMANDS["evaluate"].help,
        description="Attack the model saved in MODEL (torch.export.save of the "
        "network in eval mode, mapping inputs of --input-shape to one logit per "
        "class of --dataset) white- and black-box with the experiment's protocol, "
        "and write the table, curves and gradient-masking report into --out.",
    )
    ev.set_defaults(func=_evaluate_command)
    ev.add_argument("model", metavar="MODEL", help="a .pt2 file of torch.export")
    ev.add_argument(
        "--input-shape",
        nargs="+",
        type=_positive_int,
        required=True,
        metavar="N",
        help="one input's shape, e.g. 1 28 28 (or 784 for flat rows)",
    )
    ev.add_argument("--name", default=None, help="its column (default: file stem)")
    return ev


def _tune_parser(sub):
    """The ``tune`` command's arguments."""
    common, protocol, models = _parents()
    tune = sub.add_parser(
        "tune",
        parents=[common],
        help=COMMANDS["tune"].help,
        description="GridSearchCV over ie_lambda x sigma for C-DV-IE and C-JS-IE, "
        "scored by clean accuracy and white-box PGD (worst over cross-entropy and "
        "margin losses); the winner has the best robust accuracy averaged over "
        "both objectives among settings whose clean accuracy, averaged over both, "
        "is within 1 point of the best. Writes tune.csv, tune.json and the table "
        "(tune.md, tune.rst) to --out.",
    )
    tune.set_defaults(func=_tune_command)
    tune.add_argument(
        "--epochs",
        type=_positive_int,
        default=10,
        help="epochs per candidate (default 10)",
    )
    tune.add_argument(
        "--ie-lambda",
        nargs="+",
        type=_ie_lambda,
        default=[0.001, 0.003, 0.01, 0.03],
        help="grid of ie_lambda",
    )
    tune.add_argument(
        "--sigma",
        nargs="+",
        type=_sigma,
        default=["median", 1.0, 10.0],
        help="grid of sigma",
    )
    tune.add_argument(
        "--splits",
        type=_positive_int,
        default=2,
        help="random train/test splits (default 2)",
    )
    tune.add_argument(
        "--n-test",
        type=_positive_int,
        default=1000,
        help="held-out images per split, attacked (default 1000)",
    )
    tune.add_argument(
        "--eps",
        type=lambda t: _finite(t, low=0.0, strict=True),
        default=0.15,
        help="L-inf budget of the scoring PGD (0.15)",
    )
    tune.add_argument(
        "--max-iter",
        type=_positive_int,
        default=20,
        help="PGD iterations of the scoring attack (default 20)",
    )
    return tune


def _certify_parser(sub):
    """The ``certify`` command's arguments."""
    from .reproduce import MODELS

    common, protocol, models = _parents()
    cert = sub.add_parser(
        "certify",
        parents=[common, models],
        help=COMMANDS["certify"].help,
        description="Train each model with Gaussian noise of each --noise and "
        "certify its smoothed classifier on the first --n-eval test images "
        "(Cohen et al. 2019's CERTIFY, from ART). Writes certified.csv/.md/.rst/"
        ".png to --out; the largest certifiable radius is "
        "noise * Phi^-1(alpha^(1/n)).",
    )
    cert.set_defaults(func=_certify_command)
    cert.add_argument(
        "--models",
        nargs="+",
        default=["CNN", "C-DV", "C-JS-IE"],
        choices=list(MODELS),
        help="models to train with noise and certify (default: CNN C-DV C-JS-IE)",
    )
    cert.add_argument(
        "--noise",
        nargs="+",
        type=lambda t: _finite(t, low=0.0, strict=True, what="a noise std"),
        default=[0.25, 0.5],
        help="std of the training and smoothing noise (default: 0.25 0.5)",
    )
    cert.add_argument(
        "--epochs", type=_positive_int, default=None,
        help="training epochs (default: the paper budget's for the data set)",
    )  # fmt: skip
    cert.add_argument(
        "--n-eval", type=_positive_int, default=100,
        help="test images certified (default 100)",
    )  # fmt: skip
    cert.add_argument(
        "--n", type=_positive_int, default=10_000,
        help="CERTIFY's estimation samples per image (default 10000)",
    )  # fmt: skip
    cert.add_argument(
        "--n0", type=_positive_int, default=100,
        help="CERTIFY's selection samples per image (default 100)",
    )  # fmt: skip
    cert.add_argument(
        "--alpha",
        type=lambda t: _finite(t, low=0.0, strict=True, what="alpha"),
        default=0.001,
        help="failure probability of each certificate (default 0.001)",
    )
    cert.add_argument("--download", action="store_true", help="as for reproduce")
    cert.add_argument(
        "--force", action="store_true", help="start over: delete models and cells"
    )
    cert.add_argument("--quiet", action="store_true", help="no progress output")
    return cert


def _compare_parser(sub):
    """The ``compare`` command's arguments."""
    common, protocol, models = _parents()
    cmp_ = sub.add_parser(
        "compare",
        help=COMMANDS["compare"].help,
        description="Per run folder (one training each, e.g. one per --seed), "
        "the exact McNemar test of A against B on that training's images; over "
        "all, the stratified exact test (images as the unit) and the paired "
        "t-test (trainings as the unit). Reads stored cells; trains and "
        "computes nothing.",
    )
    cmp_.set_defaults(func=_compare_command)
    cmp_.add_argument("a", metavar="A", help="a model name, e.g. AT")
    cmp_.add_argument("b", metavar="B", help="the other model, e.g. C-DV-AT")
    cmp_.add_argument("runs", metavar="RUN", nargs="+", help="run folders")
    cmp_.add_argument(
        "--cell",
        required=True,
        help="the cell compared, e.g. white-box-autoattack-0.15 or clean, or a "
        "certificate (certify-sigma0.5-n10000-n0100-alpha0.001) with --radius",
    )
    cmp_.add_argument(
        "--radius", type=float, default=None, help="certified L2 radius (certificates)"
    )
    cmp_.add_argument(
        "--epochs", type=_positive_int, default=None, help="the models' length"
    )
    cmp_.add_argument(
        "--table",
        action="store_true",
        help="first, every cell both models hold in every run: each training's "
        "accuracy with its interval, the mean and the spread over trainings",
    )
    return cmp_


def _length_curve_parser(sub):
    """The ``length-curve`` command's arguments."""
    common, protocol, models = _parents()
    curve = sub.add_parser(
        "length-curve",
        help=COMMANDS["length-curve"].help,
        description="Clean, white-box and black-box accuracy per model and kept "
        "epoch, read from the stored cells of one or more run folders of the same "
        "data (later folders win for a point stored in several); writes OUT.rst "
        "and OUT.png and prints the table. Trains and computes nothing.",
    )
    curve.set_defaults(func=_length_curve_command)
    curve.add_argument("runs", metavar="RUN", nargs="+", help="run folders")
    curve.add_argument("--models", nargs="+", required=True, help="model names")
    curve.add_argument("--out", required=True, help="path stem of the table and plot")
    return curve


def _bench_parser(sub):
    """The ``bench`` command's arguments."""
    from .benchmarks import BENCHMARKS

    bench = sub.add_parser("bench", help=COMMANDS["bench"].help)
    bench.set_defaults(func=_bench_command)
    bench.add_argument(
        "--which",
        nargs="+",
        default=list(BENCHMARKS),
        choices=list(BENCHMARKS),
        help="which benchmarks to run (default: all; parallel-main-job alone "
        "takes about 20 minutes on 2 cores)",
    )
    bench.add_argument(
        "--device", type=_device, default="auto", help="auto, cpu, cuda or cuda:N"
    )
    bench.add_argument("--data-home", default=None, help="folder holding MNIST")
    return bench


@dataclass(frozen=True)
class Command:
    """One command: its one-line help (plain data: ``--help`` imports nothing
    heavy) and the function that adds its arguments (importing the
    registries its choices come from)."""

    name: str
    help: str
    arguments: Callable[[Any], argparse.ArgumentParser]


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "reproduce",
            "train the experiment's models (the paper's six and AT) and a substitute, "
            "attack them, write tables and plots (resumable)",
            _reproduce_parser,
        ),
        Command(
            "evaluate",
            "evaluate a saved model (a torch.export file) with the experiment's "
            "protocol: the same table, curves and report (resumable)",
            _evaluate_parser,
        ),
        Command(
            "tune",
            "choose ie_lambda and sigma of the IE regulariser by grid search",
            _tune_parser,
        ),
        Command(
            "certify",
            "certified L2 accuracy by randomized smoothing (models trained with "
            "Gaussian noise, certified with ART's CERTIFY; resumable)",
            _certify_parser,
        ),
        Command(
            "compare",
            "compare two models over several trainings (one run folder each), "
            "from stored cells only",
            _compare_parser,
        ),
        Command(
            "length-curve",
            "the training-length curve across run folders, from stored cells only",
            _length_curve_parser,
        ),
        Command(
            "bench",
            "performance benchmarks (prints ratios)",
            _bench_parser,
        ),
    )
}


def build_parser(only: str | None = "") -> argparse.ArgumentParser:
    """The command line. Every command's arguments by default; with ``only``
    (a command name, or None for none) the others are listed by name and
    help alone, so that ``sk-guessfirst --help`` imports no torch."""
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog="sk-guessfirst",
        description="Hypothesis-conditioned ('Guess First') classifiers: reproduce the "
        "paper's experiment, evaluate any model, certify, compare runs, tune the IE "
        "regulariser, or run the benchmarks.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        if only == "" or only == name:
            command.arguments(sub)
        else:
            sub.add_parser(name, help=command.help)
    return parser


def _settings(args):
    from .reproduce import Settings

    own = {  # reproduce's; evaluate's model is its file
        k: getattr(args, k)
        for k in ("epochs", "ie_lambda", "sigma", "batch_size")
        if hasattr(args, k)
    }
    models = getattr(args, "models", None)
    return Settings(
        dataset=args.dataset,
        budget=args.budget,
        n_eval=args.n_eval,
        n_train=args.n_train,
        seed=args.seed,
        device=args.device,
        data_home=args.data_home,
        attacks=tuple(args.attacks) if args.attacks else None,
        models=tuple(models) if models else None,
        curves=not args.no_curves,
        report=not args.no_report,
        keep_epochs=tuple(sorted(set(getattr(args, "keep_epochs", ())))),
        views=tuple(args.views),
        threads=args.threads,
        **own,
    )


def _tune(args, out):
    from .reproduce._tune import tune_on_dataset

    winner = tune_on_dataset(
        args.dataset, out=out, n_train=args.n_train, seed=args.seed,
        data_home=args.data_home, workers=args.workers, scheduler=args.scheduler,
        threads=args.threads, ie_lambdas=tuple(args.ie_lambda),
        sigmas=tuple(args.sigma), epochs=args.epochs, n_splits=args.splits,
        n_test=args.n_test, eps=args.eps, device=args.device,
        max_iter=args.max_iter,
    )  # fmt: skip
    print(
        f"winner: ie_lambda={winner['ie_lambda']}, sigma={winner['sigma']} "
        f"(details in {out}/tune.csv, tune.json)"
    )


def _error(message):
    print(f"sk-guessfirst: error: {message}", file=sys.stderr)
    return 1


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    # the command named (the first word that is not an option; the top level
    # has no option taking a value): only its arguments are built
    named = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=named if named in COMMANDS else None)
    args = parser.parse_args(argv)
    if getattr(args, "device", "cpu").startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            parser.error(
                f"--device {args.device}: no CUDA device is available here (use auto "
                "or cpu)"
            )
    return args.func(args, parser)


def _compare_command(args, parser):
    from .adversarial import compare_trainings, format_accuracy
    from .reproduce import open_run

    try:
        runs = [open_run(path) for path in args.runs]
        pairs = [
            tuple(
                run.mask(m, args.cell, args.epochs, args.radius)
                for m in (args.a, args.b)
            )
            for run in runs
        ]
    except (OSError, KeyError, TypeError, ValueError) as exc:
        return _error(f"compare: {str(exc).strip(chr(34))}")
    if args.table:
        from .reproduce._across import trainings_markdown

        print(trainings_markdown(runs, [args.a, args.b]))
    radius = f" at radius {args.radius}" if args.radius is not None else ""
    print(f"A = {args.a}, B = {args.b}; {args.cell}{radius}")
    for run, (a, b) in zip(runs, pairs):
        print(f"  {run.path} (seed {run.settings.get('seed')}): A "
              f"{format_accuracy(a)}, B {format_accuracy(b)}")  # fmt: skip
    print(compare_trainings(pairs))
    return 0


def _length_curve_command(args, parser):
    from pathlib import Path

    from .reproduce import open_run
    from .reproduce._across import write_length_curve

    try:
        runs = [open_run(path) for path in args.runs]
        print(write_length_curve(runs, args.models, Path(args.out)), end="")
    except (OSError, KeyError, ValueError) as exc:
        return _error(f"length-curve: {exc}")
    return 0


def _bench_command(args, parser):
    from ._devices import resolve_device
    from .benchmarks import run_all

    run_all(
        tuple(args.which), device=resolve_device(args.device), data_home=args.data_home
    )
    return 0


def _check_settings(settings, parser):
    """Options that contradict each other are usage errors, like bad ones."""
    try:
        settings.resolved()
    except ValueError as exc:
        parser.error(str(exc))


def _on_this_machine(command, args, parser):
    if args.workers is not None or args.scheduler is not None:
        parser.error(f"{command} runs on this machine: drop --workers/--scheduler")


def _per_seed(args, parser, settings, out):
    """(settings, folder) of each training: ``out`` itself, or with --seeds
    one sub-folder per seed."""
    from dataclasses import replace

    if not args.seeds:
        return [(settings, out)]
    if args.seed != 0:
        parser.error("--seed and --seeds: give one of them")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds repeats a seed: {args.seeds}")
    return [(replace(settings, seed=s), f"{out}/seed-{s}") for s in args.seeds]


def _reproduce_command(args, parser):
    from .reproduce import DEFAULT_MODELS, open_run, reproduce
    from .reproduce._run import RunFinished

    settings = _settings(args)
    _check_settings(settings, parser)
    out = args.out or f"results/{args.dataset}"
    runs = _per_seed(args, parser, settings, out)

    def work():
        for seeded, folder in runs:
            try:
                reproduce(
                    seeded,
                    folder,
                    force=args.force,
                    verbose=0 if args.quiet else 1,
                    download=args.download,
                    mirrors=args.mirror,
                    workers=args.workers,
                    scheduler=args.scheduler,
                )
            except RunFinished:
                if not args.seeds:
                    raise
                print(f"{folder}: finished with these settings, kept")
        if args.seeds:
            _write_trainings(
                [open_run(folder) for _, folder in runs],
                list(settings.models or DEFAULT_MODELS),
                Path(out),
            )

    return _resumable(out, work)


def _write_trainings(runs, models, out: Path) -> None:
    from ._plaindata import write_text_atomic
    from .reproduce._across import trainings_markdown
    from .reproduce._tables import markdown_to_rst

    text = trainings_markdown(runs, models)
    write_text_atomic(out / "trainings.md", text)
    write_text_atomic(out / "trainings.rst", markdown_to_rst(text))
    print(f"Trainings compared in {out / 'trainings.md'}")


def _evaluate_command(args, parser):
    from .reproduce import evaluate_saved_model

    _on_this_machine("evaluate", args, parser)
    settings = _settings(args)
    _check_settings(settings, parser)
    out = args.out or f"results/evaluate-{Path(args.model).stem}"
    return _resumable(
        out,
        lambda: evaluate_saved_model(
            args.model, settings, out, input_shape=tuple(args.input_shape),
            name=args.name, force=args.force, verbose=0 if args.quiet else 1,
            download=args.download,
        ),
    )  # fmt: skip


def _certify_command(args, parser):
    from .reproduce import Settings
    from .reproduce._certify import certify_models
    from .reproduce._run import RunFinished

    _on_this_machine("certify", args, parser)
    settings = Settings(
        dataset=args.dataset, budget="paper", epochs=args.epochs,
        n_eval=args.n_eval, n_train=args.n_train, seed=args.seed,
        device=args.device, data_home=args.data_home, ie_lambda=args.ie_lambda,
        sigma=args.sigma, batch_size=args.batch_size, models=tuple(args.models),
        threads=args.threads, curves=False, report=False,
    )  # fmt: skip
    _check_settings(settings, parser)
    out = args.out or f"results/{args.dataset}-certify"
    runs = _per_seed(args, parser, settings, out)

    def work():
        for seeded, folder in runs:
            try:
                certify_models(
                    seeded, folder, noises=tuple(args.noise), n=args.n, n0=args.n0,
                    alpha=args.alpha, force=args.force,
                    verbose=0 if args.quiet else 1, download=args.download,
                )  # fmt: skip
            except RunFinished:
                if not args.seeds:
                    raise
                print(f"{folder}: finished with these settings, kept")

    return _resumable(out, work)


def _tune_command(args, parser):
    out = args.out or f"results/{args.dataset}-tune"
    return _resumable(out, lambda: _tune(args, out), resumes=False)


def _resumable(out, work, resumes=True):
    """Run ``work``; a stop (Ctrl-C, SIGTERM) or a bad input is one clear line
    that says what was kept (``resumes``: the command resumes from ``out``)."""
    try:
        with _sigterm_as_interrupt():
            work()
    except KeyboardInterrupt as exc:
        how = "terminated" if isinstance(exc, Terminated) else "interrupted"
        if not Path(out).exists():
            kept = f"nothing was written ({out} was not created)"
        elif resumes:
            kept = (
                f"every finished epoch and evaluation cell is saved in {out}; run "
                "the same command to resume"
            )
        else:
            kept = (
                "tune keeps no partial search: the same command starts it again "
                f"(finished outputs in {out} are kept)"
            )
        print(f"\nsk-guessfirst: {how}; {kept}.", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    except FileNotFoundError as exc:
        code = _error(exc)
        if "--download" not in str(exc):
            print(
                "sk-guessfirst: hint: pass --download, or --data-home DIR",
                file=sys.stderr,
            )
        return code
    except (ValueError, OSError) as exc:  # FileExistsError, FolderInUse, no scheduler
        return _error(exc)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
