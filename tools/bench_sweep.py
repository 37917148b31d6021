#!/usr/bin/env python3
"""Benchmark `kprune sweep` against the `kprune convert` processes it replaces (a benchmark, not a test).

    python3 tools/bench_sweep.py path/to/kprune [--reps 5] [--model calibration/digits/model.h5]

On the digits MLP's 64x10 head (tools/make_calibration.py), from raw inputs with labels and evaluation
data, it runs side by side, alternating, `--reps` times each:

  sweep     kprune sweep MODEL --data x_train --labels y_train --eval-data x_test --eval-labels y_test --json
            (the 11 default points)
  converts  the 11 processes `kprune convert MODEL --sparsity F` with the same options, one per point

and prints the medians and their ratio (goal <= 0.3). Then it checks that the outputs are the same: each
point's fine-tune figures (timings aside) and evaluation equal those of the convert at that sparsity.
Standard library only; the processes are run by tools/measure.py.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import measure  # noqa: E402

POINTS = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99]
GOAL = 0.3


def without_timings(tune):
    return {key: value for key, value in tune.items() if key != "train_seconds"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kprune")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--model", default="calibration/digits/model.h5")
    parser.add_argument("--fixtures", default=os.path.join(TOOLS, "..", "fixtures"))
    args = parser.parse_args()
    fixtures = os.path.abspath(args.fixtures)
    raw = os.path.join(fixtures, "calibration", "digits_raw")
    model = os.path.join(fixtures, args.model)
    data = ["--data", os.path.join(raw, "x_train.npy"), "--labels", os.path.join(raw, "y_train.npy"),
            "--eval-data", os.path.join(raw, "x_test.npy"), "--eval-labels", os.path.join(raw, "y_test.npy")]
    sweep_times, convert_times = [], []
    with tempfile.TemporaryDirectory() as work:
        output = os.path.join(work, "out" + os.path.splitext(model)[1])
        for _ in range(args.reps):
            sweep = measure.run([args.kprune, "sweep", model, "--json"] + data)
            if sweep.returncode != 0:
                sys.exit("sweep failed: " + sweep.stderr)
            sweep_times.append(sweep.seconds)
            total, converts = 0.0, []
            for sparsity in POINTS:
                run = measure.run([args.kprune, "convert", model, "--sparsity", str(sparsity), "--json", "-o", output,
                                   "--force"] + data)
                if run.returncode != 0:
                    sys.exit("convert failed: " + run.stderr)
                total += run.seconds
                converts.append(json.loads(run.stdout))
            convert_times.append(total)
    points = [json.loads(line) for line in sweep.stdout.splitlines()]
    same = len(points) == len(converts) and all(
        point["zeros"] == report["zeros_after"]
        and without_timings(point["fine_tune"]) == without_timings(report["fine_tune"])
        and point["eval"] == report["eval"]
        for point, report in zip(points, converts))
    sweep_median, convert_median = statistics.median(sweep_times), statistics.median(convert_times)
    ratio = sweep_median / convert_median
    print("sweep (11 points, one process): %.3f s" % sweep_median)
    print("11 convert processes:           %.3f s" % convert_median)
    print("ratio %.2f (goal <= %.1f): %s" % (ratio, GOAL, "PASS" if ratio <= GOAL else "MISS"))
    print("outputs: %s" % ("each point equals its convert" if same else "DIFFER"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
