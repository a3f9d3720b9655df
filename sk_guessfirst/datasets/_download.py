"""Download with mirrors, checksum verification and atomic writes.

A file is written under a temporary name in the destination folder, its
decompressed content is checked against the published MD5, and only then is it
renamed into place (``os.replace`` is atomic on one file system). An
interrupted or corrupt download therefore never leaves a file that a later
call would trust.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ._idx import md5_of_content


def _fetch_to(url: str, dest: Path, timeout: float) -> None:
    with (
        urllib.request.urlopen(url, timeout=timeout) as response,
        open(dest, "wb") as f,
    ):
        shutil.copyfileobj(response, f)
        declared = response.headers.get("Content-Length")
    if declared is not None and dest.stat().st_size != int(declared):
        raise OSError(
            f"connection closed after {dest.stat().st_size} of {declared} bytes"
        )


def download_verified(
    filename: str,
    folder: str | Path,
    *,
    mirrors: list[str],
    md5: str,
    timeout: float = 60.0,
) -> Path:
    """Download ``filename`` from the first mirror that serves it intact.

    Parameters
    ----------
    filename : str
        The file's name, appended to each mirror's base URL.
    folder : path-like
        Where the verified file is placed (created if needed).
    mirrors : list of str
        Base URLs tried in order.
    md5 : str
        Expected MD5 of the *decompressed* content.
    timeout : float, default=60.0
        Socket timeout per request, in seconds.

    Returns
    -------
    path : Path
        The verified file.

    Raises
    ------
    OSError
        No mirror served a file with the right checksum; the message lists
        every mirror and what went wrong there. Nothing is left in ``folder``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        # Keep the .gz suffix so that md5_of_content decompresses the part file.
        suffix = ".part.gz" if filename.endswith(".gz") else ".part"
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{filename}.", suffix=suffix, dir=folder
        )
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _fetch_to(url, tmp, timeout)
            got = md5_of_content(tmp)
            if got != md5:
                raise ValueError(f"checksum mismatch: MD5 {got}, expected {md5}")
            os.replace(tmp, target)
            return target
        except (OSError, ValueError, urllib.error.URLError) as exc:
            failures.append(f"  {url}: {exc}")
        finally:
            tmp.unlink(missing_ok=True)
    raise OSError(
        f"could not download {filename}; every mirror failed:\n"
        + "\n".join(failures)
        + "\nCheck your network connection, or pass other mirrors (mirrors=[...] in "
        "Python, --mirror on the command line)."
    )
