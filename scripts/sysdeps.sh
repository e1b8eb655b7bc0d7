#!/usr/bin/env bash
# Debian libraries MuJoCo needs to render off-screen (EGL, with OSMesa as a fallback), and
# Debian's chromium (+ a font) for the browser tests of the HTML report and leaderboard page.
# Installs only what is missing; needs root (or sudo) the first time.
set -euo pipefail
pkgs=(libegl1 libgl1 libegl-mesa0 libosmesa6 chromium fonts-dejavu-core)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
if ! command -v apt-get >/dev/null; then
  echo "sysdeps: not a Debian system; install EGL/OSMesa for MuJoCo yourself (${missing[*]})" >&2
  exit 0
fi
SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
echo "sysdeps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
