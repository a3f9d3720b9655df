"""ART's configuration file, written once and atomically before ART is imported.

ART (1.20) writes ``~/.art/config.json`` on its first import. Two processes that
import it at once on a fresh home (Dask workers, pytest-xdist, two runs started
together) can race: the second finds no file, then finds the folder the first
made, skips writing, and fails with ``NameError: name '_config' is not defined``
deep inside ``art.config``. Writing ART's own default file, complete, under its
final name before ART is imported leaves ART only the branch that reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile


def art_config_path() -> str:
    """Where ART looks for its configuration (``art/config.py``'s rule)."""
    home = os.path.expanduser("~")
    folder = home if os.access(home, os.W_OK) else "/tmp"
    return os.path.join(folder, ".art", "config.json")


def ensure_art_config() -> None:
    """Write ART's default configuration where none exists, never over one.

    The file appears complete or not at all (a hard link of a finished
    temporary file), so no process reads it half-written. Where the folder
    cannot be written, ART's own handling applies unchanged.
    """
    path = art_config_path()
    if os.path.exists(path):
        return
    folder = os.path.dirname(path)
    text = json.dumps({"ART_DATA_PATH": os.path.join(folder, "data")}, indent=4)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".config-", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf8") as f:
            f.write(text)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # fails, keeping the other's, if one was first
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


ensure_art_config()
