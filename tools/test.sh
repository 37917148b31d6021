#!/usr/bin/env bash
# kprune's tests: the Swift suites (unit, format and CLI tests), then the interop check, in which real
# Keras (tf_keras 2.21 and Keras 3.15.1, in a venv made by tools/setup-venv.sh) loads every fixture
# kprune converts and compares it with the input: magnitude pruning, then fine-tunes with each method.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

tools/install-deps.sh
# libhdf5 must never print its own error stack (kprune reports errors itself): a line of it fails the run.
mkdir -p .build
swift test 2>&1 | tee .build/swift-test.log
if grep -q "HDF5-DIAG" .build/swift-test.log; then
    echo "test: libhdf5 printed an error stack (HDF5-DIAG above)" >&2
    exit 1
fi
tools/setup-venv.sh
# The Python checks run the release binary (.ci/run has built it already): the same output bytes as the debug
# build, in a fraction of the time.
swift build -c release
kprune=.build/release/kprune
.venv/bin/python tools/interop_check.py "$kprune"
.venv/bin/python tools/interop_check.py "$kprune" --fine-tune l1
.venv/bin/python tools/interop_check.py "$kprune" --fine-tune mask
# Fine-tunes from the models' own inputs (--data): Keras loads each output; its agreement with the dense model holds.
.venv/bin/python tools/interop_data.py "$kprune"
# Mutated fixtures, calibration files and archives: no crash, hang, stray write or leftover, one-line errors.
.venv/bin/python tools/fuzz.py "$kprune"
