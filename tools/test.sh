#!/usr/bin/env bash
# kprune's tests, in two tiers.
#
#   tools/test.sh --quick   the loop after each change (about 2 minutes from a built tree): every Swift suite but
#                           those tagged `slow` (whole conversions of the calibration models, signal handling),
#                           in the debug build; the CLI suites run each command on each Keras format.
#   tools/test.sh           everything (the README's test command, run by .ci/run): the format check; every Swift
#                           suite, slow ones included, on an optimized build (-enable-testing, in .build/testing)
#                           with no compiler warning allowed from Sources or Tests; then real Keras (tf_keras 2.21
#                           and Keras 3.15.1, in the venv of tools/setup-venv.sh, made meanwhile) loads what the
#                           release binary writes for every fixture and method (tools/interop.py), and the fuzz
#                           suite (tools/fuzz.py).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mkdir -p .build

# libhdf5 must never print its own error stack (kprune reports errors itself): a line of it fails the run.
no_hdf5_stack() {
    if grep -q "HDF5-DIAG" "$1"; then
        echo "test: libhdf5 printed an error stack (HDF5-DIAG in $1)" >&2
        exit 1
    fi
}

tools/install-deps.sh
if [ "${1:-}" = "--quick" ]; then
    swift build --build-tests
    KPRUNE_TEST_TIER=quick swift test --skip-build 2>&1 | tee .build/swift-test.log
    no_hdf5_stack .build/swift-test.log
    exit 0
fi

# The venv installs (mostly downloads) while Swift builds; its output goes to .build/setup-venv.log.
tools/setup-venv.sh > .build/setup-venv.log 2>&1 &
venv=$!

swift format lint --strict --recursive --parallel Sources Tests Package.swift

swift build -c release
testing=(-c release -Xswiftc -enable-testing --scratch-path .build/testing)
swift build "${testing[@]}" --build-tests 2>&1 | tee .build/swift-build.log
if grep -E "^/.*/(Sources|Tests)/.*: warning:" .build/swift-build.log; then
    echo "test: the build of Sources and Tests printed warnings (above)" >&2
    exit 1
fi
swift test "${testing[@]}" --skip-build 2>&1 | tee .build/swift-test.log
no_hdf5_stack .build/swift-test.log

if ! wait "$venv"; then
    cat .build/setup-venv.log >&2
    exit 1
fi
kprune=.build/release/kprune
# Magnitude pruning and both fine-tunes on every fixture, then fine-tunes from the models' own inputs (--data):
# Keras loads each output, every other byte is the input's, agreement with the dense model holds.
.venv/bin/python tools/interop.py "$kprune"
# Mutated fixtures, calibration files and archives: no crash, hang, stray write or leftover, one-line errors.
.venv/bin/python tools/fuzz.py "$kprune"
