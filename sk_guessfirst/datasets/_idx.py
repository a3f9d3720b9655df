"""A strict reader for the IDX format used by MNIST and Fashion-MNIST.

IDX layout: two zero bytes, one type byte, one byte giving the number of
dimensions, then one big-endian uint32 per dimension, then the data. Everything
is checked, so that a truncated download or a file with trailing garbage is
refused with an error naming the file, instead of reaching a model.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

# type byte -> big-endian dtype (the IDX specification's table)
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


# The largest IDX file the loaders read decompresses to 47,040,016 bytes
# (60,000 28x28 images); a file far past that is not one of them, and
# decompressing it whole could exhaust memory (a "gzip bomb").
MAX_BYTES = 256 * 2**20


def read_bytes(path: str | Path, max_bytes: int = MAX_BYTES) -> bytes:
    """Return the content of ``path``, decompressed if it ends in ``.gz``.

    The gzip stream is decompressed in pieces and refused as soon as it
    passes ``max_bytes``, so a small file that inflates to gigabytes never
    reaches memory. Raises ``ValueError`` naming the file when the stream is
    corrupt, truncated or too large.
    """
    path = Path(path)
    too_large = ValueError(
        f"{path} holds more than {max_bytes:,} bytes (decompressed), more than any "
        "IDX file of MNIST or Fashion-MNIST; it is not one of them. Delete it and "
        "download it again (download=True)."
    )
    if path.suffix != ".gz":
        if path.stat().st_size > max_bytes:
            raise too_large
        return path.read_bytes()
    pieces, total = [], 0
    try:
        with gzip.open(path, "rb") as f:
            while piece := f.read(2**20):
                total += len(piece)
                if total > max_bytes:
                    raise too_large
                pieces.append(piece)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(
            f"{path}: corrupt or truncated gzip file ({exc}). Delete it and "
            "download it again (download=True)."
        ) from exc
    return b"".join(pieces)


def md5_of_content(path: str | Path) -> str:
    """MD5 of the file's *decompressed* content, as published for MNIST.

    Parameters
    ----------
    path : str or path-like
        An IDX file, gzip-compressed or not.

    Returns
    -------
    md5 : str
        Hexadecimal digest.
    """
    return hashlib.md5(read_bytes(path)).hexdigest()


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into a native-endian array, checking every field.

    Parameters
    ----------
    raw : bytes
        The whole (decompressed) IDX file.
    name : str, default="<bytes>"
        Used in error messages.

    Returns
    -------
    array : ndarray
        The data with the shape given by the header.

    Raises
    ------
    ValueError
        Bad magic number, unknown type byte, zero dimensions, or a byte count
        that does not match the header.
    """
    if len(raw) < 4:
        raise ValueError(f"{name}: {len(raw)} bytes is too short for an IDX header")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{name}: bad IDX magic number {raw[:4].hex()} (must start with 0000); "
            "this is not an IDX file"
        )
    dtype = _IDX_DTYPES.get(raw[2])
    if dtype is None:
        raise ValueError(f"{name}: unknown IDX data type byte 0x{raw[2]:02x}")
    ndim = raw[3]
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares zero dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: truncated IDX header ({len(raw)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise ValueError(
            f"{name}: file {what}: header shape {shape} needs {expected} bytes, "
            f"found {len(raw)}"
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) strictly.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    array : ndarray
        Its content, in native byte order.

    Raises
    ------
    ValueError
        The file is corrupt or truncated (the message names it).

    Examples
    --------
    >>> from sk_guessfirst.datasets import read_idx  # doctest: +SKIP
    >>> read_idx("train-labels-idx1-ubyte.gz")[:3]  # doctest: +SKIP
    array([5, 0, 4], dtype=uint8)
    """
    return parse_idx(read_bytes(path), str(path))
