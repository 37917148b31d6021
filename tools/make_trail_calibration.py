#!/usr/bin/env python3
"""Generate kprune's trailing-layer calibration fixtures: small CNNs trained on scikit-learn's bundled digits
whose final convolution reaches the model's output through layers without weights that combine its output
positions non-linearly, so that `kprune convert --data` fine-tunes it on the model's real output per sample.

Run from the repository root with the project venv, after tools/make_conv_calibration.py (whose digits_raw
arrays it reads):

    .venv/bin/python tools/make_trail_calibration.py [--out fixtures/calibration]

Training, saving (tf_keras `model.h5`, Keras 3 `model.keras` twin) and `p_test.npy` are as in
tools/make_conv_calibration.py:

    digits_squeeze  8x8x1 -> Rescaling(1/16) -> Conv2D 16 3x3 relu -> Conv2D 128 3x3 relu -> MaxPooling2D 2
                    -> Conv2D 10 1x1 "head" relu -> GlobalAveragePooling2D -> softmax (SqueezeNet's head)
    digits_maxpool  8x8x1 -> Rescaling(1/16) -> Conv2D 16 3x3 relu -> Conv2D 32 3x3 relu -> MaxPooling2D 2
                    -> Conv2D 10 3x3 "head" (linear) -> GlobalMaxPooling2D -> softmax
    digits_fcn      the same trunk -> Conv2D 10 4x4 valid "head" -> Reshape((10,)) -> softmax (a fully
                    convolutional classifier)
    digits_spatial  the same trunk -> Conv2D 1 3x3 "head" -> Flatten -> softmax over the 16 positions, trained
                    to find the 2x2 block of the image with the most ink (its y_train.npy, y_test.npy)
    digits_segment  the same trunk -> Conv2D 10 3x3 "head" -> Reshape((16, 10)) -> softmax per position,
                    trained to give the digit's class at every position

It writes trail_manifest.json beside conv_manifest.json.
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

SEED = 0
BATCH, LEARNING_RATE = 32, 2e-3


def digits_squeeze(k):
    L = k.layers
    x = k.Input(shape=(8, 8, 1))
    h = L.Rescaling(1 / 16)(x)
    h = L.Conv2D(16, 3, padding="same", activation="relu")(h)
    # 128 channels into the head: at 95% zeros its 1x1 kernel still keeps 64 weights.
    h = L.Conv2D(128, 3, padding="same", activation="relu")(h)
    h = L.MaxPooling2D(2)(h)
    # A positive starting bias keeps every class's relu alive (at zero it can die for good).
    h = L.Conv2D(10, 1, activation="relu", bias_initializer=k.initializers.Constant(1.0), name="head")(h)
    h = L.GlobalAveragePooling2D()(h)
    return k.Model(x, L.Activation("softmax", name="probabilities")(h), name="digits_squeeze")


def trunk(k, x):
    """Rescaling, two 3x3 convolutions and a 2x2 max pooling: 8x8x1 -> 4x4x32."""
    L = k.layers
    h = L.Rescaling(1 / 16)(x)
    h = L.Conv2D(16, 3, padding="same", activation="relu")(h)
    h = L.Conv2D(32, 3, padding="same", activation="relu")(h)
    return L.MaxPooling2D(2)(h)


def digits_maxpool(k):
    L = k.layers
    x = k.Input(shape=(8, 8, 1))
    h = L.Conv2D(10, 3, padding="same", name="head")(trunk(k, x))
    h = L.GlobalMaxPooling2D()(h)
    return k.Model(x, L.Activation("softmax", name="probabilities")(h), name="digits_maxpool")


def digits_fcn(k):
    L = k.layers
    x = k.Input(shape=(8, 8, 1))
    # A fully convolutional classifier: the head's one output position is the class scores.
    h = L.Conv2D(10, 4, name="head")(trunk(k, x))
    h = L.Reshape((10,))(h)
    return k.Model(x, L.Activation("softmax", name="probabilities")(h), name="digits_fcn")


def digits_spatial(k):
    L = k.layers
    x = k.Input(shape=(8, 8, 1))
    # A spatial softmax: one score per position, normalized over the 16 positions.
    h = L.Conv2D(1, 3, padding="same", name="head")(trunk(k, x))
    h = L.Flatten()(h)
    return k.Model(x, L.Activation("softmax", name="probabilities")(h), name="digits_spatial")


def digits_segment(k):
    L = k.layers
    x = k.Input(shape=(8, 8, 1))
    # Per-position classes: the softmax after the Reshape spans one position's 10 scores.
    h = L.Conv2D(10, 3, padding="same", name="head")(trunk(k, x))
    h = L.Reshape((16, 10))(h)
    return k.Model(x, L.Activation("softmax", name="probabilities")(h), name="digits_segment")


def spatial_labels(x):
    """The 2x2 block (of 16) holding the most ink: digits_spatial's classes."""
    blocks = x.reshape(len(x), 4, 2, 4, 2).sum(axis=(2, 4)).reshape(len(x), 16)
    return np.argmax(blocks, axis=1).astype(np.int64)


# name: (builder, epochs, the labels it is trained on from the digits' images and classes)
MODELS = {
    "digits_squeeze": (digits_squeeze, 80, lambda x, y: y),
    "digits_maxpool": (digits_maxpool, 60, lambda x, y: y),
    "digits_fcn": (digits_fcn, 60, lambda x, y: y),
    "digits_spatial": (digits_spatial, 60, lambda x, y: spatial_labels(x)),
    "digits_segment": (digits_segment, 60, lambda x, y: np.repeat(y[:, None], 16, axis=1)),
}
# Models trained on labels other than the digits' classes keep them beside the model.
OWN_LABELS = {"digits_spatial"}


def arrays(root):
    raw = os.path.join(root, "digits_raw")
    return {key: np.load(os.path.join(raw, key + ".npy")) for key in ("x_train", "y_train", "x_test", "y_test")}


def make(root, name, data):
    build, epochs, labels = MODELS[name]
    directory = os.path.join(root, name)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(SEED)
    model = build(tf_keras)
    model.compile(optimizer=tf_keras.optimizers.Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy")
    y_train, y_test = labels(data["x_train"], data["y_train"]), labels(data["x_test"], data["y_test"])
    if name in OWN_LABELS:
        np.save(os.path.join(directory, "y_train.npy"), y_train)
        np.save(os.path.join(directory, "y_test.npy"), y_test)
    model.fit(data["x_train"], y_train, epochs=epochs, batch_size=BATCH, verbose=0, shuffle=True)
    h5_path = os.path.join(directory, "model.h5")
    model.save(h5_path)
    loaded = tf_keras.models.load_model(h5_path)
    predictions = loaded.predict(data["x_test"], verbose=0).astype(np.float32)
    np.save(os.path.join(directory, "p_test.npy"), predictions)

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


def describe(root, name, data):
    directory = os.path.join(root, name)
    loaded = tf_keras.models.load_model(os.path.join(directory, "model.h5"))
    predictions = np.load(os.path.join(directory, "p_test.npy"))
    y_test = MODELS[name][2](data["x_test"], data["y_test"])
    entry = {"name": name, "models": ["%s/model.h5" % name, "%s/model.keras" % name], "head": "head",
             "kernel_shape": list(loaded.get_layer("head").get_weights()[0].shape),
             # Per sample, or per position for an output with positions.
             "dense_test_accuracy": float(np.mean(np.argmax(predictions, -1) == y_test)),
             "data": "digits_raw", "writer": "tf_keras %s, keras %s" % (tf_keras.__version__, keras.__version__)}
    if name in OWN_LABELS:
        entry["labels"] = "%s/y_train.npy" % name
    return entry


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="fixtures/calibration")
    parser.add_argument("--only", nargs="*", default=list(MODELS), help="remake only these models")
    args = parser.parse_args()
    data = arrays(args.out)
    for name in args.only:
        make(args.out, name, data)
    # The manifest describes every model from the files as they stand.
    entries = [describe(args.out, name, data) for name in MODELS]
    with open(os.path.join(args.out, "trail_manifest.json"), "w") as handle:
        json.dump({"models": entries}, handle, indent=2, sort_keys=True)
        handle.write("\n")
    for entry in entries:
        print("%s: test accuracy %.4f" % (entry["name"], entry["dense_test_accuracy"]))


if __name__ == "__main__":
    main()
