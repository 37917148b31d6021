#!/usr/bin/env python3
"""How well and how fast `kprune convert --data` prunes a convolutional final layer, against data-free
magnitude pruning and TF-MOT fine-tuned by distillation for the same number of steps.

    .venv/bin/python tools/bench_conv_quality.py path/to/kprune [--reps 3] [--fixtures fixtures]
        [--models digits_cnn digits_conv1d]

Models: the digits CNNs of tools/make_conv_calibration.py, whose final layer is a Conv2D (3x3, 32 -> 10)
or a Conv1D (3, 32 -> 10) followed by global average pooling and softmax (tf_keras `.h5`, which TF-MOT
loads). For each at 80% and 95% zeros:

  kprune mask / l1   kprune convert MODEL --sparsity S --data x_train.npy --method M --seed 0 (no labels:
                     distillation from the layer's own outputs, as TF-MOT below)
  magnitude          kprune convert MODEL --sparsity S (no data)
  TF-MOT             tools/tfmot_distill.py: the final layer wrapped in prune_low_magnitude, the rest frozen,
                     trained on x_train against the dense model's predictions for the steps kprune mask took

--models also takes the trailing-layer fixtures of tools/make_trail_calibration.py (digits_squeeze,
digits_maxpool, digits_fcn, digits_spatial, digits_segment): their final convolution reaches the output
through a relu and global average pooling, global max pooling, a flattening softmax, or a per-position
softmax. Agreement and accuracy are then per position for the segmenter, and the spatial model is scored
on its own labels.

Each output is scored by Keras on the 450 held-out test images: the agreement of its top-1 with the dense
model's, and its accuracy. Times are whole processes (start-up, load, data, fine-tune, save), kprune mask and
TF-MOT alternating, median of --reps runs each. Goals (issue 11): agreement >= 0.92 at 80% and >= 0.85 at
95%, kprune ahead of TF-MOT at both, and the kprune process faster than the TF-MOT one.
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

MODELS = ["digits_cnn", "digits_conv1d"]
SPARSITIES = [0.8, 0.95]
GOALS = {0.8: 0.92, 0.95: 0.85}


def score(pairs):
    """In a child process with Keras: for each (dense, pruned) file, agreement and accuracy on x_test."""
    script = r"""
import json, sys
sys.path.insert(0, %r)
import tfsetup
import numpy as np, tf_keras
raw, pairs = sys.argv[1], json.loads(sys.argv[2])
x = np.load(raw + "/x_test.npy")
dense_cache, result = {}, []
for dense, pruned, labels in pairs:
    if dense not in dense_cache:
        dense_cache[dense] = np.argmax(tf_keras.models.load_model(dense, compile=False).predict(x, verbose=0), -1)
    model = tf_keras.models.load_model(pruned, compile=False)
    # Top-1 per sample, or per position for an output with positions (the digit's class at each).
    p = np.argmax(model.predict(x, verbose=0), -1)
    y = np.load(labels or raw + "/y_test.npy")
    y = y.reshape(y.shape + (1,) * (p.ndim - y.ndim))
    kernel = model.get_layer("head").get_weights()[0]
    result.append({"agreement": float(np.mean(p == dense_cache[dense])), "accuracy": float(np.mean(p == y)),
                   "zeros": int(np.count_nonzero(kernel == 0)), "size": int(kernel.size)})
print(json.dumps(result))
""" % TOOLS
    raw = os.path.join(FIXTURES, "calibration", "digits_raw")
    done = subprocess.run([sys.executable, "-c", script, raw, json.dumps(pairs)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout)


def kprune(binary, model, sparsity, method, out):
    command = [binary, "convert", model, "--sparsity", str(sparsity), "-o", out, "--force", "--json"]
    if method != "magnitude":
        command += ["--data", os.path.join(FIXTURES, "calibration", "digits_raw", "x_train.npy"), "--method", method,
                    "--seed", "0"]
    result = measure.run(command)
    if result.returncode != 0:
        raise RuntimeError("kprune failed: %s" % result.stderr)
    return result, json.loads(result.stdout)


def tfmot(model, sparsity, steps, out):
    raw = os.path.join(FIXTURES, "calibration", "digits_raw")
    command = [sys.executable, os.path.join(TOOLS, "tfmot_distill.py"), model, str(sparsity), "--data",
               os.path.join(raw, "x_train.npy"), "--steps", str(steps), "-o", out]
    result = measure.run(command)
    if result.returncode != 0:
        raise RuntimeError("TF-MOT failed: %s" % result.stderr[-2000:])
    return result, json.loads(result.stdout.strip().splitlines()[-1])


def bench(binary, name, sparsity, reps, work):
    model = os.path.join(FIXTURES, "calibration", name, "model.h5")
    outputs, times = {}, {"kprune mask": [], "TF-MOT": []}
    steps = None
    for rep in range(reps):
        out = os.path.join(work, "%s.%s.mask.h5" % (name, sparsity))
        result, report = kprune(binary, model, sparsity, "mask", out)
        times["kprune mask"].append(result.seconds)
        outputs["kprune mask"] = out
        steps = report["fine_tune"]["steps"]
        out = os.path.join(work, "%s.%s.tfmot.h5" % (name, sparsity))
        result, report = tfmot(model, sparsity, steps, out)
        times["TF-MOT"].append(result.seconds)
        outputs["TF-MOT"] = out
        tfmot_exact = report["exact"]
    for method in ("l1", "magnitude"):
        out = os.path.join(work, "%s.%s.%s.h5" % (name, sparsity, method))
        kprune(binary, model, sparsity, method, out)
        outputs["kprune " + method if method == "l1" else method] = out
    labels = list(outputs)
    own = os.path.join(FIXTURES, "calibration", name, "y_test.npy")
    scores = score([[model, outputs[label], own if os.path.exists(own) else None] for label in labels])
    return {"model": name, "sparsity": sparsity, "steps": steps, "tfmot_exact": tfmot_exact,
            "scores": dict(zip(labels, scores)), "seconds": {k: statistics.median(v) for k, v in times.items()}}


def main():
    global FIXTURES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kprune")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--fixtures", default="fixtures")
    parser.add_argument("--models", nargs="+", default=MODELS,
                        help="calibration fixtures with a final layer named head (also those of "
                        "tools/make_trail_calibration.py)")
    args = parser.parse_args()
    FIXTURES = os.path.abspath(args.fixtures)
    binary = os.path.abspath(args.kprune)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.models:
            for sparsity in SPARSITIES:
                rows.append(bench(binary, name, sparsity, args.reps, work))
    print("%-14s %5s %6s | %-26s %-26s %-26s %-26s | %8s %8s %6s" % (
        "model", "zeros", "steps", "kprune mask agree/acc", "kprune l1 agree/acc", "magnitude agree/acc",
        "TF-MOT agree/acc", "kprune s", "TF-MOT s", "ratio"))
    goals = []
    for row in rows:
        s = row["scores"]

        def cell(label):
            return "%.4f / %.4f" % (s[label]["agreement"], s[label]["accuracy"])
        k, t = row["seconds"]["kprune mask"], row["seconds"]["TF-MOT"]
        print("%-14s %4.0f%% %6d | %-26s %-26s %-26s %-26s | %8.2f %8.2f %6.3f" % (
            row["model"], 100 * row["sparsity"], row["steps"], cell("kprune mask"), cell("kprune l1"),
            cell("magnitude"), cell("TF-MOT"), k, t, k / t))
        best = max(s["kprune mask"]["agreement"], s["kprune l1"]["agreement"])
        goals.append(("%s %.0f%%: kprune mask agreement %.4f >= %.2f" % (
            row["model"], 100 * row["sparsity"], s["kprune mask"]["agreement"], GOALS[row["sparsity"]]),
            s["kprune mask"]["agreement"] >= GOALS[row["sparsity"]]))
        goals.append(("%s %.0f%%: kprune (best %.4f) ahead of TF-MOT (%.4f)" % (
            row["model"], 100 * row["sparsity"], best, s["TF-MOT"]["agreement"]), best >= s["TF-MOT"]["agreement"]))
        goals.append(("%s %.0f%%: kprune process %.2fs faster than TF-MOT's %.2fs" % (
            row["model"], 100 * row["sparsity"], k, t), k < t))
        if not row["tfmot_exact"]:
            print("  note: TF-MOT's kernel does not hold the exact count (it keeps round(size x (1 - s)))")
    print()
    for text, met in goals:
        print("%s  %s" % ("MET " if met else "MISS", text))
    print(json.dumps(rows, sort_keys=True), file=sys.stderr)


if __name__ == "__main__":
    main()
