#!/usr/bin/env bash
# Make the images' base locally when the digest-pinned one cannot be pulled (no registry here, an
# air-gapped cluster): a Debian bookworm minbase with python3 (3.11, as the pinned
# python:3.11-slim-bookworm), venv and CA certificates, from the host's Debian mirror, imported
# into the container engine under one tag. Build with it via BASE_IMAGE=<that tag>.
#   usage: scripts/docker_base.sh ENGINE TAG      (ENGINE: podman or docker)
set -euo pipefail
ENGINE=${1:?usage: scripts/docker_base.sh podman|docker TAG}
TAG=${2:?usage: scripts/docker_base.sh podman|docker TAG}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
if "$ENGINE" image inspect "$TAG" >/dev/null 2>&1; then
  echo "base: $TAG exists"
  exit 0
fi
command -v mmdebstrap >/dev/null || {
  echo "base: mmdebstrap is missing: apt-get install mmdebstrap (or set BASE_IMAGE to an image you have)" >&2
  exit 2
}
tar=$(mktemp --suffix=.tar)
trap 'rm -f "$tar"' EXIT
# SOURCE_DATE_EPOCH makes the tarball's timestamps (and so its digest, for one mirror state) stable
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000} mmdebstrap --quiet --variant=minbase \
  --include=python3,python3-venv,ca-certificates bookworm "$tar" \
  "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
  "deb $SECURITY bookworm-security main"
"$ENGINE" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' "$tar" "$TAG" >/dev/null
echo "base: imported $TAG ($(du -h "$tar" | cut -f1) tarball)"
