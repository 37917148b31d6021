#!/usr/bin/env python3
"""Generate kprune's convolutional calibration fixtures: small CNNs trained on scikit-learn's bundled digits
(8x8 images, nothing downloaded) whose final layer is a convolution, with the raw images and labels that
`kprune convert --data` fine-tunes from.

Run from the repository root with the project venv:

    .venv/bin/python tools/make_conv_calibration.py [--out fixtures/calibration]

The split is the digits split of tools/make_calibration.py (stratified 75/25, seed 0, read from
fixtures/calibration/digits/split.npz). Each model is trained seeded on one thread with tf_keras and saved as
`model.h5` (with its Adam state); the same weights are saved by Keras 3 as `model.keras`; `p_test.npy` holds
tf_keras's predictions on the test images (Keras 3's agree within 1e-5):

    digits_cnn      8x8x1 -> Rescaling(1/16) -> Conv2D 16 3x3 relu -> BatchNormalization -> Conv2D 32 3x3 relu
                    -> MaxPooling2D 2 -> Conv2D 10 3x3 "head" (linear) -> GlobalAveragePooling2D -> softmax
    digits_conv1d   8 rows of 8 pixels -> Rescaling(1/16) -> Conv1D 32 3 causal relu -> Conv1D 32 3 causal
                    dilation 2 relu, added to the first -> Conv1D 10 3 "head" (linear) -> GlobalAveragePooling1D
                    -> softmax

Into fixtures/calibration/<name>/ it writes the models and, shared by both in fixtures/calibration/digits_raw/:
x_train.npy, x_test.npy (the raw pixel values 0-16 as float32, shape N x 8 x 8 x 1) and y_train.npy,
y_test.npy (int32), and conv_manifest.json with each model's Keras test accuracy and head.

custom_layer/model.h5 is an untrained model with a layer class of its own (`Doubling`) before its Dense head,
for the error `kprune convert --data` gives on a layer its forward pass cannot run.
"""

import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfsetup  # noqa: E402,F401  (first: TensorFlow's environment and determinism)

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tf_keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

SEED = 0
BATCH, LEARNING_RATE = 32, 2e-3


def digits_cnn(k):
    L = k.layers
    x = k.Input(shape=(8, 8, 1))
    h = L.Rescaling(1 / 16)(x)
    h = L.Conv2D(16, 3, padding="same", activation="relu")(h)
    h = L.BatchNormalization()(h)
    h = L.Conv2D(32, 3, padding="same", activation="relu")(h)
    h = L.MaxPooling2D(2)(h)
    h = L.Conv2D(10, 3, padding="same", name="head")(h)
    h = L.GlobalAveragePooling2D()(h)
    return k.Model(x, L.Activation("softmax", name="probabilities")(h), name="digits_cnn")


def digits_conv1d(k):
    L = k.layers
    x = k.Input(shape=(8, 8, 1))
    h = L.Reshape((8, 8))(x)
    h = L.Rescaling(1 / 16)(h)
    a = L.Conv1D(32, 3, padding="causal", activation="relu")(h)
    b = L.Conv1D(32, 3, padding="causal", dilation_rate=2, activation="relu")(a)
    h = L.Add()([a, b])
    h = L.Conv1D(10, 3, padding="same", name="head")(h)
    h = L.GlobalAveragePooling1D()(h)
    return k.Model(x, L.Activation("softmax", name="probabilities")(h), name="digits_conv1d")


def custom_layer(root):
    """A model with a layer class of its own before its head, as users define them: kprune's forward pass
    cannot run it, and `convert --data` must say so. Untrained (seeded weights)."""

    @tf_keras.utils.register_keras_serializable(package="kprune_fixtures")
    class Doubling(tf_keras.layers.Layer):
        def call(self, inputs):
            return 2.0 * inputs

    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(SEED)
    L = tf_keras.layers
    x = tf_keras.Input(shape=(8, 8, 1))
    h = L.Dense(16, activation="relu", name="hidden")(L.Flatten()(x))
    h = Doubling(name="doubling")(h)
    model = tf_keras.Model(x, L.Dense(10, activation="softmax", name="head")(h), name="custom_layer")
    directory = os.path.join(root, "custom_layer")
    os.makedirs(directory, exist_ok=True)
    model.save(os.path.join(directory, "model.h5"))


MODELS = {"digits_cnn": (digits_cnn, 60), "digits_conv1d": (digits_conv1d, 80)}


def arrays(root):
    digits = load_digits()
    split = np.load(os.path.join(root, "digits", "split.npz"))
    x = digits.images.astype(np.float32)[..., None]
    y = digits.target.astype(np.int32)
    return {"x_train": x[split["train"]], "y_train": y[split["train"]], "x_test": x[split["test"]],
            "y_test": y[split["test"]]}


def make(root, name, data):
    build, epochs = MODELS[name]
    directory = os.path.join(root, name)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(SEED)
    model = build(tf_keras)
    model.compile(optimizer=tf_keras.optimizers.Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy")
    model.fit(data["x_train"], data["y_train"], epochs=epochs, batch_size=BATCH, verbose=0, shuffle=True)
    h5_path = os.path.join(directory, "model.h5")
    model.save(h5_path)
    loaded = tf_keras.models.load_model(h5_path)
    predictions = loaded.predict(data["x_test"], verbose=0).astype(np.float32)
    np.save(os.path.join(directory, "p_test.npy"), predictions)
    accuracy = float(np.mean(np.argmax(predictions, 1) == data["y_test"]))

    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    twin = build(keras)
    for source, target in zip(loaded.layers, twin.layers):
        if source.get_weights():
            target.set_weights(source.get_weights())
    keras_path = os.path.join(directory, "model.keras")
    twin.save(keras_path)
    twin = keras.saving.load_model(keras_path)
    gap = float(np.max(np.abs(twin.predict(data["x_test"], verbose=0) - loaded.predict(data["x_test"], verbose=0))))
    if gap > 1e-5:
        raise RuntimeError("%s: Keras 3's predictions differ from tf_keras's by %g" % (name, gap))
    head = loaded.get_layer("head")
    return {"name": name, "models": ["%s/model.h5" % name, "%s/model.keras" % name], "head": "head",
            "kernel_shape": list(head.get_weights()[0].shape), "dense_test_accuracy": accuracy,
            "data": "digits_raw", "writer": "tf_keras %s, keras %s" % (tf_keras.__version__, keras.__version__)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="fixtures/calibration")
    args = parser.parse_args()
    data = arrays(args.out)
    raw = os.path.join(args.out, "digits_raw")
    os.makedirs(raw, exist_ok=True)
    for key, value in data.items():
        np.save(os.path.join(raw, key + ".npy"), value)
    entries = [make(args.out, name, data) for name in MODELS]
    custom_layer(args.out)
    with open(os.path.join(args.out, "conv_manifest.json"), "w") as handle:
        json.dump({"models": entries}, handle, indent=2, sort_keys=True)
        handle.write("\n")
    for entry in entries:
        print("%s: test accuracy %.4f" % (entry["name"], entry["dense_test_accuracy"]))


if __name__ == "__main__":
    main()
