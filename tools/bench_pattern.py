#!/usr/bin/env python3
"""Benchmark kprune's structured patterns against TF-MOT's 2:4 on the digits MLP head (a benchmark, not a test).

    .venv/bin/python tools/bench_pattern.py path/to/kprune [--seeds 3]

On the digits calibration fixture (tools/make_calibration.py: 64 -> 64 relu -> 10 softmax), it runs side by side:

  kprune 2:4          kprune convert model.h5 --pattern 2:4 --features h_train --labels y_train
                      --eval-features h_test --eval-labels y_test --json
  kprune balanced S   the same with --pattern balanced --sparsity S, for S = 0.8 and 0.95
  TF-MOT 2:4          tools/tfmot_baseline.py digits 0.5 --m-by-n 2,4 --schedule constant (10 epochs, per seed)

and prints each one's test accuracy (kprune's evaluation figures; TF-MOT's Keras predictions of its saved model,
on the same 450 test samples) and whole-process time, with the goals: 2:4 accuracy >= TF-MOT's and process
time <= 0.05x TF-MOT's; balanced >= 0.9866 at 80% and >= 0.95 at 95%. Standard library only.
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

DIGITS = os.path.join(TOOLS, "..", "fixtures", "calibration", "digits")


def kprune(binary, output, pattern):
    run = measure.run([binary, "convert", os.path.join(DIGITS, "model.h5")] + pattern + [
        "--features", os.path.join(DIGITS, "h_train.npy"), "--labels", os.path.join(DIGITS, "y_train.npy"),
        "--eval-features", os.path.join(DIGITS, "h_test.npy"), "--eval-labels", os.path.join(DIGITS, "y_test.npy"),
        "--json", "-o", output, "--force"])
    if run.returncode != 0:
        sys.exit("kprune failed: " + run.stderr)
    report = json.loads(run.stdout)
    return report["eval"]["accuracy"], report["eval"]["dense"]["accuracy"], run.seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kprune")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as work:
        output = os.path.join(work, "out.h5")
        accuracy, dense, seconds = kprune(args.kprune, output, ["--pattern", "2:4"])
        tfmot = []
        for seed in range(args.seeds):
            run = measure.run([python, os.path.join(TOOLS, "tfmot_baseline.py"), "digits", "0.5", "--m-by-n", "2,4",
                               "--schedule", "constant", "--seed", str(seed), "-o", os.path.join(work, "tfmot.h5")])
            if run.returncode != 0:
                sys.exit("TF-MOT failed: " + run.stderr[-500:])
            report = json.loads(run.stdout.strip().splitlines()[-1])
            tfmot.append((report["test_accuracy"], run.seconds))
        balanced = {s: kprune(args.kprune, output, ["--pattern", "balanced", "--sparsity", str(s)]) for s in (0.8, 0.95)}
    tf_accuracy = statistics.median(a for a, _ in tfmot)
    tf_seconds = statistics.median(s for _, s in tfmot)
    print("dense test accuracy: %.4f" % dense)
    print("2:4      kprune %.4f in %.2f s | TF-MOT %.4f (median of %d seeds: %s) in %.2f s | time ratio %.3f" % (
        accuracy, seconds, tf_accuracy, len(tfmot), ", ".join("%.4f" % a for a, _ in tfmot), tf_seconds,
        seconds / tf_seconds))
    print("         goals: accuracy >= TF-MOT's: %s; time <= 0.05x: %s" % (
        "PASS" if accuracy >= tf_accuracy else "MISS", "PASS" if seconds / tf_seconds <= 0.05 else "MISS"))
    for sparsity, goal in ((0.8, 0.9866), (0.95, 0.95)):
        value, _, took = balanced[sparsity]
        print("balanced %.2f: kprune %.4f in %.2f s (goal >= %.4f: %s)" % (
            sparsity, value, took, goal, "PASS" if value >= goal else "MISS"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
