#!/usr/bin/env python3
"""Generate kprune's calibration fixtures: small real Keras models trained on scikit-learn's bundled datasets,
with their final layer's inputs and labels.

Run from the repository root with the project venv:

    tools/setup-venv.sh
    .venv/bin/python tools/make_calibration.py [--out fixtures/calibration]

For each dataset (load_digits, load_wine, load_breast_cancer: bundled with scikit-learn, nothing is
downloaded) it makes a stratified 75/25 split (seed 0) and trains, seeded and on one thread, a tf_keras MLP

    raw features -> Normalization (training split's mean and variance) -> Dense relu "hidden" -> Dense "head"

whose head is softmax over the classes (digits: 10, wine: 3) or one sigmoid unit (breast_cancer). It writes
into fixtures/calibration/<dataset>/:

    model.h5              the full tf_keras model with its Adam state (wine also: model.keras, Keras 3,
                          the same weights)
    h_train.npy h_test.npy    the head's inputs (the hidden layer's activations as Keras computes them), float32
    y_train.npy y_test.npy    the class ids, int32
    split.npz             the row indices of each split into scikit-learn's array (train, test)
    calibration.npz       wine only: the same four arrays as h_train, y_train, h_test, y_test
    calibration.h5        breast_cancer only: the same arrays as /train/features, /train/labels, /test/...

and fixtures/calibration/manifest.json, which records for each dataset the model files, the final layer, its
kernel shape and activation, the array files, the dense test accuracy measured by Keras (predict on the raw
test features, whole model), and for reference the test accuracy of exact magnitude pruning of the head at
80, 90 and 95% zeros computed in numpy (smallest |w| zeroed, count rounded half away from zero, ties lowest
row-major index first). The raw features are not stored: tools read them through calibrationlib.raw_inputs,
which checks scikit-learn's copy against the SHA-256 in the manifest. Every dataset's directory stays under
640 KB. digits' hidden layer is 64 wide: at 95% zeros its head keeps 32 weights for 10 classes.
"""

import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfsetup  # noqa: E402,F401  (first: TensorFlow's environment and determinism)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402,F401

import keras  # noqa: E402
import sklearn  # noqa: E402
import tf_keras  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import calibrationlib  # noqa: E402
import fixturelib  # noqa: E402
import pruning  # noqa: E402

SEED = 0
TEST_SIZE = 0.25
MAX_BYTES = 640 * 1024

# name, scikit-learn loader, hidden width, head units, head activation, epochs, extra files
DATASETS = (
    ("digits", "load_digits", 64, 10, "softmax", 160, ()),
    ("wine", "load_wine", 32, 3, "softmax", 100, ("npz", "keras3")),
    ("breast_cancer", "load_breast_cancer", 32, 1, "sigmoid", 60, ("h5",)),
)
BATCH, LEARNING_RATE = 32, 1e-3


def standardisation(x_train):
    """Mean and variance of the training split per feature; a constant feature gets variance 1."""
    mean = x_train.mean(axis=0)
    variance = x_train.var(axis=0)
    variance[variance == 0] = 1.0
    return mean.astype(np.float32), variance.astype(np.float32)


def loss_name(activation):
    return {"softmax": "sparse_categorical_crossentropy", "sigmoid": "binary_crossentropy"}[activation]


def build(api, name, features, mean, variance, hidden, units, activation):
    """The same MLP in tf_keras (api=tf_keras) or Keras 3 (api=keras)."""
    return api.Sequential([
        api.Input(shape=(features,)),
        api.layers.Normalization(mean=mean.tolist(), variance=variance.tolist(), name="standardize"),
        api.layers.Dense(hidden, activation="relu", name="hidden"),
        api.layers.Dense(units, activation=activation, name="head"),
    ], name="%s_mlp" % name)


def hidden_activations(api, model, x):
    return np.asarray(api.Model(model.inputs, model.get_layer("hidden").output).predict(x, verbose=0),
                      dtype=np.float32)


def keras_accuracy(model, x, y, activation):
    return float(np.mean(calibrationlib.predictions(model.predict(x, verbose=0), activation) == y))


def make_dataset(root, spec, max_bytes=MAX_BYTES):
    name, loader, hidden, units, activation, epochs, extras = spec
    directory = os.path.join(root, name)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)

    def rel(filename):
        return fixturelib.relative(os.path.join(directory, filename), root)

    x, y = calibrationlib.sklearn_arrays(loader)
    rows = np.arange(len(x))
    train, test = train_test_split(rows, test_size=TEST_SIZE, random_state=SEED, stratify=y)
    train, test = np.sort(train), np.sort(test)
    np.savez(os.path.join(directory, "split.npz"), train=train.astype(np.int16), test=test.astype(np.int16))
    x_train, x_test = x[train].astype(np.float32), x[test].astype(np.float32)
    y_train, y_test = y[train].astype(np.int32), y[test].astype(np.int32)
    mean, variance = standardisation(x_train)

    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(SEED)
    model = build(tf_keras, name, x.shape[1], mean, variance, hidden, units, activation)
    model.compile(optimizer=tf_keras.optimizers.Adam(LEARNING_RATE), loss=loss_name(activation),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=BATCH, verbose=0, shuffle=True)
    model_path = os.path.join(directory, "model.h5")
    model.save(model_path)

    h_train = hidden_activations(tf_keras, model, x_train)
    h_test = hidden_activations(tf_keras, model, x_test)
    arrays = {"h_train": h_train, "y_train": y_train, "h_test": h_test, "y_test": y_test}
    for key, value in arrays.items():
        np.save(os.path.join(directory, key + ".npy"), value)
    calibration = {"npy": {"features_train": rel("h_train.npy"), "labels_train": rel("y_train.npy"),
                           "features_test": rel("h_test.npy"), "labels_test": rel("y_test.npy")}}
    if "npz" in extras:
        np.savez(os.path.join(directory, "calibration.npz"), **arrays)
        calibration["npz"] = {"features_train": rel("calibration.npz") + ":h_train",
                              "labels_train": rel("calibration.npz") + ":y_train",
                              "features_test": rel("calibration.npz") + ":h_test",
                              "labels_test": rel("calibration.npz") + ":y_test"}
    if "h5" in extras:
        with h5py.File(os.path.join(directory, "calibration.h5"), "w") as h5:
            for split in ("train", "test"):
                h5.create_dataset("/%s/features" % split, data=arrays["h_" + split])
                h5.create_dataset("/%s/labels" % split, data=arrays["y_" + split])
        calibration["h5"] = {"%s_%s" % (kind, split): rel("calibration.h5") + ":/%s/%s" % (split, dataset)
                             for split in ("train", "test")
                             for kind, dataset in (("features", "features"), ("labels", "labels"))}

    # What Keras reports, read back from the saved file.
    loaded = tf_keras.models.load_model(model_path)
    dense_accuracy = keras_accuracy(loaded, x_test, y_test, activation)
    head = loaded.get_layer("head")
    kernel, bias = (np.asarray(w) for w in head.get_weights())
    if not np.array_equal(hidden_activations(tf_keras, loaded, x_test), h_test):
        raise RuntimeError("%s: the reloaded model's activations differ" % name)
    with h5py.File(model_path, "r") as h5:
        kernel_dataset = fixturelib.find_by_value(h5, kernel, optimizer=False)
        bias_dataset = fixturelib.find_by_value(h5, bias, optimizer=False)
    models = [{
        "file": rel("model.h5"), "format": "keras2-h5", "writer": "tf_keras %s" % tf_keras.__version__,
        "loader": "tf_keras", "kernel_dataset": kernel_dataset, "bias_dataset": bias_dataset,
        "dense_test_accuracy": dense_accuracy, "bytes": os.path.getsize(model_path),
        "notes": "Full model with Adam state; the one TF-MOT starts from.",
    }]
    head_accuracy = calibrationlib.head_accuracy(h_test, kernel, bias, y_test, activation)
    if abs(head_accuracy - dense_accuracy) > 1e-9:
        raise RuntimeError("%s: the head on h_test scores %.4f, the whole model %.4f"
                           % (name, head_accuracy, dense_accuracy))

    if "keras3" in extras:
        keras.backend.clear_session()
        keras.utils.set_random_seed(SEED)
        twin = build(keras, name, x.shape[1], mean, variance, hidden, units, activation)
        for layer in ("hidden", "head"):
            twin.get_layer(layer).set_weights(loaded.get_layer(layer).get_weights())
        twin.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                     loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
        # Carry tf_keras's Adam state over, so the archive holds a trained model's optimizer slots.
        twin.optimizer.build(twin.trainable_variables)
        twin.optimizer.iterations.assign(int(loaded.optimizer.iterations.numpy()))
        prefix = loaded.optimizer.name + "/"  # present on a fresh optimizer, absent after loading
        slots = {v.name[len(prefix):] if v.name.startswith(prefix) else v.name: v
                 for v in loaded.optimizer.variables()}
        for variable, source in zip(twin.trainable_variables, loaded.trainable_variables):
            index = twin.optimizer._get_variable_index(variable)
            for target, slot in ((twin.optimizer._momentums, "m"), (twin.optimizer._velocities, "v")):
                target[index].assign(slots["%s/%s" % (slot, source.name)].numpy())
        keras_path = os.path.join(directory, "model.keras")
        twin.save(keras_path)
        twin = keras.saving.load_model(keras_path)
        twin_h = hidden_activations(keras, twin, x_test)
        gap = float(np.max(np.abs(twin_h - h_test)))
        if gap > 1e-5:
            raise RuntimeError("%s: Keras 3's activations differ from tf_keras's by %g" % (name, gap))
        with fixturelib.open_weights_h5(keras_path) as h5:
            twin_kernel = fixturelib.find_by_value(h5, kernel, optimizer=False)
            twin_bias = fixturelib.find_by_value(h5, bias, optimizer=False)
        models.append({
            "file": rel("model.keras"), "format": "keras3-keras", "writer": "keras %s" % keras.__version__,
            "loader": "keras3", "kernel_dataset": twin_kernel, "bias_dataset": twin_bias,
            "dense_test_accuracy": keras_accuracy(twin, x_test, y_test, activation),
            "bytes": os.path.getsize(keras_path),
            "notes": "The tf_keras model's weights and Adam state in a Keras 3 archive; its "
                     "hidden activations match h_*.npy within %.1e." % gap,
        })

    magnitude = {}
    for sparsity in calibrationlib.SPARSITIES:
        zeros = pruning.target_zeros(sparsity, kernel.size)
        pruned = calibrationlib.magnitude_prune(kernel, zeros)
        magnitude[str(sparsity)] = {
            "zeros": int(np.count_nonzero(pruned == 0)),
            "test_accuracy": calibrationlib.head_accuracy(h_test, pruned, bias, y_test, activation),
        }

    entry = {
        "name": name,
        "source": "sklearn.datasets.%s (scikit-learn %s, bundled)" % (loader, sklearn.__version__),
        "classes": int(len(np.unique(y))),
        "inputs": {
            "loader": loader, "features": int(x.shape[1]), "dtype": "float32",
            "x_sha256": calibrationlib.array_sha256(x), "y_sha256": calibrationlib.array_sha256(y),
            "split": rel("split.npz"),
            "split_rule": "train_test_split(test_size=%s, random_state=%d, stratify=y), indices sorted"
                          % (TEST_SIZE, SEED),
        },
        "train_samples": int(len(train)),
        "test_samples": int(len(test)),
        "architecture": "%d -> Normalization -> %d relu -> %d %s"
                        % (x.shape[1], hidden, units, activation),
        "training": "tf_keras Adam(%g), %s, batch %d, %d epochs, seed %d, one thread"
                    % (LEARNING_RATE, loss_name(activation), BATCH, epochs, SEED),
        "final_layer": "head",
        "final_layer_class": "Dense",
        "kernel_shape": list(kernel.shape),
        "kernel_size": int(kernel.size),
        "activation": activation,
        "loss": {"softmax": "cross-entropy", "sigmoid": "binary cross-entropy"}[activation],
        "models": models,
        "calibration": calibration,
        "dense_train_accuracy": keras_accuracy(loaded, x_train, y_train, activation),
        "dense_test_accuracy": dense_accuracy,
        "magnitude_test_accuracy": magnitude,
    }
    entry["bytes"] = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory))
    if max_bytes and entry["bytes"] >= max_bytes:
        raise RuntimeError("%s is %d bytes, calibration fixtures must stay under %d" % (name, entry["bytes"],
                                                                                      max_bytes))
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=calibrationlib.ROOT)
    parser.add_argument("--hidden", action="append", default=[], metavar="DATASET=WIDTH",
                        help="another hidden width for a dataset, e.g. digits=64 (then --out must be another "
                             "directory: the size limit of the repository's fixtures is not checked)")
    args = parser.parse_args()
    root = os.path.abspath(args.out)
    widths = dict((name, int(width)) for name, width in (item.split("=") for item in args.hidden))
    if widths and root == os.path.abspath(calibrationlib.ROOT):
        parser.error("--hidden writes elsewhere than %s: give --out" % calibrationlib.ROOT)
    os.makedirs(root, exist_ok=True)
    specs = [(spec[0], spec[1], widths.get(spec[0], spec[2])) + spec[3:] for spec in DATASETS]
    entries = [make_dataset(root, spec, None if widths else MAX_BYTES) for spec in specs]
    with open(os.path.join(root, "manifest.json"), "w") as handle:
        json.dump({"datasets": entries}, handle, indent=2)
        handle.write("\n")
    for entry in entries:
        print("%-14s %-40s dense test %.4f  magnitude 80/90/95%%: %s  %d bytes"
              % (entry["name"], entry["architecture"], entry["dense_test_accuracy"],
                 " ".join("%.4f" % entry["magnitude_test_accuracy"][str(s)]["test_accuracy"]
                          for s in calibrationlib.SPARSITIES), entry["bytes"]))
    print("wrote %s" % os.path.join(root, "manifest.json"))


if __name__ == "__main__":
    main()
