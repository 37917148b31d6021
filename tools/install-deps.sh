#!/usr/bin/env bash
# Installs the Debian packages kprune builds and tests with, if any is missing:
# libhdf5-dev and libopenblas-dev (the C libraries kprune links), hdf5-tools (h5repack, used to make fixtures),
# time (GNU time, which measures a kprune process's peak memory in the tests),
# and python3-venv where python3 cannot make venvs (the interop check's Python tools).
# Swift 6.1 or later must already be on PATH.
set -euo pipefail

missing=()
for package in libhdf5-dev libopenblas-dev hdf5-tools time; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
echo "install-deps: installing ${missing[*]}" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
