#!/usr/bin/env python3
"""The TF-MOT job kprune's `convert --data` is compared with: prune a model's final layer with TF-MOT and
fine-tune it by distillation from the dense model, from the model's own inputs.

    .venv/bin/python tools/tfmot_distill.py MODEL.h5 SPARSITY --data X.npy --steps N -o OUT.h5
        [--layer head] [--batch-size 64] [--learning-rate 0.001] [--seed 0] [--test X_TEST.npy]

It loads the tf_keras model, clones it with ONLY the final layer (`--layer`) wrapped in
tfmot.sparsity.keras.prune_low_magnitude and every other layer frozen (so, as with kprune, only that layer's
kernel and bias change), and trains the whole model on X with the dense model's own predictions as soft
targets (categorical cross-entropy against the dense softmax: distillation, no labels), Adam, for N steps
(the step count kprune's report gives, rounded up to whole epochs), with tfmot's UpdatePruningStep and the
polynomial schedule of tools/tfmot_baseline.py (TF-MOT's cubic ramp ending at 70% of the steps, 50 mask
updates). It strips the wrappers and saves OUT.h5.

Prints one JSON object: zeros, size, target_zeros (round half away from zero), exact, steps, epochs,
seconds (wall time from this process's start until the file is saved, interpreter and imports included),
fit_seconds, and with --test the agreement of the saved model's top-1 with the dense model's on X_TEST.
"""

import argparse
import json
import math
import os
import sys
import time

# TF-MOT 0.8 works with Keras 2 only: tf.keras must be tf_keras, set before TensorFlow is imported.
os.environ["TF_USE_LEGACY_KERAS"] = "1"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfsetup  # noqa: E402,F401  (first: TensorFlow's environment and determinism)

import numpy as np  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
import tf_keras  # noqa: E402

import calibrationlib  # noqa: E402
import pruning  # noqa: E402
import tfmot_baseline  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("sparsity", type=float)
    parser.add_argument("--data", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--layer", default="head")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test")
    args = parser.parse_args()

    tf_keras.utils.set_random_seed(args.seed)
    x = np.load(args.data)
    dense = tf_keras.models.load_model(args.model, compile=False)
    teacher = dense.predict(x, batch_size=256, verbose=0)
    per_epoch = math.ceil(len(x) / args.batch_size)
    epochs = max(1, math.ceil(args.steps / per_epoch))
    steps = epochs * per_epoch
    schedule, frequency, end_step = tfmot_baseline.pruning_schedule("polynomial", args.sparsity, steps)
    pruned = tfmot_baseline.wrap_final_layer(dense, args.layer, schedule)
    pruned.compile(optimizer=tf_keras.optimizers.Adam(args.learning_rate), loss="categorical_crossentropy")
    fit_start = time.perf_counter()
    pruned.fit(x, teacher, epochs=epochs, batch_size=args.batch_size, verbose=0, shuffle=True,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    fit_seconds = time.perf_counter() - fit_start
    final = tfmot.sparsity.keras.strip_pruning(pruned)
    final.save(args.output)
    seconds = calibrationlib.process_seconds()

    kernel = tfmot_baseline.saved_kernel(args.output, args.layer)
    zeros, size = int(np.count_nonzero(kernel == 0)), int(kernel.size)
    target = pruning.target_zeros(args.sparsity, size)
    report = {"zeros": zeros, "size": size, "target_zeros": target, "exact": zeros == target, "steps": steps,
              "epochs": epochs, "frequency": frequency, "end_step": end_step, "seconds": seconds,
              "fit_seconds": fit_seconds}
    if args.test:
        x_test = np.load(args.test)
        saved = tf_keras.models.load_model(args.output, compile=False)
        agree = np.argmax(saved.predict(x_test, verbose=0), 1) == np.argmax(dense.predict(x_test, verbose=0), 1)
        report["agreement"] = float(np.mean(agree))
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
