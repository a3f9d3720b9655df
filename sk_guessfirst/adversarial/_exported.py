"""A model file received from someone else (``torch.export``'s ``.pt2``), read as data.

``torch.export.load`` is not safe on a file of unknown origin: it unpickles
sample inputs that ``torch.load(weights_only=True)`` refuses
(``weights_only=False`` as a fallback), weights and constants marked
``use_pickle``, custom and opaque objects, the legacy layout's files, and it
loads AOTInductor's compiled libraries. Here the file is read into memory
once, every entry of the archive is checked against what a plain
``torch.export.save`` of a network writes (below), and only then is
``torch.export.load`` given those same bytes, so nothing it reaches can
unpickle or load code. A file with anything else is refused with
:class:`UnsafeModelFile`, naming the entry; nothing in it ran.

What is accepted, relative to the archive's root folder:

- ``archive_format`` (``pt2``), ``archive_version``, ``byteorder``, ``.data/*``
  (version and serialization id);
- ``models/<name>.json``: the graph, as JSON;
- ``data/weights/<name>_weights_config.json`` with no entry marked
  ``use_pickle``, and ``data/weights/weight_<i>``: raw tensor bytes;
- ``data/constants/<name>_constants_config.json`` whose entries are all
  tensors (``tensor_<i>``) not marked ``use_pickle``, and those raw files;
- ``data/sample_inputs/<name>.pt``: read here with
  ``torch.load(weights_only=True)`` (tensors and containers only), so
  torch's own first attempt succeeds and its fallback never runs;
- ``extra/*``: text, read as strings.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

MAX_BYTES = 2**31  # a model file larger than 2 GiB is not a classifier to attack
_META = {"archive_format", "archive_version", "byteorder"}


class UnsafeModelFile(ValueError):
    """A model file holding something that loading it would run or unpickle."""


class ExportedModule(nn.Module):
    """A network saved with ``torch.export.save``, as a module.

    The program is fixed in the mode it was exported in (export it after
    ``model.eval()``), so ``train`` and ``eval`` only set the flag here, and a
    copy shares the program (it is never trained).
    """

    def __init__(self, program: Any) -> None:
        super().__init__()
        self.program = program.module()

    def train(self, mode: bool = True) -> ExportedModule:
        self.training = mode
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.program(x)
        return out

    def __deepcopy__(self, memo: dict) -> ExportedModule:
        return self


def _root(names: list[str]) -> str:
    """The archive's root folder (``torch.export.save`` writes one)."""
    roots = {n.split("/", 1)[0] for n in names if "/" in n}
    if len(roots) != 1:
        raise UnsafeModelFile("not one root folder, as torch.export.save writes")
    return roots.pop() + "/"


def _json(archive: zipfile.ZipFile, name: str) -> Any:
    try:
        return json.loads(archive.read(name).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnsafeModelFile(f"{name} is not JSON ({exc})") from None


def _payloads(config: Any, name: str, allowed_prefix: str) -> set[str]:
    """The raw files a weights or constants config names; refuses pickles."""
    entries = config.get("config") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise UnsafeModelFile(f"{name} is not a payload config")
    files = set()
    for fqn, meta in entries.items():
        if not isinstance(meta, dict):
            raise UnsafeModelFile(f"{name}: entry {fqn!r} is not a payload record")
        path = str(meta.get("path_name", ""))
        if meta.get("use_pickle"):
            raise UnsafeModelFile(
                f"{name} marks {fqn!r} as pickled (use_pickle): loading it would "
                "unpickle it"
            )
        if not path.startswith(allowed_prefix):
            raise UnsafeModelFile(
                f"{name}: {fqn!r} is stored as {path!r}, an object loading would "
                "unpickle (only tensors are read)"
            )
        files.add(path)
    return files


def _sample_inputs_are_tensors(archive: zipfile.ZipFile, name: str) -> None:
    data = archive.read(name)
    if not data:
        return
    try:
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnsafeModelFile(
            f"{name} holds objects other than tensors ({first}): torch.export.load "
            "would unpickle them"
        ) from None


def check_archive(archive: zipfile.ZipFile) -> None:
    """Refuse an archive holding anything but a network's graph, tensors and text.

    Raises
    ------
    UnsafeModelFile
        Naming the first entry that loading would unpickle or run.
    """
    names = [n for n in archive.namelist() if not n.endswith("/")]
    root = _root(names)
    inner = {n[len(root) :] for n in names if n.startswith(root)}
    if len(inner) != len(names):
        raise UnsafeModelFile("entries outside the archive's root folder")
    if "archive_format" not in inner or (
        archive.read(root + "archive_format").decode(errors="replace").strip() != "pt2"
    ):
        raise UnsafeModelFile("not a pt2 archive (no archive_format 'pt2')")
    models = {
        n[len("models/") : -len(".json")]
        for n in inner
        if n.startswith("models/") and n.endswith(".json") and n.count("/") == 1
    }
    if not models:
        raise UnsafeModelFile("no models/<name>.json: not a torch.export program")
    accepted = set(_META) | {n for n in inner if n.startswith((".data/", "extra/"))}
    for model in sorted(models):
        accepted.add(f"models/{model}.json")
        weights = f"data/weights/{model}_weights_config.json"
        constants = f"data/constants/{model}_constants_config.json"
        sample = f"data/sample_inputs/{model}.pt"
        for config, folder, prefix in (
            (weights, "data/weights/", "weight_"),
            (constants, "data/constants/", "tensor_"),
        ):
            if config not in inner:
                raise UnsafeModelFile(f"no {config} (the legacy layout is not read)")
            accepted.add(config)
            files = _payloads(_json(archive, root + config), config, prefix)
            accepted |= {folder + f for f in files}
        if sample in inner:
            _sample_inputs_are_tensors(archive, root + sample)
            accepted.add(sample)
    others = sorted(inner - accepted)
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise UnsafeModelFile(
            f"it holds {shown}, which torch.export.load would unpickle or load as "
            "code (compiled AOTInductor libraries, pickled objects, the legacy "
            "layout) or which a network's export does not write"
        )


def load_exported(path: str | Path) -> ExportedModule:
    """The network of a ``torch.export`` file (``.pt2``), read as data.

    The file is read once; its archive is checked entry by entry (module
    docstring: what is accepted) before ``torch.export.load`` sees the same
    bytes, so loading a file received from someone else runs no code from it.

    Parameters
    ----------
    path : path-like
        A file written by ``torch.export.save`` (of a network exported with a
        dynamic batch dimension, to attack batches of any size).

    Returns
    -------
    module : ExportedModule

    Raises
    ------
    UnsafeModelFile
        The archive holds pickled objects, compiled code or entries a plain
        export does not write; nothing in it ran.
    ValueError
        The file is not a ``torch.export`` program.
    """
    path = Path(path)
    hint = (
        "save the model with torch.export.save(torch.export.export(model.eval(), "
        "(example_input,), dynamic_shapes=({0: torch.export.Dim('batch')},)), path)"
    )
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise UnsafeModelFile(f"{path} is larger than {MAX_BYTES} bytes; refused")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_archive(archive)
    except UnsafeModelFile as exc:
        raise UnsafeModelFile(
            f"{path} is refused: {exc}. Nothing in it was run; {hint}"
        ) from None
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ValueError(
            f"{path} is not a torch.export file ({type(exc).__name__}: {exc}); {hint}"
        ) from None
    try:
        program = torch.export.load(io.BytesIO(data))
    except Exception as exc:  # torch raises many kinds for a foreign file
        raise ValueError(
            f"{path} is not a torch.export file ({type(exc).__name__}: {exc}); {hint}"
        ) from None
    return ExportedModule(program)


__all__ = ["ExportedModule", "UnsafeModelFile", "check_archive", "load_exported"]
