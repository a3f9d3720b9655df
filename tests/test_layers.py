"""The package's layers (docs/architecture.rst): every import, at module level
or inside a function, goes to the same layer or one below; no import circle
among module-level imports; and ``import sk_guessfirst`` loads no attack,
statistics or cluster library."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sk_guessfirst"

# Bottom up, as docs/architecture.rst states them. A module not named here
# belongs to the layer of its package (e.g. adversarial._report -> adversarial).
LAYERS = [
    {"_version", "objectives", "regularizers", "modules", "_plaindata",
     "_iterators", "_docs", "datasets", "_devices", "_validation",
     "_signals"},  # 1. maths, plain data, devices, validation
    {"_base", "estimators", "checkpoint"},  # 2. estimators
    {"attacked"},  # 3. what an attack is given
    {"adversarial_training"},  # 4. training above the estimators
    {"adversarial", "information"},  # 5. evaluation
    {"reproduce"},  # 6. the experiment
    {"benchmarks", "cli", "__main__", "__init__"},  # 7. faces
]  # fmt: skip
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        yield parts, path


def _layer(parts) -> int:
    top = parts[0]
    if top not in LAYER:
        raise AssertionError(
            f"sk_guessfirst/{'/'.join(parts)}.py is in no layer: add it to "
            "LAYERS here and to docs/architecture.rst"
        )
    return LAYER[top]


def _imports(parts, path):
    """(target module parts, line, module-level?) of every internal import."""
    tree = ast.parse(path.read_text())
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    top_level = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - (node.level - 1)])
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "sk_guessfirst":
                target = node.module.split(".")[1:]
            else:
                continue
            names = [a.name for a in node.names]
            targets = [target] if node.module else [target + [n] for n in names]
        elif isinstance(node, ast.Import):
            targets = [a.name.split(".")[1:] for a in node.names
                       if a.name.split(".")[0] == "sk_guessfirst"]  # fmt: skip
        else:
            continue
        for t in targets:
            yield _existing(tuple(t)), node.lineno, id(node) in top_level


def _existing(target):
    """The longest prefix of ``target`` that is a module or package
    (``("__init__",)`` for a name of the package itself)."""
    for n in range(len(target), 0, -1):
        where = PACKAGE.joinpath(*target[:n])
        if where.with_suffix(".py").is_file() or (where / "__init__.py").is_file():
            return target[:n]
    return ("__init__",)


def test_every_import_stays_at_or_below_its_layer():
    climbs = []
    for parts, path in _modules():
        own = _layer(parts)
        for target, line, _ in _imports(parts, path):
            if _layer(target) > own:
                climbs.append(
                    f"sk_guessfirst/{'/'.join(parts)}.py:{line} imports "
                    f"{'.'.join(target)} (layer {_layer(target) + 1} > {own + 1})"
                )
    assert not climbs, "\n".join(climbs)


def test_no_import_circle_at_module_level():
    modules = {parts: path for parts, path in _modules()}

    def resolve(target):  # a name imported from a package is the package
        for n in range(len(target), 0, -1):
            if target[:n] in modules:
                return target[:n]
            if target[:n] + ("__init__",) in modules:
                return target[:n] + ("__init__",)
        return None

    graph = {
        parts: {resolve(t) for t, _, top in _imports(parts, path) if top} - {None}
        for parts, path in modules.items()
    }
    state: dict = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph.get(node, ()):
            if nxt == node:
                continue
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError(
                    "import circle: " + " -> ".join(".".join(p) for p in cycle)
                )
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])


def _loaded(code: str) -> set:
    done = subprocess.run(
        [sys.executable, "-c", code + "; import sys, json; "
         "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("heavy", ["art", "foolbox", "autoattack", "pandas",
                                   "statsmodels", "dask", "distributed",
                                   "matplotlib"])  # fmt: skip
def test_import_sk_guessfirst_loads_no_heavy_library(heavy, loaded):
    package, baseline = loaded
    # pandas comes with scikit-learn itself where it is installed: only what
    # the package adds to what torch, scikit-learn and skorch load counts
    assert heavy not in package - baseline


@pytest.fixture(scope="module")
def loaded():
    return (
        _loaded("import sk_guessfirst"),
        _loaded("import torch, sklearn, skorch, sklearn.utils.fixes"),
    )


def test_help_and_version_import_no_torch():
    code = (
        "import sys\nfrom sk_guessfirst.cli import main\n"
        "for argv in (['--help'], ['--version']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'sklearn' not in sys.modules, 'sklearn was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "reproduce" in done.stdout and "0." in done.stdout  # help, version
