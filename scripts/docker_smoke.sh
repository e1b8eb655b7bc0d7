#!/usr/bin/env bash
# The smoke run of one built image, with no network (scripts/docker_test.sh calls it):
#   metaworld      a one-seed smoke-budget run of `make bench` (MuJoCo through Mesa EGL, SAC,
#                  reward learning, the scripted oracle, the report), shortened to 1000 steps
#   robot          the server in one container, a keyed client handshake, a reset and steps from
#                  a second container in the server's network namespace (loopback only)
#   alfred         the ALFRED twin's one-seed smoke run under the image's xvfb-run entrypoint
#                  (THOR's Unity build and ALFRED's task files are not in an image built here)
# The last line printed is the one-line result the log keeps.
#   usage: scripts/docker_smoke.sh ENGINE IMAGE TAG
set -euo pipefail
ENGINE=${1:?usage: scripts/docker_smoke.sh podman|docker IMAGE TAG}
IMAGE=${2:?image name}
TAG=${3:?image tag}
# OpenMP threads that spin while they wait made torch 10x slower on this project's loaded 2-core
# machines (200 MLP updates: 46 s, 4.6 s passive); waiting passively changes no number
RUN=("$ENGINE" run --rm --network none -e OMP_WAIT_POLICY=PASSIVE)
# a short run: enough steps for one feedback session, one update phase and one evaluation
SHORT=(--budget-opt total_steps=1000 --budget-opt eval_every=1000 --budget-opt eval_episodes=1)

bench_smoke() { # TASK [extra make args...]: `make bench` inside, then check its summary
  local task=$1
  shift
  local status=0
  "${RUN[@]}" "$TAG" bench TASK="$task" SEEDS=0 BUDGET=smoke "$@" \
    EXTRA="${SHORT[*]} --budget-opt offline_updates=300" >"$tmp/out" 2>&1 || status=$?
  tail -40 "$tmp/out"
  [[ $status == 0 ]] || return "$status"
  grep -q "Sweep: 1 runs (0 failed)" "$tmp/out" || {
    echo "no 'Sweep: 1 runs (0 failed)' in the bench output"
    return 1
  }
  echo "$task: $(grep -o 'Sweep: 1 runs (0 failed) in [0-9]* s' "$tmp/out")"
}

robot_smoke() {
  local keys=$tmp/keys health=()
  server=vlmbench-robot-smoke-$$
  mkdir -p "$keys"
  chown 1000:1000 "$keys" 2>/dev/null || chmod 777 "$keys"
  # CURVE keys made by the image itself; the server refuses 0.0.0.0 without them
  "${RUN[@]}" -v "$keys:/keys" --entrypoint .venv/bin/python "$TAG" \
    -m envs.real_robot.server keys /keys >/dev/null
  # podman schedules healthchecks with systemd timers (none here): the smoke runs it by hand
  [[ $ENGINE == podman ]] && health=(--health-interval disable)
  "$ENGINE" run -d --rm --network none --name "$server" "${health[@]}" \
    -v "$keys:/home/bench/robot-keys:ro" "$TAG" --host 0.0.0.0 --port 5555 >/dev/null
  result=$("$ENGINE" run --rm --network "container:$server" -v "$keys:/keys:ro" \
    --entrypoint .venv/bin/python "$TAG" -c '
import time
import numpy as np
from envs.real_robot.auth import load_client_keys
from envs.real_robot.client import RobotEnv
for attempt in range(60):  # the server imports torch first: wait for it to listen
    try:
        env = RobotEnv("tcp://127.0.0.1:5555", keys=load_client_keys("/keys"), timeout_s=2.0)
        break
    except Exception:
        time.sleep(1)
else:
    raise SystemExit("no handshake with the server within 60 s")
obs, _ = env.reset(seed=0)
for _ in range(5):
    obs, reward, terminated, truncated, info = env.step(np.zeros(env.action_space.shape))
frame = env.render()
env.close()
print(f"handshake with {env.caps.name}, reset and 5 steps from a second container; "
      f"frame {frame.shape}, proprio {obs.shape}")
')
  "$ENGINE" logs "$server" 2>&1 | tail -2 >&2
  if [[ $ENGINE == podman ]]; then # the image's HEALTHCHECK, once the server is up
    "$ENGINE" healthcheck run "$server"
    result="$result; HEALTHCHECK healthy"
  fi
  echo "$result"
}

tmp=$(mktemp -d)
server=
cleanup() {
  [[ -z $server ]] || "$ENGINE" rm -f "$server" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
case $IMAGE in
  metaworld) bench_smoke metaworld/drawer-open ;;
  alfred) bench_smoke alfred/pick-cool-then-place BACKEND= ;;
  robot) robot_smoke ;;
  *)
    echo "no smoke for image '$IMAGE' (metaworld, alfred, robot have one)"
    exit 2
    ;;
esac
