#!/usr/bin/env python3
"""Whether kprune's fine-tune depends on the units of the features (a benchmark, not a test).

    .venv/bin/python tools/bench_scale.py path/to/kprune [--scales 0.02 1 50] [--sparsity 0.8 0.95]
        [--json RESULTS.json]

Two digits-style models (scikit-learn's bundled digits, the calibration fixture's split and labels):

  normalized  fixtures/calibration/digits/model.h5: 64 -> Normalization -> 64 relu -> 10 softmax
  raw         the same architecture without the Normalization layer, trained here (tf_keras, seeded, one
              thread): the head reads plain ReLU activations of raw pixels (values 0 to about 10)

For each model and each scale c, the hidden Dense layer's kernel and bias are multiplied by c and the head's
kernel by 1/c. ReLU is positively homogeneous, so the model computes the same function, while the head's
inputs (the features given to kprune) are c times larger. kprune fine-tunes the head with the training split's
features and labels (default settings otherwise) for each method and sparsity; every output is loaded by
tf_keras and scored as a whole model on the raw test inputs, and its zero count is checked.

Goals (kprune's issue on robust fine-tuning): at every scale, both methods within 0.5 points of dense at 80%
zeros, and at 95% mask within 4 points and l1 within 5. The script prints a markdown table and PASS/MISS
lines; its exit status is 0 whatever the results.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfsetup  # noqa: E402,F401  (first: TensorFlow's environment and determinism)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402,F401

import tf_keras  # noqa: E402

import calibrationlib  # noqa: E402

METHODS = ("mask", "l1")
GOALS = {0.8: {"mask": 0.5, "l1": 0.5}, 0.95: {"mask": 4.0, "l1": 5.0}}


def digits():
    manifest = calibrationlib.load_manifest()
    entry = calibrationlib.find_dataset(manifest, "digits")
    x_train, y_train, x_test, y_test = calibrationlib.raw_inputs(entry)
    model = os.path.join(calibrationlib.ROOT, "digits", "model.h5")
    return entry, (x_train, y_train, x_test, y_test), model


def train_raw(x_train, y_train, path):
    """The digits MLP without its Normalization layer, trained as the fixture was."""
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(0)
    model = tf_keras.Sequential([
        tf_keras.Input(shape=(x_train.shape[1],)),
        tf_keras.layers.Dense(64, activation="relu", name="hidden"),
        tf_keras.layers.Dense(10, activation="softmax", name="head"),
    ], name="digits_raw_mlp")
    model.compile(optimizer=tf_keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=160, batch_size=32, verbose=0, shuffle=True)
    model.save(path)


def scaled(source, scale, path):
    """The model with its hidden layer scaled by `scale` and its head's kernel by 1 / scale."""
    model = tf_keras.models.load_model(source)
    hidden, head = model.get_layer("hidden"), model.get_layer("head")
    kernel, bias = hidden.get_weights()
    hidden.set_weights([kernel * np.float32(scale), bias * np.float32(scale)])
    kernel, bias = head.get_weights()
    head.set_weights([kernel / np.float32(scale), bias])
    model.save(path)
    return model


def features(model, x):
    inner = tf_keras.Model(model.inputs, model.get_layer("hidden").output)
    return np.asarray(inner.predict(x, verbose=0), dtype=np.float32)


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kprune")
    parser.add_argument("--scales", type=float, nargs="+", default=[0.02, 1.0, 50.0])
    parser.add_argument("--sparsity", type=float, nargs="+", default=[0.8, 0.95])
    parser.add_argument("--json")
    args = parser.parse_args()

    entry, (x_train, y_train, x_test, y_test), fixture = digits()
    results = []
    with tempfile.TemporaryDirectory() as work:
        raw = os.path.join(work, "raw.h5")
        train_raw(x_train, y_train, raw)
        for variant, source in (("normalized", fixture), ("raw", raw)):
            for scale in args.scales:
                path = os.path.join(work, "%s-%g.h5" % (variant, scale))
                model = scaled(source, scale, path)
                dense = accuracy(model, x_test, y_test)
                h_train = features(model, x_train)
                np.save(os.path.join(work, "h.npy"), h_train)
                np.save(os.path.join(work, "y.npy"), y_train.astype(np.int32))
                for sparsity in args.sparsity:
                    for method in METHODS:
                        out = os.path.join(work, "out.h5")
                        command = [args.kprune, "convert", path, "--sparsity", str(sparsity), "--method", method,
                                   "--features", os.path.join(work, "h.npy"), "--labels",
                                   os.path.join(work, "y.npy"), "-o", out, "--force", "--json"]
                        run = subprocess.run(command, capture_output=True, text=True)
                        row = {"variant": variant, "scale": scale, "sparsity": sparsity, "method": method,
                               "dense": dense}
                        if run.returncode != 0:
                            row["error"] = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "failed"
                        else:
                            report = json.loads(run.stdout)
                            pruned = tf_keras.models.load_model(out)
                            kernel = pruned.get_layer("head").get_weights()[0]
                            row["zeros_exact"] = int(np.count_nonzero(kernel == 0)) == report["target_zeros"]
                            row["accuracy"] = accuracy(pruned, x_test, y_test)
                            row["chosen"] = report["fine_tune"]["chosen"]
                        results.append(row)
                        print("%-10s scale %-5g %2d%% %-4s dense %.3f -> %s" % (
                            variant, scale, round(sparsity * 100), method, dense,
                            "%.3f (%s)" % (row["accuracy"], row["chosen"]) if "accuracy" in row
                            else row["error"]), flush=True)

    print()
    header = "| model | scale | dense | " + " | ".join(
        "%s %d%%" % (method, round(s * 100)) for s in args.sparsity for method in METHODS) + " |"
    print(header)
    print("|" + "---|" * (3 + len(args.sparsity) * len(METHODS)))
    for variant in ("normalized", "raw"):
        for scale in args.scales:
            rows = [r for r in results if r["variant"] == variant and r["scale"] == scale]
            cells = []
            for s in args.sparsity:
                for method in METHODS:
                    row = next(r for r in rows if r["sparsity"] == s and r["method"] == method)
                    cells.append("%.3f" % row["accuracy"] if "accuracy" in row else "error")
            print("| %s | %g | %.3f | %s |" % (variant, scale, rows[0]["dense"], " | ".join(cells)))
    print()
    for s, limits in GOALS.items():
        if s not in args.sparsity:
            continue
        for method, points in limits.items():
            rows = [r for r in results if r["sparsity"] == s and r["method"] == method]
            worst = min((r.get("accuracy", 0) - r["dense"]) * 100 for r in rows)
            print("goal %-4s within %.1f points of dense at %d%% at every scale: %s (worst %+.1f)"
                  % (method, points, round(s * 100), "PASS" if worst >= -points else "MISS", worst))
    exact = all(r.get("zeros_exact") for r in results)
    print("goal every output holds exactly the target zeros: %s" % ("PASS" if exact else "MISS"))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
