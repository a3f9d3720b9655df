#!/usr/bin/env bash
# Wheels for gpu/check.sh, for the GPU machine's Python 3.12 (run here, with network
# to the package registry): skorch, ART, Foolbox, pyautoattack and statsmodels with the
# dependencies that machine lacks. They land in .whl/ (git ignores it).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any -d .whl \
    "skorch>=1.4,<1.5" "adversarial-robustness-toolbox>=1.18" "pyautoattack>=0.2" \
    "foolbox>=3.3,<4" eagerpy GitPython gitdb smmap "statsmodels>=0.14" patsy
ls -la .whl
