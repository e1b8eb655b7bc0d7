#!/usr/bin/env bash
# The commands of the example CI workflow (replay-bundle.yml), one step per argument:
#   bash examples/ci/replay.sh sysdeps   # EGL/OSMesa for headless MuJoCo rendering (apt)
#   bash examples/ci/replay.sh install   # make install: the pinned stack, as on a laptop
#   bash examples/ci/replay.sh replay    # replay the committed bundle; a miss fails the job
# The workflow then uploads $OUT (sweeps/<id>/report.html, tables, curves, each run's log) as an artifact.
# tests/test_ci_example.py runs the same replay step locally (sysdeps and install need root and
# the network, so the test only checks that the workflow calls them).
#
# Replay needs no API key and no network: every answer comes from the bundle, which is read
# in place (never imported, never changed). The run settings below must be the ones the
# bundle was recorded with, or the run asks about other frames and misses; edit them for your
# own bundle (these are the golden scripted sweep's, see benchmark/golden.py).
set -euo pipefail

BUNDLE="${BUNDLE:-tests/data/golden/scripted/bundle}"
TASK="${TASK:-metaworld/drawer-open}"
METHODS="${METHODS:-erl-vlm}"
SEEDS="${SEEDS:-0}"
OUT="${OUT:-ci-results}"
# extra make arguments (the test passes `-o .venv/.install-stamp PY=...` to use its own Python)
MAKE_ARGS="${MAKE_ARGS:-}"
RECORDED_WITH=(
  --threads 1 --log ""
  --budget-opt total_steps=200 --budget-opt seed_steps=50 --budget-opt unsup_steps=50
  --budget-opt feedback_every=50 --budget-opt queries_per_session=6 --budget-opt max_queries=12
  --budget-opt eval_every=100 --budget-opt eval_episodes=1 --budget-opt max_episode_steps=50
  --budget-opt reward_epochs=1 --budget-opt offline_episodes=12 --budget-opt offline_updates=100
  --sac-opt hidden_dim=16 --sac-opt hidden_depth=2 --sac-opt batch_size=16
  --iql-opt hidden_dim=16 --iql-opt batch_size=16
)

case "${1:-}" in
  sysdeps)
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libgl1 libosmesa6
    ;;
  install)
    make install
    ;;
  replay)
    # shellcheck disable=SC2086  # MAKE_ARGS is a list of make arguments
    make bench $MAKE_ARGS CACHE=replay BUNDLE="$BUNDLE" ORACLE=scripted BUDGET=smoke \
      TASK="$TASK" METHODS="$METHODS" SEEDS="$SEEDS" OUT="$OUT" JOBS=1 \
      EXTRA="${RECORDED_WITH[*]@Q}"
    ;;
  *)
    echo "usage: $0 sysdeps|install|replay" >&2
    exit 2
    ;;
esac
