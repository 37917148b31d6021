#!/usr/bin/env python3
"""Quality of kprune's methods on real models (a benchmark, not a test).

    .venv/bin/python tools/bench_quality.py path/to/kprune [--cache DIR] [--only DATASET]

For each of scikit-learn's bundled datasets digits (64 -> 64 relu -> 10 softmax, inputs scaled to [0, 1])
and breast_cancer (30 -> 32 relu -> 2 softmax, inputs standardised on the training split), it trains once
(then reuses, in a cache directory outside the repository) a tf_keras MLP on a stratified 75/25 split
(seed 0), and exports the penultimate activations of both splits. Then, for 80, 90 and 95% zeros in the final layer,
it runs kprune with --method magnitude (no data), mask and l1 (training split's activations and labels),
and TF-MOT (tools/tfmot_baseline.py: prune_low_magnitude on the final layer, 10 epochs on the training
split's pixels and labels, other layers frozen). Each output is scored on the test split: the output file's
final kernel and bias applied to the test activations (the other layers are unchanged in every output),
argmax against the labels. It prints the accuracy, whether the file holds exactly the target zero count,
and the whole process's wall time, then the goals of kprune's issue as PASS/MISS.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

DATASETS = ("digits", "breast_cancer")

BUILD = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tf_keras as K
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
cache, dataset = sys.argv[1], sys.argv[2]
if dataset == "digits":
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    width, classes = 64, 10
else:
    X, y = load_breast_cancer(return_X_y=True)
    width, classes = 32, 2
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
if dataset != "digits":
    mean, std = Xtr.mean(0), Xtr.std(0) + 1e-8
    Xtr, Xte = ((Xtr - mean) / std).astype("float32"), ((Xte - mean) / std).astype("float32")
K.utils.set_random_seed(0)
inputs = K.Input((X.shape[1],))
hidden = K.layers.Dense(width, activation="relu", name="hidden")(inputs)
head = K.layers.Dense(classes, activation="softmax", name="head")(hidden)
model = K.Model(inputs, head)
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(Xtr, ytr, epochs=60, batch_size=32, verbose=0)
model.save(os.path.join(cache, "model.h5"))
features = K.Model(inputs, hidden)
np.save(os.path.join(cache, "x_train.npy"), Xtr)
np.save(os.path.join(cache, "h_train.npy"), features.predict(Xtr, verbose=0).astype("float32"))
np.save(os.path.join(cache, "y_train.npy"), ytr.astype("int64"))
np.save(os.path.join(cache, "h_test.npy"), features.predict(Xte, verbose=0).astype("float32"))
np.save(os.path.join(cache, "y_test.npy"), yte.astype("int64"))
"""

SCORE = r"""
import sys
import h5py, numpy as np
path, cache = sys.argv[1], sys.argv[2]
with h5py.File(path) as f:
    W = f["/model_weights/head/head/kernel:0"][()]
    b = f["/model_weights/head/head/bias:0"][()]
H = np.load(cache + "/h_test.npy"); y = np.load(cache + "/y_test.npy")
print(int((W == 0).sum()), W.size, ((H @ W + b).argmax(1) == y).mean())
"""


def run(kprune, cache):
    """Benchmarks one dataset whose model and arrays are in `cache`; returns the goals' results."""
    model = os.path.join(cache, "model.h5")
    out = os.path.join(cache, "out.h5")

    def score(path):
        zeros, size, accuracy = subprocess.run([sys.executable, "-c", SCORE, path, cache], check=True,
                                               capture_output=True, text=True).stdout.split()
        return int(zeros), int(size), float(accuracy)

    dense = score(model)[2]
    print("dense test accuracy: %.4f" % dense)
    print("%-10s %8s %9s %8s %9s" % ("method", "zeros", "exact", "test acc", "wall s"))
    data = ["--features", os.path.join(cache, "h_train.npy"), "--labels", os.path.join(cache, "y_train.npy")]
    tfmot = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tfmot_baseline.py"), model,
             "head"]
    results = {}
    for method in ("magnitude", "mask", "l1", "tfmot"):
        for sparsity in (0.8, 0.9, 0.95):
            if method == "tfmot":
                command = tfmot + [str(sparsity), os.path.join(cache, "x_train.npy"),
                                   os.path.join(cache, "y_train.npy"), out]
            else:
                command = [kprune, "convert", model, "--sparsity", str(sparsity), "-o", out, "--force", "--quiet"]
                command += [] if method == "magnitude" else data + ["--method", method]
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3"))
            wall = time.perf_counter() - start
            zeros, size, accuracy = score(out)
            target = int(sparsity * size + 0.5)
            results[method, sparsity] = (accuracy, wall)
            print("%-10s %7.0f%% %9s %8.4f %9.2f" % (method, sparsity * 100, "yes" if zeros == target else "NO",
                                                     accuracy, wall))

    def goal(text, ok):
        print("goal %s: %s" % (text, "PASS" if ok else "MISS"))

    for method in ("mask", "l1"):
        goal("%s within 0.5 points of dense at 80%%" % method, dense - results[method, 0.8][0] <= 0.005)
        goal("%s ahead of TF-MOT at 80/90/95%%" % method,
             all(results[method, s][0] > results["tfmot", s][0] for s in (0.8, 0.9, 0.95)))
        ratio = max(results[method, s][1] / results["tfmot", s][1] for s in (0.8, 0.9, 0.95))
        goal("%s wall <= 0.1x TF-MOT's (worst %.3fx)" % (method, ratio), ratio <= 0.1)
    goal("mask within 4 points of dense at 95%", dense - results["mask", 0.95][0] <= 0.04)
    goal("l1 within 5 points of dense at 95%", dense - results["l1", 0.95][0] <= 0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kprune")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "kprune-bench-quality"))
    parser.add_argument("--only", choices=DATASETS)
    args = parser.parse_args()
    for dataset in DATASETS:
        if args.only and dataset != args.only:
            continue
        cache = os.path.join(args.cache, dataset)
        os.makedirs(cache, exist_ok=True)
        if not all(os.path.exists(os.path.join(cache, name)) for name in ("model.h5", "x_train.npy")):
            print("training %s ..." % dataset, flush=True)
            subprocess.run([sys.executable, "-c", BUILD, cache, dataset], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("== %s" % dataset)
        run(os.path.abspath(args.kprune), cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
