#!/usr/bin/env bash
# The cost of working on each input in a child process: `kprune convert` of N copies of a small fixture
# with --output-dir, isolated (the default) and in-process (KPRUNE_IN_PROCESS=1), best of R runs each.
#   tools/bench_isolation.sh [KPRUNE] [N] [R]     (defaults: .build/release/kprune, 200, 3)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kprune=$(realpath "${1:-$root/.build/release/kprune}")
count=${2:-200}
repeats=${3:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/in"
for i in $(seq -w 1 "$count"); do cp "$root/fixtures/keras2/sequential.h5" "$work/in/m$i.h5"; done

best() {  # best wall time in seconds of `kprune convert` over the batch, with the given environment
    local best_time=""
    for _ in $(seq "$repeats"); do
        rm -rf "$work/out" && mkdir "$work/out"
        local start end
        start=$(date +%s.%N)
        env "$@" "$kprune" convert "$work"/in/*.h5 --sparsity 0.8 --output-dir "$work/out" --quiet
        end=$(date +%s.%N)
        local elapsed
        elapsed=$(echo "$end - $start" | bc)
        if [ -z "$best_time" ] || [ "$(echo "$elapsed < $best_time" | bc)" = 1 ]; then best_time=$elapsed; fi
    done
    [ "$(ls "$work/out" | wc -l)" = "$count" ] || { echo "bench: expected $count outputs" >&2; exit 1; }
    echo "$best_time"
}

isolated=$(best KPRUNE_IN_PROCESS=0)
in_process=$(best KPRUNE_IN_PROCESS=1)
printf 'isolated: %.2f s, in-process: %.2f s for %d files; ratio %.2f (%.1f ms per file)\n' \
    "$isolated" "$in_process" "$count" "$(echo "$isolated / $in_process" | bc -l)" \
    "$(echo "($isolated - $in_process) * 1000 / $count" | bc -l)"
