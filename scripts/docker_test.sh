#!/usr/bin/env bash
# `make docker-test [IMAGE=robot,metaworld] [LOG=docs/docker-test.log]`: build each image that can
# be built here and run its smoke inside it, offline (--network none), and log build time, image
# size and smoke result per image. Installs podman (Debian) when no engine works; uses the
# digest-pinned base when the engine has it or can pull it, else a local mmdebstrap base
# (scripts/docker_base.sh). The host's pip index, wheel folders and CA bundle reach pip in the
# build as secrets and read-only mounts (scripts/docker_env.py), never as a layer.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGES=${1:-robot,metaworld,alfred,metaworld-gpu}
LOG=${2:-docs/docker-test.log}
WORK=${DOCKER_TEST_WORK:-${TMPDIR:-/tmp}/vlm-bench-docker}
LOCAL_BASE=${LOCAL_BASE:-localhost/vlm-bench-base:bookworm}
HOST_PY=$(command -v python3)
mkdir -p "$WORK" "$(dirname "$LOG")"
: >"$LOG"
say() { echo "$*" | tee -a "$LOG"; }
now() { date +%s; }

# --- the engine ---------------------------------------------------------------------------------
"$HOST_PY" scripts/docker_env.py "$WORK/settings" --python "$HOST_PY" >"$WORK/settings.txt"
export CONTAINERS_CONF=$WORK/settings/containers.conf
engine=${DOCKER_ENGINE:-}
if [[ -z $engine ]]; then
  if command -v podman >/dev/null; then engine=podman
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then engine=docker
  elif command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]]; then
    echo "docker-test: no container engine; installing Debian's podman, runc and mmdebstrap" >&2
    t0=$(now)
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      podman runc mmdebstrap >/dev/null
    engine=podman
    installed="engine: installed Debian's podman, runc and mmdebstrap in $(($(now) - t0)) s"
  else
    echo "docker-test: no container engine and no root apt-get to install podman: install podman or start a Docker daemon, then rerun" >&2
    exit 3 # "nothing could be tried here" (.ci/run reports it as skipped); failures exit 1
  fi
fi
say "# make docker-test: $(date -u +%Y-%m-%dT%H:%MZ) on $(hostname), $(nproc) CPUs, $("$engine" --version | head -1)"
sed 's/^/# /' "$WORK/settings.txt" | tee -a "$LOG"
[[ -z ${installed:-} ]] || say "$installed"

build_flags=(--network host)
# DOCKER_NO_CACHE=1: build every layer again, so the logged build time is a clean machine's
[[ ${DOCKER_NO_CACHE:-0} == 1 ]] && build_flags+=(--no-cache)
if [[ $engine == podman ]]; then
  build_flags+=(--format docker) # SHELL and HEALTHCHECK are Docker-format fields
  while read -r u; do build_flags+=(--ulimit "$u"); done <"$WORK/settings/ulimits"
  # local index and wheel folders, read-only at the same path (podman build -v; Docker has none)
  while read -r m; do build_flags+=(-v "$m:$m:ro"); done <"$WORK/settings/mounts"
  # the torch wheel comes from where the host's pip finds it when such a folder is mounted
  [[ -s $WORK/settings/mounts ]] && build_flags+=(--build-arg "TORCH_INDEX_URL=${TORCH_INDEX_URL:-}")
fi
build_flags+=(--secret "id=pip.conf,src=$WORK/settings/pip.conf" --secret "id=ca.crt,src=$WORK/settings/ca.crt")

# the digest-pinned base if the engine has it or can pull it, else the local one
base_for() {
  local pinned
  pinned=$(sed -n 's/^ARG BASE_IMAGE=//p' "docker/$1/Dockerfile")
  if [[ -n ${BASE_IMAGE:-} ]]; then echo "$BASE_IMAGE"
  elif "$engine" image inspect "$pinned" >/dev/null 2>&1 \
    || timeout 120 "$engine" pull -q "$pinned" >/dev/null 2>&1; then echo "$pinned"
  elif [[ $1 == metaworld-gpu ]]; then echo ""
  else
    if ! "$engine" image inspect "$LOCAL_BASE" >/dev/null 2>&1; then
      local t0
      t0=$(now)
      bash scripts/docker_base.sh "$engine" "$LOCAL_BASE" >&2 || return 1
      say "local base $LOCAL_BASE made with mmdebstrap in $(($(now) - t0)) s (the pinned one cannot be pulled)" >&2
    fi
    echo "$LOCAL_BASE"
  fi
}

failed=0
for image in ${IMAGES//,/ }; do
  [[ -f docker/$image/Dockerfile ]] || { say "$image: no docker/$image/Dockerfile"; failed=1; continue; }
  tag=vlm-feedback-bench/$image:latest
  base=$(base_for "$image") || { say "$image: no base image"; failed=1; continue; }
  if [[ -z $base ]]; then
    say "$image: NOT BUILT: its CUDA base cannot be pulled here (no registry) and has no local substitute; static checks only (tests/test_docker_static.py, hadolint)"
    continue
  fi
  extra=()
  # THOR's Unity build and ALFRED's task files are downloads this machine cannot make
  [[ $image == alfred ]] && extra=(--build-arg ALFRED_JSON_URL= --build-arg THOR_BINARY=0)
  t0=$(now)
  if ! nice -n 10 "$engine" build "${build_flags[@]}" "${extra[@]}" --build-arg "BASE_IMAGE=$base" \
    -f "docker/$image/Dockerfile" -t "$tag" . >"$WORK/$image.build.log" 2>&1; then
    say "$image: BUILD FAILED after $(($(now) - t0)) s on base $base; last lines:"
    tail -15 "$WORK/$image.build.log" | sed 's/^/    /' | tee -a "$LOG"
    failed=1
    continue
  fi
  size=$("$engine" image inspect "$tag" --format '{{.Size}}')
  say "$image: built in $(($(now) - t0)) s on base $base; image size $((size / 1000000)) MB"
  # the build's pip settings were secrets: neither the files nor the host's CA are in the image
  if ! "$engine" run --rm --network none --entrypoint /bin/sh "$tag" -c \
    'test ! -e /run/secrets/pip.conf && test ! -e /run/secrets/ca.crt && ! ls /etc/pip.conf ~/.config/pip/pip.conf ~/.pip/pip.conf 2>/dev/null | grep -q .'; then
    say "$image: FAILED: a pip setting or the CA bundle was left in the image"
    failed=1
  fi
  t0=$(now)
  if bash scripts/docker_smoke.sh "$engine" "$image" "$tag" >"$WORK/$image.smoke.log" 2>&1; then
    say "$image: smoke passed in $(($(now) - t0)) s ($(tail -1 "$WORK/$image.smoke.log"))"
  else
    say "$image: SMOKE FAILED after $(($(now) - t0)) s; last lines:"
    failed=1
  fi
  tail -15 "$WORK/$image.smoke.log" | sed 's/^/    /' | tee -a "$LOG"
done
"$engine" image prune -f >/dev/null 2>&1 || true
say "# done: $([[ $failed == 0 ]] && echo ok || echo FAILED)"
exit $failed
