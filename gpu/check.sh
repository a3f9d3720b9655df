#!/usr/bin/env bash
# The GPU path, proven in one go on a machine with CUDA (issue: "Past one machine").
#
#   bash gpu/check.sh            # from the repository root; results under $OUT or gpu-results/
#
# On a machine whose Python and CUDA torch are given and whose other dependencies
# (skorch, ART, Foolbox, pyautoattack, ...) arrive as wheels in .whl/ beside the
# checkout (gpu/fetch_wheels.sh makes them), they are installed without network.
# Without CUDA it stops at once, before installing or writing anything (exit 2).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu/check.sh: no CUDA device here (torch.cuda.is_available() is False, or torch" \
         "is missing); this script checks the GPU path and runs only where one is." >&2
    exit 2
fi

if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
fi
OUT="${OUT:-gpu-results}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python3 gpu/check.py "$OUT" 2>&1 | tee "$OUT/check.log"
