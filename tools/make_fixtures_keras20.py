#!/usr/bin/env python3
"""Generate kprune's Keras 2.0.8 fixtures (fixtures/keras20) with real Keras 2.0.8.

Needs Python 3.6 and its own venv (TensorFlow 1.5 has no newer wheels):

    PYTHON=~/.pyenv/versions/3.6.15/bin/python REQUIREMENTS=tools/requirements-keras20.txt \\
        tools/setup-venv.sh .venv-keras20
    .venv-keras20/bin/python tools/make_fixtures_keras20.py
    .venv/bin/python tools/make_fixtures.py --keras20-only

The last step merges fixtures/keras20/entries.json into fixtures/manifest.json
and records whether tf_keras can load each file.

Fixtures:
  sequential.h5  Sequential 8->16->4 trained with Adam; Keras 2.0 stores a
                 Sequential's config as a plain list of layers.
  conv.h5        8x8x3 -> Conv2D(4) -> Conv2D(2), trained, saved, loaded back
                 with load_model in the same session, trained again and saved:
                 the reloaded variables live under suffixed scopes, so weight
                 names look like conv2d_2_1/kernel:0 inside group conv2d_2.
"""

import argparse
import json
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras  # noqa: E402
from keras import backend as K  # noqa: E402
from keras.layers import Conv2D, Dense, Input  # noqa: E402
from keras.models import Model, Sequential, load_model  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402

WRITER = "keras %s" % keras.__version__
SEED = 2008


def fresh_session(seed):
    K.clear_session()
    np.random.seed(seed)
    tf.set_random_seed(seed)
    config = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
    K.set_session(tf.Session(config=config))


def fit_once(model, input_shape, seed, compile=True):
    if compile:
        model.compile(optimizer="adam", loss="mse")
    rng = np.random.RandomState(seed)
    x = rng.standard_normal((32,) + tuple(input_shape)).astype("float32")
    y = rng.standard_normal((32,) + tuple(model.output_shape[1:])).astype("float32")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)


def adam_slots(model, kernel):
    """Keras 2.0's Adam keeps weights = [iterations] + m for each parameter + v for each."""
    params = model.trainable_weights
    index = [i for i, p in enumerate(params) if p is kernel][0]
    weights = model.optimizer.weights
    values = K.batch_get_value(weights)
    slots = [values[1 + index], values[1 + len(params) + index]]
    assert all(slot.shape == K.int_shape(kernel) for slot in slots), "unexpected Adam layout"
    return slots


def describe(path, root, model, input_shape, notes):
    layer = [l for l in model.layers if getattr(l, "kernel", None) is not None][-1]
    kernel, bias = layer.kernel, getattr(layer, "bias", None)
    entry = {
        "file": fixturelib.relative(path, root),
        "format": "keras2-h5",
        "writer": WRITER,
        "loader": None,  # make_fixtures.py --keras20-only checks tf_keras
        "architecture": None,
        "final_layer": layer.name,
        "final_layer_path": [layer.name],
        "final_layer_class": type(layer).__name__,
        "kernel_variable": "kernel",
        "needs_layer": False,
    }
    with h5py_file(path) as h5:
        kernel_value = K.get_value(kernel)
        kernel_path = fixturelib.find_by_value(h5, kernel_value, optimizer=False)
        entry["kernel_dataset"] = kernel_path
        entry["kernel_shape"] = list(kernel_value.shape)
        entry["kernel_dtype"] = str(h5[kernel_path].dtype)
        entry["kernel_zeros"] = int(np.count_nonzero(kernel_value == 0))
        entry["kernel_nans"] = int(np.count_nonzero(np.isnan(kernel_value)))
        entry["bias_dataset"] = (fixturelib.find_by_value(h5, K.get_value(bias), optimizer=False)
                                 if bias is not None else None)
        entry["optimizer_slot_datasets"] = [fixturelib.find_by_value(h5, value, optimizer=True)
                                            for value in adam_slots(model, kernel)]
        entry.update(fixturelib.describe_kernel_location(h5, kernel_path))
        entry["optimizer_weight_names"] = fixturelib.optimizer_weight_names(h5)
        entry["root_attributes"] = {name: fixturelib.attribute_kind(h5, name) for name in sorted(h5.attrs)}
    entry["input_shape"] = list(input_shape)
    entry["input_dtype"] = "float32"
    entry["bytes"] = os.path.getsize(path)
    entry["notes"] = notes
    return entry


def h5py_file(path):
    import h5py
    return h5py.File(path, "r")


def main():
    parser = argparse.ArgumentParser(description="Make the Keras 2.0.8 fixtures.")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "..", "fixtures"))
    args = parser.parse_args()
    root = os.path.abspath(args.out)
    out = os.path.join(root, "keras20")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    entries = []

    fresh_session(SEED)
    model = Sequential([Dense(16, activation="relu", input_shape=(8,)), Dense(4)])
    fit_once(model, (8,), SEED)
    path = os.path.join(out, "sequential.h5")
    model.save(path)
    entries.append(describe(
        path, root, model, (8,),
        "Sequential 8->16->4 from Keras 2.0.8 / TensorFlow 1.5. model_config's 'config' is a plain "
        "list of layers (no 'layers' key, no InputLayer). String attributes are fixed-length. "
        "Adam slots are named training/Adam/Variable_<i>:0: weight_names = iterations, then m "
        "for every trainable weight, then v for every trainable weight."))

    fresh_session(SEED + 1)
    inputs = Input((8, 8, 3))
    hidden = Conv2D(4, 3, padding="same", activation="relu")(inputs)
    model = Model(inputs, Conv2D(2, 3, padding="same")(hidden))
    fit_once(model, (8, 8, 3), SEED + 1)
    first = os.path.join(out, "conv_first_save.h5")
    model.save(first)
    model = load_model(first)  # same session: the reloaded variables get suffixed scopes
    os.unlink(first)
    fit_once(model, (8, 8, 3), SEED + 2, compile=False)  # go on with the loaded Adam state
    path = os.path.join(out, "conv.h5")
    model.save(path)
    entries.append(describe(
        path, root, model, (8, 8, 3),
        "Functional ('Model') 8x8x3 -> Conv2D(4, 3x3) -> Conv2D(2, 3x3) from Keras 2.0.8, saved "
        "after load_model and another fit in the same session, so weight names carry scope "
        "suffixes (group conv2d_2 holds conv2d_2_1/kernel:0). Always follow weight_names."))

    with open(os.path.join(out, "entries.json"), "w") as handle:
        json.dump(entries, handle, indent=2)
        handle.write("\n")
    for entry in entries:
        print("%-24s %s %s" % (entry["file"], entry["kernel_dataset"], entry["optimizer_slot_datasets"]))


if __name__ == "__main__":
    main()
