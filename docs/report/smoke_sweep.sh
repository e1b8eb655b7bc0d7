#!/usr/bin/env bash
# The smoke sweep behind docs/report/report.png (issue 26): both suites, all their tasks, three
# methods, two seeds. MetaWorld: tiny SAC overrides (1000 steps; nothing learns at this size).
# ALFRED: the smoke budget's own offline size (80 episodes, 1500 IQL updates). eval_every=500
# serves both. Resumable: finished runs are skipped. Usage: bash smoke_full.sh [worktree]
set -euo pipefail
WT=${1:-/work/wt/report}
cd "$WT"
export PYTHONPATH=$WT MUJOCO_GL=egl
nice -n 5 /work/main/.venv/bin/python -m benchmark sweep --tasks metaworld,alfred \
  --methods erl-vlm,gt-reward,sparse --seeds 0,1 --budget smoke --jobs 2 \
  --out /work/runs/report/results2 --cache-dir /work/runs/report/cache \
  --budget-opt total_steps=1000 --budget-opt eval_every=500 --budget-opt seed_steps=200 \
  --budget-opt unsup_steps=200 --budget-opt feedback_every=200 --budget-opt max_episode_steps=100 \
  --budget-opt queries_per_session=10 --budget-opt max_queries=40 --budget-opt reward_epochs=2 \
  --budget-opt eval_episodes=2 --sac-opt hidden_dim=64 --sac-opt batch_size=64
