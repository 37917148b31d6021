#!/usr/bin/env python3
"""The TF-MOT job kprune is compared with: prune a calibration fixture's final layer and fine-tune it.

    .venv/bin/python tools/tfmot_baseline.py DATASET SPARSITY [-o OUT.h5] [--schedule polynomial|constant]
        [--epochs 10] [--batch-size 32] [--learning-rate 0.001] [--seed 0] [--no-eval]

DATASET names an entry of fixtures/calibration/manifest.json (tools/make_calibration.py). The tool loads its
tf_keras model (model.h5) and clones it with ONLY the final layer wrapped in
tfmot.sparsity.keras.prune_low_magnitude; every other layer is frozen, so, as with kprune, only the final
layer's kernel and bias change. It fine-tunes the whole model on the training split's raw features and labels
(Adam, the loss that matches the head: sparse categorical cross-entropy for softmax, binary cross-entropy for
sigmoid; batch 32, 10 epochs, tfmot's UpdatePruningStep), strips the wrappers with strip_pruning and saves
OUT.h5 (default: a temporary directory's DATASET.tfmot.h5).

The schedule, by default polynomial, is the stronger of the two TF-MOT offers on these fixtures:
  polynomial  PolynomialDecay from 0 to SPARSITY (TF-MOT's cubic ramp), masks updated every `frequency`
              steps and the ramp ending at the last update at or before 70% of the steps, so the final
              sparsity is really reached and the last 30% fine-tunes the fixed mask;
  constant    ConstantSparsity: the target mask from step 0, updated every `frequency` steps.
`frequency` is total steps / 50, at least 1 (digits: 8, breast_cancer: 2, wine: 1).

Prints one JSON object on standard output:
  zeros, size, target_zeros, exact     the saved kernel's zero count, read back from the file by h5py, against
                                       round_half_away_from_zero(SPARSITY x size); TF-MOT keeps
                                       round(size x (1 - SPARSITY)) weights, which may differ at halves
  test_accuracy                        Keras predict of the saved model on the raw test features
                                       (omitted with --no-eval, which ends the process right after saving)
  seconds                              wall time from this process's start (interpreter start-up and imports
                                       included) until the output file is saved
  fit_seconds                          the fine-tune alone
and the settings used. Run it as a subprocess to time it as a whole, as tools/bench_quality.py does.
"""

import argparse
import json
import os
import sys
import tempfile
import time

# TF-MOT 0.8 works with Keras 2 only: with this set, tf.keras (and so TF-MOT) is tf_keras. It must be set
# before TensorFlow is imported, so before tfsetup.
os.environ["TF_USE_LEGACY_KERAS"] = "1"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfsetup  # noqa: E402,F401  (first: TensorFlow's environment and determinism)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
import tf_keras  # noqa: E402

import calibrationlib  # noqa: E402
import pruning  # noqa: E402

RAMP_END = 0.7
UPDATES = 50
LOSSES = {"softmax": "sparse_categorical_crossentropy", "sigmoid": "binary_crossentropy", "linear": "mse"}


def pruning_schedule(kind, sparsity, total_steps):
    frequency = max(1, total_steps // UPDATES)
    if kind == "constant":
        return tfmot.sparsity.keras.ConstantSparsity(sparsity, begin_step=0, frequency=frequency), frequency, None
    # A mask update happens only at steps that are multiples of frequency: end the ramp on one.
    end_step = max(frequency, int(RAMP_END * total_steps) // frequency * frequency)
    return (tfmot.sparsity.keras.PolynomialDecay(initial_sparsity=0.0, final_sparsity=sparsity, begin_step=0,
                                                 end_step=end_step, frequency=frequency),
            frequency, end_step)


def wrap_final_layer(model, layer_name, schedule, m_by_n=None):
    """A copy of `model` with the final layer pruned by TF-MOT and every other layer frozen; with `m_by_n`, TF-MOT's
    structured pruning `sparsity_m_by_n` (its (N, M) counts the weights kept of each M)."""

    def clone(layer):
        copy = layer.__class__.from_config(layer.get_config())
        if layer.name == layer_name:
            if m_by_n:
                return tfmot.sparsity.keras.prune_low_magnitude(copy, pruning_schedule=schedule, sparsity_m_by_n=m_by_n)
            return tfmot.sparsity.keras.prune_low_magnitude(copy, pruning_schedule=schedule)
        copy.trainable = False
        return copy

    pruned = tf_keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        target = pruned.get_layer(layer.name if layer.name != layer_name else "prune_low_magnitude_" + layer_name)
        target = getattr(target, "layer", target)
        target.set_weights(layer.get_weights())
    return pruned


def saved_kernel(path, layer_name):
    """The final layer's kernel as saved, found through the layer group's weight_names.

    After strip_pruning the weights keep the wrapper's scope: /model_weights/head/prune_low_magnitude_head/...
    """
    with h5py.File(path, "r") as h5:
        group = h5["model_weights"][layer_name]
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        kernel = next(n for n in names if n.rsplit("/", 1)[-1].startswith("kernel"))
        return group[kernel][()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("sparsity", type=float)
    parser.add_argument("-o", "--output")
    parser.add_argument("--schedule", choices=("polynomial", "constant"), default="polynomial")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fixtures", default=calibrationlib.ROOT, help="the calibration fixtures' directory")
    parser.add_argument("--no-eval", action="store_true", help="skip the test accuracy; exit once saved")
    parser.add_argument("--m-by-n", help="N,M: TF-MOT's structured pruning (N kept of every M along the inputs); "
                                         "SPARSITY must then be 1 - N/M")
    args = parser.parse_args()
    entry = calibrationlib.find_dataset(calibrationlib.load_manifest(args.fixtures), args.dataset)
    model_entry = next(m for m in entry["models"] if m["loader"] == "tf_keras")
    output = args.output or os.path.join(tempfile.gettempdir(), "%s.tfmot.h5" % args.dataset)

    tf_keras.utils.set_random_seed(args.seed)
    x_train, y_train, x_test, y_test = calibrationlib.raw_inputs(entry, args.fixtures)
    model = tf_keras.models.load_model(os.path.join(args.fixtures, model_entry["file"]))
    steps = args.epochs * int(np.ceil(len(x_train) / args.batch_size))
    schedule, frequency, end_step = pruning_schedule(args.schedule, args.sparsity, steps)
    m_by_n = tuple(int(v) for v in args.m_by_n.split(",")) if args.m_by_n else None
    pruned = wrap_final_layer(model, entry["final_layer"], schedule, m_by_n)
    pruned.compile(optimizer=tf_keras.optimizers.Adam(args.learning_rate), loss=LOSSES[entry["activation"]])
    fit_start = time.perf_counter()
    pruned.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, verbose=0, shuffle=True,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    fit_seconds = time.perf_counter() - fit_start
    final = tfmot.sparsity.keras.strip_pruning(pruned)
    final.save(output)
    seconds = calibrationlib.process_seconds()

    kernel = saved_kernel(output, entry["final_layer"])
    zeros, size = int(np.count_nonzero(kernel == 0)), int(kernel.size)
    target = pruning.target_zeros(args.sparsity, size)
    report = {
        "dataset": args.dataset, "input": os.path.join(args.fixtures, model_entry["file"]), "output": output,
        "sparsity": args.sparsity, "zeros": zeros, "size": size, "target_zeros": target, "exact": zeros == target,
        "schedule": args.schedule, "m_by_n": args.m_by_n, "frequency": frequency, "end_step": end_step, "steps": steps,
        "epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
        "frozen": "every layer but %s" % entry["final_layer"],
        "seconds": seconds, "fit_seconds": fit_seconds,
    }
    if not args.no_eval:
        saved = tf_keras.models.load_model(output, compile=False)
        outputs = saved.predict(x_test, verbose=0)
        report["test_accuracy"] = float(np.mean(calibrationlib.predictions(outputs, entry["activation"]) == y_test))
    print(json.dumps(report, sort_keys=True))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
