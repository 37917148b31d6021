#!/usr/bin/env python3
"""Peak memory of a fine-tune whose calibration data is streamed, against the same fine-tune reading the
data whole (a benchmark, not a test).

    .venv/bin/python tools/bench_calibration_memory.py path/to/kprune [--rows 1048576] [--cache DIR]

It makes once (then reuses, in a cache directory outside the repository) a tf_keras model whose head is a
256 -> 10 softmax Dense layer (seeded random weights; the data is what is measured here, not accuracy) and
ROWS x 256 float32 features for it (1 GiB by default), written in chunks through a memory map. Then it runs,
side by side and alternately (3 rounds),

  streamed  kprune convert MODEL --sparsity 0.9 --features H --epochs 1 --in-memory-limit 256
  whole     the same with --in-memory-limit 65536 (the data is read into memory)

for --method mask and l1, and prints each process's peak RSS (from wait4) and wall time, the streamed/whole
ratios, and the peak RSS as a fraction of the data's size. The output's zero count is checked in the report.

Processes are run and measured by tools/measure.py. This process imports neither numpy nor TensorFlow: Linux
carries a parent's peak RSS into its child's, so the model and the features are made by a child script (which
imports tools/tfsetup.py first).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import measure  # noqa: E402
import pruning  # noqa: E402

FAN_IN, UNITS = 256, 10
SPARSITY = 0.9

BUILD = r"""
import sys
sys.path.insert(0, sys.argv[1])  # tools/
import tfsetup  # first: TensorFlow's environment
import os
import numpy as np
model, features, rows, fan_in, units = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
if not os.path.exists(model):
    import tf_keras
    tf_keras.utils.set_random_seed(0)
    net = tf_keras.Sequential([tf_keras.Input((fan_in,)), tf_keras.layers.Dense(units, activation="softmax",
                                                                                name="head")])
    net.save(model)
if not os.path.exists(features):
    partial = features + ".partial"
    array = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=(rows, fan_in))
    random = np.random.default_rng(0)
    for start in range(0, rows, 65536):
        end = min(rows, start + 65536)
        array[start:end] = random.standard_normal((end - start, fan_in), dtype=np.float32)
    array.flush()
    del array
    os.rename(partial, features)
"""


def build(cache, rows):
    model = os.path.join(cache, "model.h5")
    features = os.path.join(cache, "h-%d.npy" % rows)
    if not (os.path.exists(model) and os.path.exists(features)):
        subprocess.run([sys.executable, "-c", BUILD, TOOLS, model, features, str(rows), str(FAN_IN), str(UNITS)],
                       check=True)
    return model, features


def run(command):
    """Runs a process and returns its wall time, peak RSS in MiB and last JSON line."""
    result = measure.run(command)
    if result.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(command), result.stderr.strip()))
    return result.seconds, result.rss_mib, json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kprune")
    parser.add_argument("--rows", type=int, default=1 << 20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cache", default="/tmp/kprune-bench-calibration")
    args = parser.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    model, features = build(args.cache, args.rows)
    data_mib = os.path.getsize(features) / 2 ** 20
    print("data: %d x %d float32, %.0f MiB; head %d -> %d softmax" % (args.rows, FAN_IN, data_mib, FAN_IN, UNITS))
    target = pruning.target_zeros(SPARSITY, FAN_IN * UNITS)
    for method in ("mask", "l1"):
        results = {"streamed": [], "whole": []}
        for _ in range(args.rounds):
            for mode, limit in (("streamed", 256), ("whole", 65536)):
                out = os.path.join(args.cache, "out-%s.h5" % mode)
                wall, rss, report = run([os.path.abspath(args.kprune), "convert", model, "--sparsity", str(SPARSITY),
                                         "--features", features, "--method", method, "--epochs", "1",
                                         "--in-memory-limit", str(limit), "-o", out, "--force", "--json"])
                if report["zeros_after"] != target:
                    sys.exit("%s %s: %d zeros, not %d" % (method, mode, report["zeros_after"], target))
                if report["fine_tune"]["streamed"] != (mode == "streamed"):
                    sys.exit("%s %s: the report says streamed=%s" % (method, mode, report["fine_tune"]["streamed"]))
                results[mode].append((wall, rss))
        med = {mode: (statistics.median(w for w, _ in runs), statistics.median(r for _, r in runs))
               for mode, runs in results.items()}
        for mode in ("streamed", "whole"):
            wall, rss = med[mode]
            print("%-5s %-8s  median wall %6.2f s  peak RSS %7.1f MiB  (%.2f of the data)"
                  % (method, mode, wall, rss, rss / data_mib))
        print("%-5s streamed / whole: wall %.2fx, peak RSS %.3fx"
              % (method, med["streamed"][0] / med["whole"][0], med["streamed"][1] / med["whole"][1]))


if __name__ == "__main__":
    main()
