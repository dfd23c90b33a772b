#!/usr/bin/env bash
# Build docker/wheelhouse/ for the image: the service's own wheel in app/, every dependency's
# in deps/ (docker/Dockerfile installs them with --no-index: the build fetches nothing).
# Needs a package index and Python 3.11, the image's Python (Debian bookworm), so that the
# compiled wheels fit it.   Usage: docker/build-wheelhouse.sh [EXTRAS]   (e.g. "speech")
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
extras=${1:-}
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "$python is $("$python" --version 2>&1): the image runs Python 3.11; set PYTHON=python3.11" >&2
  exit 1
fi
out=docker/wheelhouse
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" -m pip wheel -q --disable-pip-version-check --wheel-dir "$tmp" ".${extras:+[$extras]}"
rm -rf "$out"
mkdir -p "$out/app" "$out/deps"
mv "$tmp"/callcenter-*.whl "$out/app/"
mv "$tmp"/*.whl "$out/deps/"
echo "$out: $(ls "$out/deps" | wc -l) dependencies, $(ls "$out/app")"
