#!/usr/bin/env bash
# Create the virtualenv and install the project: torch's CPU pin first (so nothing pulls a CUDA
# build), then the locked dependencies, then this package in editable mode.
set -euo pipefail
PYTHON=${1:-python3.11}
VENV=${2:-.venv}
command -v "$PYTHON" >/dev/null || PYTHON=python3
bash "$(dirname "$0")/sysdeps.sh"
[[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" "torch==2.13.0"
if [[ -f requirements.lock ]]; then
  "${PIP[@]}" -r requirements.lock
fi
"${PIP[@]}" --no-deps -e .
"$VENV/bin/python" -c "import benchmark, envs, oracle_cache" 
echo "install: ok ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
