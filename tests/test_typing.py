"""The typed public API as a user meets it: ``mypy --strict`` on a user's
script, against the installed package (py.typed), accepts correct use and
catches mistakes. The package must be installed where mypy can see it: a
wheel, or an editable install in compat mode (``pip install -e .
--config-settings editable_mode=compat``; setuptools' default editable
finder is invisible to mypy)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "typing"
CONFIG = """\
[mypy]
strict = True

[mypy-sklearn.*]
ignore_missing_imports = True
"""


@pytest.mark.slow
def test_mypy_strict_accepts_a_user_script_and_catches_mistakes(tmp_path):
    pytest.importorskip("mypy")
    for name in ("user_script.py", "bad_script.py"):
        shutil.copy(HERE / name, tmp_path / name)
    (tmp_path / "mypy.ini").write_text(CONFIG)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "user_script.py", "bad_script.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert "Cannot find implementation or library stub" not in out, (
        "mypy cannot see the installed package: install it as a wheel or with "
        "pip install -e . --config-settings editable_mode=compat\n" + out
    )
    errors = [ln for ln in out.splitlines() if ": error:" in ln]
    assert not [ln for ln in errors if ln.startswith("user_script.py")], out
    bad = "\n".join(ln for ln in errors if ln.startswith("bad_script.py"))
    assert 'Argument "objective"' in bad and '"int"' in bad, out
    assert 'expression has type "float", variable has type "str"' in bad, out
