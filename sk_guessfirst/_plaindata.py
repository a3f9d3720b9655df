"""Results as plain data: files that are read without running code.

A stored result (an evaluation cell) is one ``.npz`` file read with
``numpy.load(allow_pickle=False)``: its arrays, plus one JSON document that
describes the structure (dicts, lists, tuples, registered result types) and
carries metadata such as the cell's full key. Nothing in such a file can name
a function or a class to import: the JSON may only name the types registered
here with :func:`plain_type`, and those are rebuilt field by field from plain
values. A file that is not of this form (a pickle, a truncated archive, an
unknown type) is refused with :class:`UnreadableFile`, naming the file.

Every file is written to a temporary name in its folder and renamed into
place (:func:`write_atomic`), so a reader never sees half a file.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

FORMAT = 2
# a stored result larger than this unpacked is refused before it is read (the
# largest this package writes, a full MNIST test set of crafted examples, is
# 31 MB); deeper documents than this are not results
MAX_UNPACKED = 256 * 2**20
MAX_DEPTH = 64
_TYPES: dict[str, type] = {}
_UMASK = os.umask(0)
os.umask(_UMASK)


class UnreadableFile(ValueError):
    """A stored file that is not plain data of this package (or is damaged)."""


def plain_type(cls: type) -> type:
    """Class decorator: a dataclass that may be stored as plain data.

    Registered by its class name, which is what the file says; loading rebuilds
    it with ``cls(**fields)`` from plain values only, then calls its
    ``check_plain()`` if it has one (raising ValueError or TypeError for
    fields of the wrong dtype or shape: the file is then refused).
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass")
    if _TYPES.get(cls.__name__, cls) is not cls:
        raise TypeError(f"a plain type named {cls.__name__} is already registered")
    _TYPES[cls.__name__] = cls
    return cls


# -- writing -----------------------------------------------------------------
def write_atomic(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` through ``write(f)`` on a temporary file, then rename.

    The temporary file lives in the same folder (``.<name>.<random>.tmp``) and
    is removed when anything fails (a full disk included), so ``path`` holds
    either its old content or the complete new one.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # as open() would, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        interrupt = _behind(exc, KeyboardInterrupt)
        if interrupt is not None and interrupt is not exc:
            # Ctrl-C inside torch.save surfaces as its writer's RuntimeError
            raise interrupt.with_traceback(None) from None
        cause = _behind(exc, OSError)
        if cause is not None:
            # a full disk says "No space left on device": say where (torch's
            # writer wraps it in a RuntimeError naming no file)
            raise OSError(
                cause.errno, f"cannot write {path}: {cause.strerror or cause}"
            ) from exc
        raise


def _behind(exc: BaseException | None, kind: type) -> Any:
    """The exception of ``kind`` that ``exc`` is, or that it was raised from
    or while handling (its cause or context, followed back)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write text to ``path`` atomically (see :func:`write_atomic`)."""
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, default=str) + "\n")


def write_png_atomic(figure: Any, path: str | Path, dpi: int = 120) -> None:
    """A matplotlib figure saved as PNG to ``path`` atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    write_atomic(path, lambda f: f.write(buffer.getvalue()))


def dump(obj: Any, path: str | Path, meta: dict | None = None) -> None:
    """Store ``obj`` (plain values, arrays, registered types) at ``path`` (.npz).

    ``meta`` (JSON-able) is stored beside it and returned by :func:`load`.
    Raises TypeError, before anything is written, for a value that is not
    plain data.
    """
    arrays: list[np.ndarray] = []
    doc = {"format": FORMAT, "meta": meta or {}, "value": _encode(obj, arrays)}
    members: dict[str, Any] = {f"a{i}": a for i, a in enumerate(arrays)}
    members["document"] = np.array(json.dumps(doc, allow_nan=True))
    write_atomic(path, lambda f: np.savez_compressed(f, **members))


def _encode(value: Any, arrays: list) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return value
    if isinstance(value, np.generic):
        return _encode(value.item(), arrays)
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("arrays of Python objects are not plain data")
        arrays.append(value)
        return {"~array": len(arrays) - 1}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, tuple):
        return {"~tuple": [_encode(v, arrays) for v in value]}
    if isinstance(value, dict):
        return {
            "~dict": [
                [_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()
            ]
        }
    cls = type(value)
    if _TYPES.get(cls.__name__) is cls:
        fields = {
            f.name: _encode(getattr(value, f.name), arrays)
            for f in dataclasses.fields(value)
        }
        return {"~type": cls.__name__, "fields": fields}
    raise TypeError(
        f"{cls.__module__}.{cls.__qualname__} is not plain data: register it with "
        "sk_guessfirst._plaindata.plain_type, or store plain values"
    )


# -- reading -----------------------------------------------------------------
def load(path: str | Path) -> tuple[Any, dict]:
    """The value and metadata stored at ``path`` by :func:`dump`.

    Raises
    ------
    UnreadableFile
        The file is not plain data of this package: a pickle, another format,
        a damaged archive or a type that is not registered. Nothing in it ran.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
        if head != b"PK\x03\x04":
            raise ValueError(f"not an .npz archive: it starts with {head!r}")
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNPACKED:
            raise ValueError(
                f"it unpacks to {unpacked} bytes, more than a result holds "
                f"({MAX_UNPACKED})"
            )
        with np.load(path, allow_pickle=False) as npz:
            doc = json.loads(str(npz["document"][()]))
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ValueError(f"not format {FORMAT} of sk_guessfirst's results")
            arrays = {k: npz[k] for k in npz.files if k != "document"}
            value = _decode(doc["value"], arrays)
    except RecursionError:
        raise UnreadableFile(
            f"{path} is not a stored result of sk_guessfirst (nested deeper than a "
            "result); nothing in it was run. Delete it to recompute it."
        ) from None
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        EOFError,
        zipfile.BadZipFile,
    ) as exc:
        raise UnreadableFile(
            f"{path} is not a stored result of sk_guessfirst ({exc}); nothing in it "
            "was run. Delete it to recompute it."
        ) from exc
    meta = doc.get("meta")
    return value, meta if isinstance(meta, dict) else {}


def _decode(doc: Any, arrays: dict, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels: not a result")
    deeper = depth + 1
    if isinstance(doc, list):
        return [_decode(v, arrays, deeper) for v in doc]
    if not isinstance(doc, dict):
        return doc
    if "~array" in doc:
        return arrays[f"a{int(doc['~array'])}"]
    if "~tuple" in doc:
        return tuple(_decode(v, arrays, deeper) for v in doc["~tuple"])
    if "~dict" in doc:
        return {
            _hashable(_decode(k, arrays, deeper)): _decode(v, arrays, deeper)
            for k, v in doc["~dict"]
        }
    if "~type" in doc:
        cls = _TYPES.get(doc["~type"])
        if cls is None:
            raise TypeError(f"unknown stored type {doc['~type']!r}")
        if not isinstance(doc.get("fields"), dict):
            raise TypeError(f"a stored {cls.__name__} without its fields")
        fields = {k: _decode(v, arrays, deeper) for k, v in doc["fields"].items()}
        names = {f.name for f in dataclasses.fields(cls)}
        if not set(fields) <= names:
            raise TypeError(
                f"{cls.__name__} has no fields {sorted(set(fields) - names)}"
            )
        value = cls(**fields)
        check = getattr(value, "check_plain", None)
        if check is not None:
            check()
        return value
    raise TypeError("a stored mapping without a type tag")


def check_mask(value: Any, name: str, n: int | None = None) -> int:
    """Refuse (ValueError) a stored per-example mask that is not a 1-D boolean
    array (of ``n`` examples, when given); returns its length."""
    if not isinstance(value, np.ndarray) or value.dtype != np.bool_ or value.ndim != 1:
        kind = f"{value.dtype} of shape {value.shape}" if isinstance(
            value, np.ndarray) else type(value).__name__  # fmt: skip
        raise ValueError(f"{name} is {kind}, not a 1-D boolean mask")
    if n is not None and len(value) != n:
        raise ValueError(f"{name} has {len(value)} examples, not {n}")
    return len(value)


def check_vector(value: Any, name: str, kind: str, n: int | None = None) -> int:
    """Refuse a stored per-example array that is not 1-D of dtype ``kind``
    (numpy's kind letters, e.g. "f" or "iu"); returns its length."""
    if not isinstance(value, np.ndarray) or value.ndim != 1 or (
        value.dtype.kind not in kind
    ):  # fmt: skip
        raise ValueError(f"{name} is not a 1-D array of kind {kind!r}")
    if n is not None and len(value) != n:
        raise ValueError(f"{name} has {len(value)} examples, not {n}")
    return len(value)


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    return key
