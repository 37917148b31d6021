#!/usr/bin/env python3
"""Generate the convolutional models kprune's forward pass is tested and benchmarked on: each saved by
tf_keras 2.21 (`.h5`) and Keras 3.15 (`.keras`) with seeded random weights (batch statistics with positive
variances), beside the models of tools/make_inference_fixtures.py.

Run from the repository root with the project venv (tools/make_predictions.py then records Keras's own
predictions for them):

    .venv/bin/python tools/make_cnn_fixtures.py [--out fixtures/inference]

Models:
  xception        a small Xception-style classifier of 32x32x3 images (about 100k parameters): an entry
                  Conv2D + BatchNormalization + relu, three blocks of SeparableConv2D + BatchNormalization
                  + relu with a strided 1x1 Conv2D shortcut, MaxPooling2D(3, strides 2, same) and a
                  residual Add, a linear 1x1 Conv2D to 10 classes, GlobalAveragePooling2D and softmax.
                  tools/bench_predict.py runs it.
  dilated_conv1d  a dilated residual Conv1D network: causal convolutions with dilation 1, 2, 4, 8 and
                  residual Adds, a Conv1D final layer, GlobalAveragePooling1D and softmax.
  transpose       Conv1DTranspose, Conv2DTranspose and Conv3DTranspose (strides, output_padding,
                  dilation, same and valid), grouped Conv1D/2D/3D, Conv3D, MaxPooling3D,
                  AveragePooling3D, GlobalAveragePooling3D, ZeroPadding3D, Cropping3D, UpSampling3D.
  refused_*       (tf_keras only) configs edited after saving to ask for what kprune refuses: a causal
                  Conv2DTranspose, 3 groups for 4 filters, data_format "channels_middle".
  channels_first  data_format="channels_first" convolutions (plain, transposed, depthwise, separable),
                  pooling, global pooling, padding, cropping, up-sampling, Flatten, and
                  BatchNormalization on axis 1.
"""

import argparse
import os
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import tfsetup  # noqa: E402,F401
import numpy as np  # noqa: E402

from make_inference_fixtures import randomize  # noqa: E402


def randomize_scaled(model, seed):
    """Seeded random weights scaled to each kernel's fan-in, so that a deep model's activations stay near 1
    and its softmax is far from one-hot (a saturated softmax would hide differences): kernels N(0, 1/fan-in),
    biases, betas and moving means N(0, 0.1), gammas 1 + N(0, 0.1), moving variances 0.5 + |N(0, 0.5)|."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = []
        for variable, value in zip(layer.weights, layer.get_weights()):
            name = variable.name.split("/")[-1]
            normal = rng.standard_normal(value.shape).astype(value.dtype)
            if "variance" in name:
                weights.append(np.abs(normal) * 0.5 + 0.5)
            elif "gamma" in name:
                weights.append(1 + 0.1 * normal)
            elif "kernel" in name:
                fan_in = int(np.prod(value.shape[:-2])) * (1 if "depthwise" in name else value.shape[-2])
                weights.append(normal / np.sqrt(max(fan_in, 1)))
            else:
                weights.append(0.1 * normal)
        if weights:
            layer.set_weights(weights)


def xception(k):
    L = k.layers
    x = k.Input(shape=(32, 32, 3))
    h = L.Conv2D(32, 3, padding="same", use_bias=False)(x)
    h = L.Activation("relu")(L.BatchNormalization()(h))
    for filters in (48, 96, 160):
        shortcut = L.BatchNormalization()(L.Conv2D(filters, 1, strides=2, padding="same")(h))
        h = L.SeparableConv2D(filters, 3, padding="same", use_bias=False)(h)
        h = L.Activation("relu")(L.BatchNormalization()(h))
        h = L.SeparableConv2D(filters, 3, padding="same", use_bias=False)(h)
        h = L.BatchNormalization()(h)
        h = L.MaxPooling2D(3, strides=2, padding="same")(h)
        h = L.Activation("relu")(L.Add()([h, shortcut]))
    h = L.Conv2D(10, 1)(h)
    h = L.GlobalAveragePooling2D()(h)
    return k.Model(x, L.Activation("softmax")(h))


def dilated_conv1d(k):
    L = k.layers
    x = k.Input(shape=(48, 4))
    h = L.Conv1D(16, 1)(x)
    for rate in (1, 2, 4, 8):
        branch = L.Conv1D(16, 3, dilation_rate=rate, padding="causal", activation="relu")(h)
        branch = L.Conv1D(16, 2, dilation_rate=rate, padding="causal")(branch)
        h = L.Add()([h, branch])
    h = L.Conv1D(5, 3, padding="same")(h)
    h = L.GlobalAveragePooling1D()(h)
    return k.Model(x, L.Activation("softmax")(h))


def transpose(k):
    L = k.layers
    x = k.Input(shape=(6, 6, 4))
    # 2-D: transposed convolutions with strides, output padding and dilation, and a grouped convolution.
    a = L.Conv2DTranspose(3, 3, strides=(2, 1), output_padding=(1, 0), padding="same")(x)
    a = L.Conv2DTranspose(4, (2, 3), dilation_rate=2, padding="valid", activation="relu")(a)
    a = L.Conv2D(6, 3, groups=2, strides=2)(a)
    b = L.Conv2DTranspose(2, 3, strides=2, padding="valid", use_bias=False)(x)
    b = L.Conv2DTranspose(2, 2, strides=(3, 2), output_padding=(2, 1), padding="valid")(b)
    b = L.Conv2DTranspose(2, 3, dilation_rate=2, padding="same")(b)
    # 1-D.
    s = L.Reshape((36, 4))(x)
    s = L.Conv1DTranspose(4, 3, strides=2, output_padding=1, padding="valid")(s)
    s = L.Conv1D(6, 3, groups=2, dilation_rate=2, padding="causal")(s)
    s = L.Conv1DTranspose(3, 2, dilation_rate=3, padding="same")(s)
    s = L.Conv1DTranspose(3, 4, strides=3, padding="same", output_padding=2)(s)
    # 3-D: convolutions plain, grouped and transposed, pooling, padding, cropping, up-sampling.
    v = L.Reshape((3, 6, 4, 2))(x)
    v = L.Conv3D(4, 2, padding="same", activation="tanh")(v)
    v = L.ZeroPadding3D(((1, 0), (0, 1), (1, 1)))(v)
    v = L.Conv3DTranspose(4, 2, strides=2, output_padding=1, padding="valid")(v)
    v = L.Conv3D(6, 3, groups=2, strides=(1, 2, 1))(v)
    v = L.MaxPooling3D(2, padding="same")(v)
    v = L.Conv3DTranspose(4, (2, 1, 2), dilation_rate=2, padding="same")(v)
    v = L.AveragePooling3D((2, 1, 2), strides=1)(v)
    v = L.Cropping3D(((1, 0), (0, 1), (1, 0)))(v)
    v = L.UpSampling3D((1, 2, 1))(v)
    w = L.AveragePooling3D(2, strides=2, padding="same")(v)
    parts = [L.Flatten()(a), L.GlobalAveragePooling2D()(b), L.GlobalMaxPooling2D()(b), L.GlobalAveragePooling1D()(s), L.Flatten()(s),
             L.GlobalAveragePooling3D()(v), L.Flatten()(w)]
    return k.Model(x, L.Dense(6)(L.Concatenate()(parts)))


def channels_first(k):
    L = k.layers
    cf = "channels_first"
    x = k.Input(shape=(3, 8, 8))
    h = L.Conv2D(4, 3, padding="same", data_format=cf)(x)
    h = L.Activation("relu")(L.BatchNormalization(axis=1)(h))
    h = L.MaxPooling2D(2, data_format=cf)(h)
    h = L.ZeroPadding2D(((1, 0), (0, 1)), data_format=cf)(h)
    h = L.Conv2DTranspose(4, 3, strides=2, output_padding=1, data_format=cf)(h)
    h = L.Cropping2D(((1, 2), (0, 1)), data_format=cf)(h)
    h = L.DepthwiseConv2D(3, depth_multiplier=2, data_format=cf)(h)
    # 6 filters on a 4 x 5 output: Keras 3.15 adds a channels-first SeparableConv2D's bias along the last
    # axis when that axis is as long as the filters, which would record its mistake.
    h = L.SeparableConv2D(6, 3, strides=2, padding="same", data_format=cf)(h)
    h = L.UpSampling2D(2, data_format=cf)(h)
    h = L.AveragePooling2D(2, strides=2, padding="same", data_format=cf)(h)
    g = L.Conv2D(6, 2, groups=1, data_format=cf)(h)
    parts = [L.GlobalAveragePooling2D(data_format=cf)(g), L.GlobalMaxPooling2D(data_format=cf)(h),
             L.Flatten(data_format=cf)(g)]
    return k.Model(x, L.Dense(4)(L.Concatenate()(parts)))


# Deep models whose softmax would saturate under make_inference_fixtures.randomize's N(0, 0.5) weights.
SCALED = {"xception", "dilated_conv1d"}
MODELS = {"xception": xception, "dilated_conv1d": dilated_conv1d, "transpose": transpose,
          "channels_first": channels_first}


def refused(k, out):
    """tf_keras files whose config asks for what kprune refuses, made by editing a saved model's config:
    Keras itself rejects these settings when it builds a layer, so no Keras call makes them. Each model is
    Input(6, 6, 4) -> Conv2D(4, 1, name="edited") or Conv2DTranspose; kprune must name the layer, its class
    and the setting."""
    import h5py
    import json
    L = k.layers
    edits = {
        "refused_transpose_causal": (L.Conv2DTranspose, {"padding": "causal"}),
        "refused_groups": (L.Conv2D, {"groups": 3}),
        "refused_data_format": (L.Conv2D, {"data_format": "channels_middle"}),
    }
    for name, (layer, change) in edits.items():
        x = k.Input(shape=(6, 6, 4))
        model = k.Model(x, layer(4, 1, name="edited")(x))
        path = os.path.join(out, "keras2", name + ".h5")
        model.save(path)
        with h5py.File(path, "r+") as f:
            config = json.loads(f.attrs["model_config"])
            for entry in config["config"]["layers"]:
                if entry["config"]["name"] == "edited":
                    entry["config"].update(change)
            f.attrs["model_config"] = json.dumps(config)
        print("%s: %s with %s" % (path, layer.__name__, change))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="fixtures/inference")
    parser.add_argument("--only", nargs="*", help="build only these models")
    args = parser.parse_args()
    import keras
    import tf_keras
    if not args.only or "refused" in args.only:
        refused(tf_keras, args.out)
    for flavour, k, extension in (("keras2", tf_keras, ".h5"), ("keras3", keras, ".keras")):
        os.makedirs(os.path.join(args.out, flavour), exist_ok=True)
        for index, (name, make) in enumerate(MODELS.items()):
            if args.only and name not in args.only:
                continue
            k.utils.set_random_seed(100 + index)
            model = make(k)
            (randomize_scaled if name in SCALED else randomize)(model, 100 + index)
            path = os.path.join(args.out, flavour, name + extension)
            model.save(path)
            print("%s: %d parameters, output %s, %d bytes"
                  % (path, model.count_params(), tuple(model.outputs[0].shape), os.path.getsize(path)))


if __name__ == "__main__":
    main()
