#!/usr/bin/env bash
# Create the Python venv used by kprune's tools (make_fixtures.py, interop_check.py,
# bench_stream.py) and install tools/requirements.txt into it.
#
#   tools/setup-venv.sh [DIR]      DIR defaults to .venv at the repository root
#
# Set PYTHON to choose the interpreter (default python3; TensorFlow 2.21 needs 3.10-3.13) and
# REQUIREMENTS for another requirements file, e.g. the Keras 2.0 one:
#   PYTHON=~/.pyenv/versions/3.6.15/bin/python REQUIREMENTS=tools/requirements-keras20.txt \
#       tools/setup-venv.sh .venv-keras20
# Running it again does nothing while the venv was made from the same requirements.txt:
# a stamp file in the venv holds the hash of the requirements it was installed from.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${1:-$root/.venv}
requirements=${REQUIREMENTS:-$root/tools/requirements.txt}
python=${PYTHON:-python3}
stamp=$venv/.kprune-requirements.sha256
wanted=$(sha256sum "$requirements" | cut -d ' ' -f 1)

# One installer at a time: a second call (tools/test.sh after .ci/run started one in the background) waits for
# the first and then finds the venv up to date.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    echo "setup-venv: $venv is up to date"
    exit 0
fi

echo "setup-venv: installing $requirements into $venv" >&2
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
echo "$wanted" > "$stamp"
echo "setup-venv: $venv ready"
