#!/usr/bin/env python3
"""Benchmark `kprune predict` against TensorFlow's `model.predict` on a CNN (a benchmark, not a test).

    .venv/bin/python tools/bench_predict.py path/to/kprune [--reps 5] [--rows 4000] [--batch-size 64]
        [--models inference/keras3/xception.keras inference/keras2/xception.h5] [--baseline OTHER_KPRUNE]
        [--cache DIR]

For each model (by default the Xception-style fixture of tools/make_cnn_fixtures.py, as Keras 3 `.keras`
and as tf_keras `.h5`), on `--rows` seeded standard-normal inputs, it runs side by side, alternating,
`--reps` times each:

  kprune    kprune predict MODEL --data X.npy -o OUT.npy --batch-size B --json --force
  tf        a Python child: import TensorFlow and the Keras that wrote the file (tf_keras for .h5, keras for
            .keras), load the model, one warm-up predict on B rows (tracing), then model.predict(X,
            batch_size=B) timed, then np.save of the outputs

and prints medians and ratios against three goals:

  compute   kprune's forward-pass time (`predict_seconds` of its --json line: the batches alone, no
            reading or writing) / TensorFlow's timed model.predict        goal <= 1.5
  memory    kprune's peak RSS / the TensorFlow process's peak RSS          goal <= 0.40
  process   kprune's whole process (load, predict, save) / the whole TensorFlow process (Python start,
            imports, load, warm-up, predict, save), wall time              goal <= 0.5

TensorFlow runs with its own default threading (both cores here), as kprune uses both; it does not import
tools/tfsetup.py, which pins TensorFlow to one thread for reproducible fixtures. Finally the outputs of the
last kprune and TensorFlow runs are compared: they must agree within 1e-4 x max(1, |value|).

Processes are run and measured by tools/measure.py; this process imports neither numpy nor TensorFlow (see
measure.py on why peak RSS needs that) and prints the floor it carries into every child.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
import measure  # noqa: E402

GOALS = {"compute": 1.5, "memory": 0.40, "process": 0.5}

MAKE_INPUTS = r"""
import sys
import numpy as np
rows, columns, seed, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
x = np.random.default_rng(seed).standard_normal((rows, columns)).astype("float32")
np.save(path, x)
"""

INPUT_SIZE = r"""
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
path = sys.argv[1]
if path.endswith(".h5"):
    import tf_keras as k
else:
    import keras as k
model = k.models.load_model(path, compile=False)
print(int(np.prod(model.inputs[0].shape[1:])))
"""

TF_PREDICT = r"""
import os, sys, time, json
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
path, data, out, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if path.endswith(".h5"):
    import tf_keras as k
else:
    import keras as k
model = k.models.load_model(path, compile=False)
x = np.load(data).reshape((-1,) + tuple(model.inputs[0].shape[1:]))
model.predict(x[:batch], batch_size=batch, verbose=0)  # warm-up: tracing is not timed
start = time.perf_counter()
y = model.predict(x, batch_size=batch, verbose=0)
seconds = time.perf_counter() - start
np.save(out, np.asarray(y, dtype="float32"))
print(json.dumps({"predict_seconds": seconds}))
"""

COMPARE = r"""
import sys
import numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
if a.shape != b.shape:
    print("shapes differ: %s and %s" % (a.shape, b.shape)); sys.exit(0)
print("%.3g" % float(np.max(np.abs(a - b) / np.maximum(1, np.abs(b)))))
"""


def predict_seconds(text):
    """`predict_seconds` of the last JSON line of `text`; NaN when there is none (a kprune from before
    `predict --json`, run as the baseline: only its whole process is measured)."""
    for line in reversed(text.strip().splitlines()):
        try:
            return float(json.loads(line)["predict_seconds"])
        except (ValueError, KeyError, TypeError):
            continue
    return float("nan")


def inputs_for(model, rows, cache):
    """Seeded inputs for `model` (a cached .npy); returns its path."""
    size = int(subprocess.run([sys.executable, "-c", INPUT_SIZE, model], check=True, capture_output=True,
                              text=True).stdout.strip().splitlines()[-1])
    path = os.path.join(cache, "x_%d_%d.npy" % (rows, size))
    if not os.path.exists(path):
        subprocess.run([sys.executable, "-c", MAKE_INPUTS, str(rows), str(size), str(rows), path], check=True)
    return path


def run_model(args, model, data):
    """Alternates the tools on one model; returns {tool: [(compute s, wall s, rss MiB)]} and failures."""
    out = {name: os.path.join(args.cache, "y_%s.npy" % name) for name in ("kprune", "tf", "kprune-baseline")}
    tools = [("kprune", [os.path.abspath(args.kprune)]), ("tf", None)]
    if args.baseline:
        tools.append(("kprune-baseline", [os.path.abspath(args.baseline)]))
    results = {name: [] for name, _ in tools}
    failures = {}
    for rep in range(args.reps):
        shift = rep % len(tools)
        for name, binary in tools[shift:] + tools[:shift]:
            if binary:
                command = binary + ["predict", model, "--data", data, "-o", out[name], "--batch-size",
                                    str(args.batch_size), "--json", "--force"]
            else:
                command = [sys.executable, "-c", TF_PREDICT, model, data, out[name], str(args.batch_size)]
            run = measure.run(command)
            if run.returncode != 0:
                failures[name] = "exit %d: %s" % (run.returncode, run.stderr.strip()[-300:])
                continue
            results[name].append((predict_seconds(run.stdout), run.seconds, run.rss_mib))
    return results, failures, out


def report(name, results, failures, out):
    """Prints one model's medians and its ratios against the goals."""
    print("%-16s %12s %12s %14s" % ("tool", "compute s", "process s", "peak RSS MiB"))
    medians = {}
    for tool, runs in results.items():
        if not runs:
            print("%-16s %s" % (tool, failures.get(tool, "no runs")))
            continue
        medians[tool] = tuple(statistics.median(run[i] for run in runs) for i in range(2)) + (max(r[2] for r in runs),)
        print("%-16s %12.3f %12.3f %14.1f" % ((tool,) + medians[tool]))
    if "kprune" not in medians or "tf" not in medians:
        print("goals: not measured")
        return
    (kc, kw, kr), (tc, tw, tr) = medians["kprune"], medians["tf"]
    for goal, ratio in (("compute", kc / tc), ("memory", kr / tr), ("process", kw / tw)):
        print("goal %-8s kprune / tf = %.2f (<= %.2f): %s"
              % (goal, ratio, GOALS[goal], "PASS" if ratio <= GOALS[goal] else "MISS"))
    if "kprune-baseline" in medians:
        print("kprune / kprune-baseline whole process: %.2f" % (kw / medians["kprune-baseline"][1]))
    worst = subprocess.run([sys.executable, "-c", COMPARE, out["kprune"], out["tf"]], check=True,
                           capture_output=True, text=True).stdout.strip()
    try:
        agree = float(worst) <= 1e-4
    except ValueError:
        agree = False
    print("outputs agree within 1e-4 x max(1, |value|): %s (worst %s)" % ("PASS" if agree else "MISS", worst))


def main():
    parser = argparse.ArgumentParser(description="Benchmark kprune predict against TensorFlow's predict.")
    parser.add_argument("kprune", help="path to the kprune binary (use the release build)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--models", nargs="+",
                        default=["inference/keras3/xception.keras", "inference/keras2/xception.h5"],
                        help="model files under fixtures/")
    parser.add_argument("--baseline", metavar="KPRUNE",
                        help="another kprune binary (an earlier build) in the same alternation")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "kprune-bench-predict"),
                        help="where inputs and outputs are written (not in git)")
    args = parser.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    print("%d rows, batch size %d, %d reps; peak RSS includes %.1f MiB carried from this process"
          % (args.rows, args.batch_size, args.reps, measure.floor()))
    for relative in args.models:
        model = os.path.join(ROOT, "fixtures", relative)
        data = inputs_for(model, args.rows, args.cache)
        print("\n== %s" % relative)
        report(relative, *run_model(args, model, data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
