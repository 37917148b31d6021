#!/usr/bin/env python3
"""Benchmark kprune on a big final layer (a benchmark, not a test).

    .venv/bin/python tools/bench_stream.py path/to/kprune [--reps 5] [--cache DIR] [--baseline OTHER_KPRUNE]

Builds once (and then reuses) a tf_keras model Input(2048) -> Dense(20000)
with random normal weights, saved as .h5 (about 164 MB), in a cache directory
outside the repository. Then runs, alternating, `--reps` times each:

  cp        cp FILE OUT
  kprune    kprune convert FILE --sparsity 0.8 -o OUT --force
  h5py      a plain h5py + numpy script doing the same job: copy the file,
            read the kernel, find the exact k-th magnitude with
            np.argpartition (k: the target zero count, given to it), zero
            those weights, write the kernel back

and prints the median wall time, its ratio to cp, and each child's peak RSS
(ru_maxrss from os.wait4). Goals: kprune wall <= 2x cp, peak RSS <= 80 MiB;
PASS/MISS is printed but the exit status is 0 either way. Finally the kprune
output's zero count is checked with h5py.

Processes are run and measured by tools/measure.py. This process itself
imports neither numpy nor TensorFlow: Linux carries a parent's peak RSS into
a child's ru_maxrss, so anything big is done in child processes (the model is
built by a child script that imports tools/tfsetup.py first). What remains of
that floor (this Python process, about 13 MiB) is measured with `true` and
printed; every peak RSS figure includes it.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import measure  # noqa: E402
import pruning  # noqa: E402

SPARSITY = 0.8
ROWS, COLS = 2048, 20000
WALL_GOAL = 2.0
RSS_GOAL_MIB = 80.0

BUILD = r"""
import sys
sys.path.insert(0, sys.argv[1])  # tools/
import tfsetup  # first: TensorFlow's environment
import json, os
import numpy as np, h5py, tf_keras
rows, cols, path = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
inputs = tf_keras.Input(shape=(rows,))
dense = tf_keras.layers.Dense(cols, name="big")
model = tf_keras.Model(inputs, dense(inputs))
rng = np.random.default_rng(2048)
kernel = rng.standard_normal((rows, cols), dtype=np.float32)
bias = rng.standard_normal((cols,), dtype=np.float32)
dense.set_weights([kernel, bias])
del kernel
model.save(path + ".tmp.h5")
os.replace(path + ".tmp.h5", path)
with h5py.File(path, "r") as f:
    group = f["model_weights"]["big"]
    names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
    kernel_path = "/model_weights/big/" + [n for n in names if "kernel" in n][0]
    shape = list(f[kernel_path].shape)
print(json.dumps({"kernel_dataset": kernel_path, "kernel_shape": shape}))
"""

BASELINE = r"""
import shutil, sys
import h5py, numpy as np
source, out, dataset, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
shutil.copyfile(source, out)
with h5py.File(out, "r+") as f:
    kernel = f[dataset][()]
    flat = kernel.reshape(-1)
    if k > 0:
        flat[np.argpartition(np.abs(flat), k - 1)[:k]] = 0
    f[dataset][...] = kernel
"""

COUNT_ZEROS = r"""
import sys
import h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    print(int(np.count_nonzero(f[sys.argv[2]][()] == 0)))
"""


def build(cache):
    """Make (or reuse) the benchmark model; returns its path and kernel facts."""
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, "dense_%dx%d.h5" % (ROWS, COLS))
    facts_path = path + ".json"
    if os.path.exists(path) and os.path.exists(facts_path):
        with open(facts_path) as handle:
            return path, json.load(handle)
    print("building %s ..." % path, file=sys.stderr, flush=True)
    result = subprocess.run([sys.executable, "-c", BUILD, TOOLS, str(ROWS), str(COLS), path],
                            check=True, capture_output=True, text=True)
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    with open(facts_path, "w") as handle:
        json.dump(facts, handle)
    return path, facts


def main():
    parser = argparse.ArgumentParser(description="Benchmark kprune against cp and h5py+numpy.")
    parser.add_argument("kprune", help="path to the kprune binary")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--baseline", metavar="KPRUNE",
                        help="another kprune binary (an earlier build) run the same way, alternating with the "
                             "others, printed as kprune-baseline")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "kprune-bench"),
                        help="where the model is built and outputs are written (not in git)")
    args = parser.parse_args()
    kprune = os.path.abspath(args.kprune)

    source, facts = build(args.cache)
    dataset = facts["kernel_dataset"]
    size = facts["kernel_shape"][0] * facts["kernel_shape"][1]
    target = pruning.target_zeros(SPARSITY, size)
    out = os.path.join(args.cache, "out.h5")
    tools = [
        ("cp", ["cp", source, out]),
        ("kprune", [kprune, "convert", source, "--sparsity", str(SPARSITY), "-o", out, "--force"]),
        ("h5py+numpy", [sys.executable, "-c", BASELINE, source, out, dataset, str(target)]),
    ]
    if args.baseline:
        tools.append(("kprune-baseline", [os.path.abspath(args.baseline), "convert", source, "--sparsity",
                                          str(SPARSITY), "-o", out, "--force"]))
    print("file %s (%.0f MiB), kernel %s %s, %d reps"
          % (source, os.path.getsize(source) / 2**20, dataset, facts["kernel_shape"], args.reps))

    # One untimed cp warms the page cache for everyone.
    subprocess.run(["cp", source, out], check=True)
    results = {name: [] for name, _ in tools}
    failures = {}
    for rep in range(args.reps):
        shift = rep % len(tools)
        for name, command in tools[shift:] + tools[:shift]:
            if os.path.exists(out):
                os.unlink(out)
            run = measure.run(command)
            if run.returncode != 0:
                failures[name] = "exit %d: %s" % (run.returncode, run.stderr.strip()[-300:])
                continue
            results[name].append((run.seconds, run.rss_mib))

    floor = measure.floor()
    cp_wall = statistics.median(s for s, _ in results["cp"]) if results["cp"] else float("nan")
    print("%-15s %10s %10s %8s %14s" % ("tool", "median s", "min s", "x cp", "peak RSS MiB"))
    print("%-15s %10s %10s %8s %14.1f  (floor carried from this process)" % ("true", "", "", "", floor))
    summary = {}
    for name, _ in tools:
        runs = results[name]
        if not runs:
            print("%-15s %s" % (name, failures.get(name, "no runs")))
            continue
        wall = statistics.median(s for s, _ in runs)
        rss = max(r for _, r in runs)
        summary[name] = (wall, rss)
        print("%-15s %10.3f %10.3f %8.2f %14.1f"
              % (name, wall, min(s for s, _ in runs), wall / cp_wall, rss))
        if name in failures:
            print("%-15s some runs failed: %s" % ("", failures[name]))

    if "kprune" in summary and "kprune-baseline" in summary:
        print("kprune / kprune-baseline wall: %.2f" % (summary["kprune"][0] / summary["kprune-baseline"][0]))
    if "kprune" in summary:
        wall, rss = summary["kprune"]
        ratio = wall / cp_wall
        print("goal kprune wall <= %.0fx cp: %s (%.2fx)" % (WALL_GOAL, "PASS" if ratio <= WALL_GOAL else "MISS", ratio))
        print("goal kprune peak RSS <= %.0f MiB: %s (%.1f MiB)"
              % (RSS_GOAL_MIB, "PASS" if rss <= RSS_GOAL_MIB else "MISS", rss))
        # Last, a fresh kprune output to count zeros in.
        if os.path.exists(out):
            os.unlink(out)
        run = measure.run(tools[1][1])
        if run.returncode == 0:
            counted = subprocess.run([sys.executable, "-c", COUNT_ZEROS, out, dataset],
                                     check=True, capture_output=True, text=True)
            zeros = int(counted.stdout.strip())
            print("zeros in kprune output: %d, target %d: %s"
                  % (zeros, target, "PASS" if zeros == target else "MISS"))
        else:
            print("zeros in kprune output: not checked, kprune failed: %s" % run.stderr.strip()[-300:])
    else:
        print("goals: MISS (kprune did not run)")
    if os.path.exists(out):
        os.unlink(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
