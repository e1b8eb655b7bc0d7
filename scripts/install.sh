#!/usr/bin/env bash
# Create the virtualenv and install the project: torch's CPU pin first (so nothing pulls a CUDA
# build), then the locked dependencies, then this package in editable mode.
set -euo pipefail
PYTHON=${1:-python3.11}
VENV=${2:-.venv}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[[ ${SKIP_SYSDEPS:-0} == 1 ]] || bash "$(dirname "$0")/sysdeps.sh"
[[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
# TORCH_INDEX_URL picks the wheel index (the CPU Docker image sets PyTorch's CPU index; on this
# project's CI machines the CPU wheel is found locally by pip's configuration)
"${PIP[@]}" "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
if [[ -f requirements.lock ]]; then
  "${PIP[@]}" -r requirements.lock
fi
"${PIP[@]}" --no-deps -e .
"$VENV/bin/python" -c "import benchmark, envs, oracle_cache" 
echo "install: ok ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
