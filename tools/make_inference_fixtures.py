#!/usr/bin/env python3
"""Generate the models kprune's forward pass is tested on, beyond the pruning fixtures: one small model per
group of layers, saved by tf_keras 2.21 (`.h5`) and Keras 3.15 (`.keras`) with seeded random weights (batch
statistics and PReLU slopes included), so that every layer computes something non-trivial.

Run from the repository root with the project venv (tools/make_predictions.py then records Keras's own
predictions for them):

    .venv/bin/python tools/make_inference_fixtures.py [--out fixtures/inference]

Models: `activations` (every built-in activation the Keras version knows, side by side), `image`
(convolutions with strides and dilation, depthwise and separable ones, padding, cropping, up-sampling, pooling, batch and layer
normalization, LeakyReLU, PReLU, ELU, Permute, RepeatVector), `sequence` (Conv1D causal and dilated,
1-D padding, cropping, up-sampling and pooling, Dot), `embedding` (Embedding of integer ids, and an EinsumDense over its tokens), `two_inputs` (an image and a
feature vector, a Dense layer shared by two calls, a Dense head), `parametric` (ReLU layers with caps,
thresholds and negative slopes, ELU with an alpha, softmax and concatenation along a middle axis).
"""

import argparse
import os
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import tfsetup  # noqa: E402,F401
import numpy as np  # noqa: E402

ACTIVATIONS = ["linear", "relu", "relu6", "sigmoid", "tanh", "softmax", "softplus", "softsign", "elu", "selu",
               "exponential", "swish", "silu", "gelu", "hard_sigmoid", "leaky_relu"]


def known(k, name):
    try:
        k.activations.get(name)
        return True
    except Exception:  # noqa: BLE001  (a name this Keras does not define)
        return False


def activations(k):
    L = k.layers
    x = k.Input(shape=(6,))
    h = L.Dense(8)(x)
    return k.Model(x, L.Concatenate()([L.Activation(a, name="act_" + a)(h) for a in ACTIVATIONS if known(k, a)]))


def image(k):
    L = k.layers
    x = k.Input(shape=(6, 6, 3))
    a = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    b = L.Conv2D(4, 3, strides=2, dilation_rate=1, padding="valid")(x)
    c = L.Conv2D(4, 2, dilation_rate=2, padding="same")(x)
    a = L.BatchNormalization()(a)
    a = L.ZeroPadding2D(((1, 0), (2, 1)))(a)
    a = L.Cropping2D(((1, 0), (1, 2)))(a)
    a = L.MaxPooling2D(2)(a)
    b = L.UpSampling2D(2)(b)
    b = L.AveragePooling2D(2, strides=1, padding="valid")(b)
    b = L.AveragePooling2D(2, strides=1, padding="same")(b)
    c = L.MaxPooling2D(3, strides=2, padding="same")(c)
    d = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(x)
    d = L.SeparableConv2D(4, 3, strides=2, padding="same", activation="relu")(d)
    m = L.Add()([a, b, c, d])
    m = L.LayerNormalization()(m)
    m = L.LeakyReLU()(m)
    m = L.PReLU(shared_axes=[1, 2])(m)
    m = L.ELU()(m)
    m = L.Permute((3, 1, 2))(m)
    m = L.Flatten()(m)
    m = L.Dense(5, activation="tanh")(m)
    m = L.RepeatVector(2)(m)
    m = L.Flatten()(m)
    return k.Model(x, L.Dense(3, activation="softmax")(m))


def sequence(k):
    L = k.layers
    x = k.Input(shape=(12, 3))
    h = L.Conv1D(4, 3, dilation_rate=2, padding="causal", activation="relu")(x)
    h = L.Conv1D(4, 3, strides=2, padding="same")(h)
    h = L.SeparableConv1D(4, 3, depth_multiplier=2, padding="same")(h)
    h = L.ZeroPadding1D(2)(h)
    h = L.Cropping1D((1, 2))(h)
    h = L.UpSampling1D(2)(h)
    h = L.MaxPooling1D(3, strides=2)(h)
    g = L.GlobalAveragePooling1D()(h)
    m = L.GlobalMaxPooling1D()(h)
    dots = [L.Dot(axes=1)([g, m]), L.Dot(axes=1, normalize=True)([g, m])]
    return k.Model(x, L.Dense(2)(L.Concatenate()([g, m] + dots)))


def embedding(k):
    L = k.layers
    x = k.Input(shape=(5,), dtype="int32")
    h = L.Embedding(20, 4)(x)
    einsum = L.EinsumDense("abc,cde->abde", output_shape=(5, 2, 3), bias_axes="de")(h)
    return k.Model(x, L.Dense(3)(L.Flatten()(L.Concatenate()([L.Flatten()(h), L.Flatten()(einsum)]))))


def two_inputs(k):
    """Two inputs (an image and a feature vector), a layer shared by two calls, and a Dense head."""
    L = k.layers
    image = k.Input(shape=(8, 8, 1), name="image")
    features = k.Input(shape=(5,), name="features")
    h = L.GlobalAveragePooling2D()(L.Conv2D(4, 3, activation="relu")(image))
    shared = L.Dense(4, activation="tanh", name="shared")
    m = L.Concatenate()([h, shared(features), shared(L.Dense(5)(features))])
    return k.Model([image, features], L.Dense(3, activation="softmax", name="head")(m))


def parametric(k):
    """ReLU layers with caps, thresholds and negative slopes, ELU with an alpha, softmax over a middle axis, and
    concatenations along a middle axis."""
    L = k.layers
    x = k.Input(shape=(4, 6))
    h = L.Dense(6)(x)
    parts = [L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.3)(h), L.ReLU(negative_slope=0.2)(h),
             L.ReLU(threshold=0.4)(h), L.ReLU(max_value=2.5)(h), L.ReLU(max_value=1.0, threshold=0.2, negative_slope=0.3)(h),
             L.ELU(alpha=0.7)(h), L.Softmax(axis=1)(h)]
    m = L.Concatenate(axis=1)(parts)
    return k.Model(x, L.Dense(3)(L.Flatten()(L.Concatenate(axis=-2)([m, h]))))


MODELS = {"activations": activations, "image": image, "sequence": sequence, "embedding": embedding,
          "two_inputs": two_inputs, "parametric": parametric}


def randomize(model, seed):
    """Seeded random weights; variances and PReLU slopes positive."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = []
        for variable, value in zip(layer.weights, layer.get_weights()):
            random = rng.standard_normal(value.shape).astype(value.dtype) * 0.5
            if "variance" in variable.name:
                random = np.abs(random) + 0.5
            weights.append(random)
        if weights:
            layer.set_weights(weights)


def save_all(models, out, first_seed=0, only=None):
    """Each model built, randomized with its seed (`first_seed` + its index) and saved by tf_keras (`.h5`
    under keras2/) and Keras 3 (`.keras` under keras3/); with `only`, just that model."""
    import keras
    import tf_keras
    for flavour, k, extension in (("keras2", tf_keras, ".h5"), ("keras3", keras, ".keras")):
        os.makedirs(os.path.join(out, flavour), exist_ok=True)
        for index, (name, make) in enumerate(models.items()):
            if only and name != only:
                continue
            k.utils.set_random_seed(first_seed + index)
            model = make(k)
            randomize(model, first_seed + index)
            model.save(os.path.join(out, flavour, name + extension))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="fixtures/inference")
    parser.add_argument("--only", help="make only this model")
    args = parser.parse_args()
    save_all(MODELS, args.out, only=args.only)


if __name__ == "__main__":
    main()
