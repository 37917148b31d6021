#!/usr/bin/env python3
"""Generate the nested-model fixtures kprune's forward pass is tested on: models used as layers of other
models, as transfer learning builds them, saved by tf_keras 2.21 (`.h5`) and Keras 3.15 (`.keras` and `.h5`)
with seeded random weights.

Run from the repository root with the project venv (tools/make_predictions.py then records Keras's own
predictions for them):

    .venv/bin/python tools/make_nested_fixtures.py [--out fixtures/inference] [--only NAME]

Models (each Keras writes the references to a nested model's calls differently; see
Sources/Inference/GraphCalls.swift):

- `nested_functional`: a functional backbone (Conv2D, BatchNormalization, ReLU, global average pooling)
  called on the output of a `Rescaling` preprocessing layer inside a functional model, a Dense head;
- `nested_in_sequential`: the same kind of backbone as a layer of a Sequential model, after a `Rescaling`;
- `sequential_in_sequential`: a Sequential model with an input shape (in tf_keras, one that starts with an
  `InputLayer`) inside a Sequential model;
- `two_levels`: a functional model inside a functional model inside a functional model, with a Sequential
  model at the bottom and preprocessing at each level;
- `shared_backbone`: one functional backbone called twice (on the input and on a rescaled input); the
  model's outputs are the head and the backbone's second call itself.

- `mobilenet_v2` (Keras 3 `.keras` only): a `keras.applications.MobileNetV2` backbone (`alpha=0.1`,
  `weights=None`, 32×32×3 inputs, no top) called on rescaled pixels inside a functional model with global
  average pooling and a Dense head of 5 logits; seeded Glorot kernels, random batch-normalization scales and
  shifts, moving statistics from a pass over seeded inputs (see `calibrate`). 990 KB.

`--application` instead writes the published width, too large to commit (2 MB a file), into
/tmp/kprune-application (or `--application-out`): the same model with `--alpha` (0.35) and `--classes`
(10), saved by Keras 3 (`.keras`, `.h5`) and tf_keras (`.h5`), with 23 seeded pixel inputs (`x.npy`) and each
file's Keras predictions (`<file>.y.npy`), for `kprune predict` to be compared with.
"""

import argparse
import os
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import tfsetup  # noqa: E402,F401  (first: seeds, threads, logging)
import numpy as np  # noqa: E402

FIRST_SEED = 100


def conv_backbone(k, name, channels=3):
    L = k.layers
    x = k.Input(shape=(8, 8, channels))
    h = L.Conv2D(6, 3, padding="same")(x)
    h = L.BatchNormalization()(h)
    h = L.ReLU(max_value=6.0)(h)
    h = L.DepthwiseConv2D(3, strides=2, padding="same")(h)
    return k.Model(x, L.GlobalAveragePooling2D()(h), name=name)


def nested_functional(k):
    L = k.layers
    x = k.Input(shape=(8, 8, 3))
    h = L.Rescaling(0.5, offset=-0.25)(x)
    h = conv_backbone(k, "backbone")(h)
    return k.Model(x, L.Dense(4, activation="softmax", name="head")(h))


def nested_in_sequential(k):
    L = k.layers
    return k.Sequential([k.Input(shape=(8, 8, 3)), L.Rescaling(0.5), conv_backbone(k, "backbone"),
                         L.Dropout(0.3), L.Dense(4, name="head")])


def sequential_in_sequential(k):
    L = k.layers
    inner = k.Sequential([k.Input(shape=(6,)), L.Dense(8, activation="tanh"), L.Dense(5, activation="relu")],
                         name="inner")
    return k.Sequential([k.Input(shape=(6,)), L.Rescaling(2.0, offset=0.5), inner, L.Dense(3, name="head")])


def two_levels(k):
    L = k.layers
    bottom = k.Sequential([k.Input(shape=(6,)), L.Dense(7, activation="relu")], name="bottom")
    i2 = k.Input(shape=(6,))
    level2 = k.Model(i2, L.Dense(6, activation="tanh")(bottom(L.Rescaling(0.5)(i2))), name="level2")
    i1 = k.Input(shape=(6,))
    level1 = k.Model(i1, L.Dense(5)(level2(L.Rescaling(2.0, offset=1.0)(i1))), name="level1")
    x = k.Input(shape=(6,))
    return k.Model(x, L.Dense(3, name="head")(level1(L.Rescaling(0.5)(x))))


def shared_backbone(k):
    L = k.layers
    x = k.Input(shape=(8, 8, 3))
    backbone = conv_backbone(k, "backbone")
    first = backbone(x)
    second = backbone(L.Rescaling(-1.0)(x))
    head = L.Dense(3, name="head")(L.Concatenate()([first, second]))
    return k.Model(x, [head, second])


MODELS = {"nested_functional": nested_functional, "nested_in_sequential": nested_in_sequential,
          "sequential_in_sequential": sequential_in_sequential, "two_levels": two_levels,
          "shared_backbone": shared_backbone}
# The files tools/make_predictions.py records predictions for, relative to fixtures/.
FILES = ["inference/%s/%s" % (flavour, name + extension) for name in MODELS
         for flavour, extension in (("keras2", ".h5"), ("keras3", ".keras"), ("keras3", ".h5"))] + [
    "inference/keras3/mobilenet_v2.keras"]
# The committed MobileNetV2's width and classes: small enough to commit (1280 channels stay in its last
# convolution at any alpha up to 1).
SMALL_ALPHA, SMALL_CLASSES = 0.1, 5


def randomize(model, seed, scale=0.5):
    """Seeded random weights in every layer, nested models' included; variances positive."""
    rng = np.random.default_rng(seed)
    weights = []
    for variable, value in zip(model.weights, model.get_weights()):
        random = rng.standard_normal(value.shape).astype(value.dtype) * scale
        if "variance" in variable.name:
            random = np.abs(random) + 0.5
        weights.append(random)
    model.set_weights(weights)


def save_all(out, only=None):
    import keras
    import tf_keras
    for flavour, k, extensions in (("keras2", tf_keras, (".h5",)), ("keras3", keras, (".keras", ".h5"))):
        os.makedirs(os.path.join(out, flavour), exist_ok=True)
        for index, (name, make) in enumerate(MODELS.items()):
            if only and name != only:
                continue
            k.utils.set_random_seed(FIRST_SEED + index)
            model = make(k)
            randomize(model, FIRST_SEED + index)
            for extension in extensions:
                model.save(os.path.join(out, flavour, name + extension))
    if not only or only == "mobilenet_v2":
        keras.utils.set_random_seed(FIRST_SEED)
        model = application(keras, SMALL_ALPHA, SMALL_CLASSES, pixels=False)
        calibrate(model, calibration_inputs(pixels=False), FIRST_SEED)
        model.save(os.path.join(out, "keras3", "mobilenet_v2.keras"))


def application(k, alpha, classes, pixels):
    """A keras.applications MobileNetV2 backbone (random weights) with a pooled Dense head giving logits, called
    on rescaled inputs: pixels in [0, 255] to [-1, 1] as MobileNetV2 expects, or standard-normal inputs halved."""
    L = k.layers
    backbone = k.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=alpha, include_top=False, weights=None)
    x = k.Input(shape=(32, 32, 3))
    rescaled = L.Rescaling(1 / 127.5, offset=-1)(x) if pixels else L.Rescaling(0.5)(x)
    h = L.GlobalAveragePooling2D()(backbone(rescaled))
    return k.Model(x, L.Dense(classes, name="head")(h))


def batch_normalizations(layer):
    """Every BatchNormalization layer, nested models' included."""
    if type(layer).__name__ == "BatchNormalization":
        return [layer]
    return [found for inner in getattr(layer, "layers", []) for found in batch_normalizations(inner)]


def calibrate(model, x, seed):
    """Seeded random scales and shifts, then moving statistics taken from one training-mode pass over `x`
    (momentum 0 for that pass), as a trained network's are: with the kernels' seeded Glorot values, every
    block then passes on the differences between samples instead of shrinking them to nothing."""
    rng = np.random.default_rng(seed)
    for layer in batch_normalizations(model):
        gamma, beta, mean, variance = layer.get_weights()
        layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype(gamma.dtype),
                           (rng.standard_normal(beta.shape) * 0.2).astype(beta.dtype), mean, variance])
        layer.momentum, layer.original_momentum = 0.0, layer.momentum
    model(x, training=True)
    for layer in batch_normalizations(model):
        layer.momentum = layer.original_momentum
        del layer.original_momentum
    head = model.get_layer("head")
    kernel, bias = head.get_weights()
    head.set_weights([kernel, (rng.standard_normal(bias.shape) * 0.1).astype(bias.dtype)])


def calibration_inputs(pixels, rows=64):
    rng = np.random.default_rng(1)
    return (rng.uniform(0, 255, (rows, 32, 32, 3)) if pixels else rng.standard_normal((rows, 32, 32, 3))).astype("float32")


def save_application(out, alpha, classes):
    import keras
    import tf_keras
    os.makedirs(out, exist_ok=True)
    x = np.random.default_rng(0).uniform(0, 255, (23, 32, 32, 3)).astype("float32")
    np.save(os.path.join(out, "x.npy"), x)
    for flavour, k, extensions in (("keras2", tf_keras, (".h5",)), ("keras3", keras, (".keras", ".h5"))):
        k.utils.set_random_seed(FIRST_SEED)
        model = application(k, alpha, classes, pixels=True)
        calibrate(model, calibration_inputs(pixels=True), FIRST_SEED)
        for extension in extensions:
            path = os.path.join(out, "mobilenet_v2_%s%s" % (flavour, extension))
            model.save(path)
            loaded = k.models.load_model(path, compile=False)
            y = loaded.predict(x, batch_size=8, verbose=0)
            np.save(os.path.join(out, "mobilenet_v2_%s%s.y.npy" % (flavour, extension.replace(".", "_"))), y)
            print("%s: %d bytes, %d parameters" % (path, os.path.getsize(path), model.count_params()))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="fixtures/inference")
    parser.add_argument("--only", help="make only this model")
    parser.add_argument("--application", action="store_true", help="make the MobileNetV2 models instead")
    parser.add_argument("--application-out", default="/tmp/kprune-application")
    parser.add_argument("--alpha", type=float, default=0.35)
    parser.add_argument("--classes", type=int, default=10)
    args = parser.parse_args()
    if args.application:
        save_application(args.application_out, args.alpha, args.classes)
    else:
        save_all(args.out, only=args.only)


if __name__ == "__main__":
    main()
