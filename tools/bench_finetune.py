#!/usr/bin/env python3
"""Benchmark the fine-tune loop's GFLOP/s against this machine's peak sgemm (a benchmark, not a test).

    .venv/bin/python tools/bench_finetune.py path/to/kprune [--cache DIR] [--rows N]

Builds once (then reuses, in a cache directory outside the repository) a tf_keras model whose final layer
is Dense(1024 -> 1000, softmax), and N rows of calibration inputs for it. Then, in one run:

  peak   the best of several 2048 x 2048 float32 matrix products through numpy (OpenBLAS), on the same
         two cores kprune uses
  mask   kprune convert --features ... --method mask --sparsity 0.9 (batch 256, 10 epochs)
  l1     kprune convert --features ... --method l1 --sparsity 0.9 (3 epochs of debiasing)

For each kprune run it reads the report's fine_tune.gflop (the matrix products' operations) and
fine_tune.train_seconds (the training alone), and prints GFLOP/s and the ratio to peak. The goal is at
least 50% of peak; PASS/MISS is printed, the exit status is 0 either way.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import measure  # noqa: E402

GOAL = 0.5
FAN_IN, UNITS = 1024, 1000

BUILD = r"""
import sys
sys.path.insert(0, sys.argv[1])  # tools/
import tfsetup  # first: TensorFlow's environment
import numpy as np, tf_keras as K
path, features, rows = sys.argv[2], sys.argv[3], int(sys.argv[4])
K.utils.set_random_seed(0)
inputs = K.Input((%d,))
head = K.layers.Dense(%d, activation="softmax", name="head")(inputs)
K.Model(inputs, head).save(path)
rng = np.random.default_rng(0)
np.save(features, np.maximum(rng.standard_normal((rows, %d)), 0).astype("float32"))
""" % (FAN_IN, UNITS, FAN_IN)

PEAK = r"""
import os, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
import numpy as np
a = np.random.default_rng(0).standard_normal((2048, 2048)).astype("float32")
b = a.copy()
a @ b
best = 0.0
for _ in range(7):
    start = time.perf_counter(); a @ b; seconds = time.perf_counter() - start
    best = max(best, 2 * 2048 ** 3 / seconds / 1e9)
print(best)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kprune")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "kprune-bench"))
    parser.add_argument("--rows", type=int, default=8192)
    args = parser.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    model = os.path.join(args.cache, "head_%dx%d.h5" % (FAN_IN, UNITS))
    features = os.path.join(args.cache, "head_features_%d.npy" % args.rows)
    if not (os.path.exists(model) and os.path.exists(features)):
        print("building %s and %s ..." % (model, features), flush=True)
        subprocess.run([sys.executable, "-c", BUILD, TOOLS, model, features, str(args.rows)], check=True)

    peak = float(subprocess.run([sys.executable, "-c", PEAK], check=True, capture_output=True,
                                text=True).stdout.strip())
    print("peak sgemm (numpy/OpenBLAS, 2048^3, 2 threads): %.1f GFLOP/s" % peak)
    out = os.path.join(args.cache, "head_out.h5")
    print("%-6s %10s %10s %10s %8s %10s" % ("method", "GFLOP", "train s", "GFLOP/s", "x peak", "process s"))
    for method, extra in (("mask", ["--batch-size", "256", "--epochs", "10"]), ("l1", ["--epochs", "3"])):
        command = [os.path.abspath(args.kprune), "convert", model, "--sparsity", "0.9", "-o", out, "--force",
                   "--features", features, "--method", method, "--json"] + extra
        result = measure.run(command)
        process = result.seconds
        if result.returncode != 0:
            print("%-6s failed: %s" % (method, result.stderr.strip()[-300:]))
            continue
        tune = json.loads(result.stdout)["fine_tune"]
        rate = tune["gflop"] / tune["train_seconds"]
        print("%-6s %10.1f %10.2f %10.1f %8.2f %10.2f   goal >= %.0f%% of peak: %s"
              % (method, tune["gflop"], tune["train_seconds"], rate, rate / peak, process, GOAL * 100,
                 "PASS" if rate / peak >= GOAL else "MISS"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
