#!/usr/bin/env python3
"""Generate kprune's test fixtures with real Keras saving calls.

Run from the repository root with the project venv:

    tools/setup-venv.sh
    .venv/bin/python tools/make_fixtures.py [--out fixtures]

Writes fixtures/keras2 (tf_keras 2.21), fixtures/keras3 (Keras 3.15),
fixtures/malformed (h5py) and fixtures/manifest.json. Every model is tiny,
seeded, and trained with Adam for one short fit so optimizer state is saved.
The manifest is read back from the saved files: each weight's HDF5 path is
found by matching the values Keras holds in memory, then every fixture is
loaded again to check the entry. Entries for fixtures/keras20, made by
tools/make_fixtures_keras20.py, are merged in when present.

Fixtures added later are made by the functions listed in K2_ADDED and
K3_ADDED. `--only keras3/NAME ...` makes just those files and merges their
entries into the existing manifest, leaving every other fixture as it is (a
Keras 3 maker named NAME.keras also writes NAME.h5 from the same model).

The HDF5 files Keras writes come out byte-identical from run to run. Two kinds
differ in a few bytes only: .keras zips, because Keras stamps the save time
into metadata.json and the zip entry of model.weights.h5 and, for nested
models, Python object ids ("shared_object_id") into config.json (the HDF5
inside is identical); and keras2/gzip_chunked.h5, because h5repack records
object modification times.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfsetup  # noqa: E402,F401  (first: TensorFlow's environment and determinism)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402,F401

import keras  # noqa: E402
import tf_keras  # noqa: E402

import fixturelib  # noqa: E402
import kerasload  # noqa: E402

K2_WRITER = "tf_keras %s" % tf_keras.__version__
K3_WRITER = "keras %s" % keras.__version__
SEED = 1234
DENSE_IN, DENSE_HIDDEN, DENSE_OUT = 8, 16, 4
IMAGE = (8, 8, 3)
ZIP_NOTE = ("Zip entries are stored (not deflated); metadata.json and config.json are dated "
            "1980-01-01, model.weights.h5 carries the save time.")


# ---------------------------------------------------------------- training


def random_data(input_shape, output_shapes, seed, count=32, dtype="float32"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((count,) + tuple(input_shape)).astype(dtype)
    ys = [rng.standard_normal((count,) + tuple(s)).astype(dtype) for s in output_shapes]
    return x, (ys[0] if len(ys) == 1 else ys)


def output_shapes(model):
    shapes = model.output_shape
    if isinstance(shapes, list):
        return [tuple(s[1:]) for s in shapes]
    return [tuple(shapes[1:])]


def fit_once(model, optimizer, input_shape, seed, dtype="float32"):
    """Compile with Adam and run one short fit so Adam's m and v exist and are non-zero.

    Keras 3 gets a loss object: its legacy .h5 loader cannot deserialize the
    string "mse" back from training_config.
    """
    keras3 = isinstance(optimizer, keras.optimizers.Optimizer)
    model.compile(optimizer=optimizer, loss=keras.losses.MeanSquaredError() if keras3 else "mse")
    x, y = random_data(input_shape, output_shapes(model), seed, dtype=dtype)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    return model


def fresh_k2(seed=SEED):
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(seed)


def fresh_k3(seed=SEED):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)


# ---------------------------------------------------------------- manifest


def flatten_layers(model, prefix=()):
    """Yield (path, layer) for every non-model layer, in the model's forward order."""
    for layer in model.layers:
        path = prefix + (layer.name,)
        if hasattr(layer, "layers") and layer.layers:
            for item in flatten_layers(layer, path):
                yield item
        else:
            yield path, layer


def kernel_variable_name(layer):
    # SeparableConv2D has no "kernel": its channel-mixing pointwise kernel plays that part.
    for name in ("kernel", "pointwise_kernel", "depthwise_kernel"):
        if getattr(layer, name, None) is not None:
            return name
    return None


def final_kernel_layer(model):
    """The last layer with a kernel in forward order, as a name path."""
    found = [(path, layer) for path, layer in flatten_layers(model)
             if kernel_variable_name(layer) is not None]
    return found[-1]


def optimizer_slots(model, kernel, flavor):
    """Adam's m and v for `kernel` as (index in optimizer variables, variable)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return []
    if flavor == "k2":
        variables = list(optimizer.variables())
        wanted = ["%s/%s/%s" % (optimizer.name, slot, kernel.name) for slot in ("m", "v")]
        names = [v.name for v in variables]
    else:
        variables = list(optimizer.variables)
        stem = kernel.path.replace("/", "_")
        wanted = ["%s/%s_%s" % (optimizer.name, stem, slot) for slot in ("momentum", "velocity")]
        names = [v.path for v in variables]
    slots = []
    for name in wanted:
        if name not in names:
            raise RuntimeError("optimizer has no slot %s (has %s)" % (name, names))
        index = names.index(name)
        slots.append((index, variables[index]))
    return slots


def describe(path, root, fmt, writer, loader, model, flavor, needs_layer,
             input_shape, notes, architecture=None, input_dtype="float32",
             final=None, extra=None):
    """Build a manifest entry for a saved file by reading the file itself."""
    layer_path, layer = final or final_kernel_layer(model)
    variable_name = kernel_variable_name(layer)
    kernel = getattr(layer, variable_name)
    bias = getattr(layer, "bias", None)  # None when the layer has no bias

    entry = {
        "file": fixturelib.relative(path, root),
        "format": fmt,
        "writer": writer,
        "loader": loader,
        "architecture": architecture,
        "final_layer": layer.name,
        "final_layer_path": list(layer_path),
        "final_layer_class": type(layer).__name__,
        "kernel_variable": variable_name,
        "needs_layer": needs_layer,
    }
    with fixturelib.open_weights_h5(path) as h5:
        kernel_value = np.asarray(kernel.numpy())
        kernel_path = fixturelib.find_by_value(h5, kernel_value, optimizer=False)
        entry["kernel_dataset"] = kernel_path
        entry["kernel_shape"] = list(kernel_value.shape)
        entry["kernel_dtype"] = str(h5[kernel_path].dtype)
        entry["kernel_zeros"] = int(np.count_nonzero(kernel_value == 0))
        entry["kernel_nans"] = int(np.count_nonzero(np.isnan(kernel_value)))
        entry["bias_dataset"] = (fixturelib.find_by_value(h5, np.asarray(bias.numpy()), optimizer=False)
                                 if bias is not None else None)
        entry["optimizer_slot_datasets"] = []
        if fmt not in ("keras2-weights-h5",):
            slot_names = fixturelib.optimizer_weight_names(h5)
            for index, slot in optimizer_slots(model, kernel, flavor):
                slot_path = fixturelib.find_by_value(h5, np.asarray(slot.numpy()), optimizer=True)
                # Cross-check against the file's own bookkeeping of optimizer weights.
                if slot_names is not None:
                    expected = "/optimizer_weights/" + slot_names[index]
                else:
                    expected = "/optimizer/vars/%d" % index
                if slot_path != expected:
                    raise RuntimeError("slot at %s, expected %s" % (slot_path, expected))
                entry["optimizer_slot_datasets"].append(slot_path)
        entry.update(fixturelib.describe_kernel_location(h5, kernel_path))
        root_attrs = {name: fixturelib.attribute_kind(h5, name) for name in sorted(h5.attrs)}
        if root_attrs:
            entry["root_attributes"] = root_attrs
    if "weight_names" in entry and kernel_path not in [
            entry["layer_group"] + "/" + n for n in entry["weight_names"]]:
        raise RuntimeError("kernel %s not named by weight_names %s" % (kernel_path, entry["weight_names"]))
    if fmt == "keras3-keras":
        entry["zip_entries"] = fixturelib.zip_entries(path)
    entry["input_shape"] = list(input_shape)
    entry["input_dtype"] = input_dtype
    entry["bytes"] = os.path.getsize(path)
    entry.update(extra or {})
    entry["notes"] = notes
    return entry


# ---------------------------------------------------------------- Keras 2 (tf_keras)


def k2_sequential():
    L = tf_keras.layers
    return tf_keras.Sequential([
        tf_keras.Input(shape=(DENSE_IN,)),
        L.Dense(DENSE_HIDDEN, activation="relu"),
        L.Dense(DENSE_OUT),
    ])


def make_keras2(root, entries, only=None):
    out = os.path.join(root, "keras2")
    L = tf_keras.layers
    Adam = tf_keras.optimizers.Adam

    def save(model, name, **kw):
        path = os.path.join(out, name)
        model.save(path)
        return path

    def add(path, model, fmt="keras2-h5", needs_layer=False, input_shape=(DENSE_IN,), notes="", **kw):
        entries.append(describe(path, root, fmt, K2_WRITER, "tf_keras", model, "k2",
                                needs_layer, input_shape, notes, **kw))

    if only is not None:
        for name, maker in K2_ADDED:
            if "keras2/" + name in only:
                maker(save, add)
        return

    # sequential.h5 and its weights-only twin.
    fresh_k2()
    model = fit_once(k2_sequential(), Adam(), (DENSE_IN,), SEED)
    path = save(model, "sequential.h5")
    add(path, model, notes="Sequential 8->16->4, full model with Adam state.")
    sequential_kernel = entries[-1]["kernel_dataset"]
    sequential_slots = entries[-1]["optimizer_slot_datasets"]
    weights_path = os.path.join(out, "weights.h5")
    model.save_weights(weights_path)
    add(weights_path, model, fmt="keras2-weights-h5", needs_layer=True,
        architecture="keras2/sequential.h5",
        notes="model.save_weights of the sequential.h5 model: layer groups at the root, "
              "root attribute layer_names, no model_config and no optimizer state.")

    # gzip_chunked.h5: the same file repacked with gzip and chunking.
    gz_path = os.path.join(out, "gzip_chunked.h5")
    kernel_path = sequential_kernel
    repack = ["h5repack", "-f", "GZIP=6", "-l", "%s:CHUNK=5x3" % ",".join([kernel_path] + sequential_slots), path, gz_path]
    subprocess.run(repack, check=True)
    add(gz_path, model, extra={"repacked_by": " ".join(["h5repack"] + repack[1:-2] + ["sequential.h5", "gzip_chunked.h5"])},
        notes="Keras output repacked by h5repack: sequential.h5 with every non-scalar dataset "
              "gzip-6 compressed (and so chunked); the final kernel and its Adam m and v are "
              "chunked 5x3, so their chunks do not divide their shape.")

    # nan.h5: a NaN in the final kernel, saved by Keras.
    fresh_k2()
    model = fit_once(k2_sequential(), Adam(), (DENSE_IN,), SEED + 1)
    head = model.layers[-1]
    kernel, bias = head.get_weights()
    kernel[0, 0] = np.nan
    head.set_weights([kernel, bias])
    path = save(model, "nan.h5")
    add(path, model, notes="Sequential whose final kernel holds one NaN at [0, 0] (set_weights), "
                           "then saved by Keras. kprune should refuse or report it, not rank it.")

    # functional.h5
    fresh_k2()
    inputs = tf_keras.Input(shape=(DENSE_IN,))
    hidden = L.Dense(DENSE_HIDDEN, activation="relu")(inputs)
    outputs = L.Dense(DENSE_OUT)(hidden)
    model = fit_once(tf_keras.Model(inputs, outputs), Adam(), (DENSE_IN,), SEED + 2)
    add(save(model, "functional.h5"), model, notes="Functional 8->16->4.")

    # nested.h5: a Sequential used as a layer; the final Dense lives inside it.
    fresh_k2()
    inner = tf_keras.Sequential([
        tf_keras.Input(shape=(DENSE_HIDDEN,)),
        L.Dense(DENSE_HIDDEN, activation="relu"),
        L.Dense(DENSE_OUT, name="head"),
    ], name="nested_model")
    inputs = tf_keras.Input(shape=(DENSE_IN,))
    outputs = inner(L.Dense(DENSE_HIDDEN, activation="relu")(inputs))
    model = fit_once(tf_keras.Model(inputs, outputs), Adam(), (DENSE_IN,), SEED + 3)
    add(save(model, "nested.h5"), model,
        notes="Functional model whose last layer is a Sequential 'nested_model'; the final Dense "
              "'head' is inside it. All the nested model's weights sit in one group "
              "/model_weights/nested_model whose weight_names carry no nested-model prefix.")

    # multi_output.h5
    fresh_k2()
    inputs = tf_keras.Input(shape=(DENSE_IN,))
    hidden = L.Dense(DENSE_HIDDEN, activation="relu")(inputs)
    out_a = L.Dense(DENSE_OUT, name="out_a")(hidden)
    out_b = L.Dense(2, name="out_b")(hidden)
    model = fit_once(tf_keras.Model(inputs, [out_a, out_b]), Adam(), (DENSE_IN,), SEED + 4)
    add(save(model, "multi_output.h5"), model, needs_layer=True,
        notes="Two Dense outputs out_a (16->4) and out_b (16->2): kprune needs --layer. "
              "final_layer is the last kernel layer in forward order.")

    # no_bias.h5
    fresh_k2()
    model = tf_keras.Sequential([
        tf_keras.Input(shape=(DENSE_IN,)),
        L.Dense(DENSE_HIDDEN, activation="relu"),
        L.Dense(DENSE_OUT, use_bias=False),
    ])
    fit_once(model, Adam(), (DENSE_IN,), SEED + 5)
    add(save(model, "no_bias.h5"), model, notes="Final Dense with use_bias=False: one weight.")

    # float16.h5
    fresh_k2()
    tf_keras.backend.set_floatx("float16")
    try:
        model = k2_sequential()
        fit_once(model, Adam(epsilon=1e-4), (DENSE_IN,), SEED + 6, dtype="float16")
        path = save(model, "float16.h5")
    finally:
        tf_keras.backend.set_floatx("float32")
    add(path, model, input_dtype="float16",
        notes="Built under floatx float16: weights and Adam slots stored as float16 "
              "(Adam epsilon 1e-4 so float16 training stays finite).")

    # conv.h5: fully convolutional, final layer Conv2D.
    fresh_k2()
    model = tf_keras.Sequential([
        tf_keras.Input(shape=IMAGE),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.Conv2D(2, 3, padding="same"),
    ])
    fit_once(model, Adam(), IMAGE, SEED + 7)
    add(save(model, "conv.h5"), model, input_shape=IMAGE,
        notes="Fully convolutional 8x8x3 -> Conv2D(4, 3x3) -> Conv2D(2, 3x3); "
              "kernel shape is (kh, kw, in, out).")

    # trailing_activation.h5: the output layer has no kernel.
    fresh_k2()
    inputs = tf_keras.Input(shape=(DENSE_IN,))
    hidden = L.Dense(DENSE_HIDDEN, activation="relu")(inputs)
    logits = L.Dense(DENSE_OUT)(hidden)
    outputs = L.Activation("softmax")(logits)
    model = fit_once(tf_keras.Model(inputs, outputs), Adam(), (DENSE_IN,), SEED + 8)
    add(save(model, "trailing_activation.h5"), model, extra={"output_activation": "softmax"},
        notes="Functional Dense -> Dense -> Activation('softmax'): the output layer has no "
              "weights, so the final kernel layer is the Dense before it.")

    for _, maker in K2_ADDED:
        maker(save, add)


# ---------------------------------------------------------------- Keras 3


def k3_sequential(dtype=None, use_bias=True):
    L = keras.layers
    return keras.Sequential([
        keras.Input(shape=(DENSE_IN,), dtype=dtype),
        L.Dense(DENSE_HIDDEN, activation="relu", dtype=dtype),
        L.Dense(DENSE_OUT, use_bias=use_bias, dtype=dtype),
    ])


def make_keras3(root, entries, only=None):
    out = os.path.join(root, "keras3")
    L = keras.layers
    Adam = keras.optimizers.Adam

    def save(model, name):
        path = os.path.join(out, name)
        if name.endswith(".weights.h5"):
            model.save_weights(path)
        else:
            model.save(path)
        return path

    def add(path, model, fmt="keras3-keras", needs_layer=False, input_shape=(DENSE_IN,), notes="", **kw):
        entries.append(describe(path, root, fmt, K3_WRITER, "keras3", model, "k3",
                                needs_layer, input_shape, notes, **kw))

    if only is not None:
        for name, maker in K3_ADDED:
            if "keras3/" + name in only:
                maker(save, add)
        return

    zip_note = ZIP_NOTE

    # sequential in all three Keras 3 formats, from one model.
    fresh_k3()
    model = fit_once(k3_sequential(), Adam(), (DENSE_IN,), SEED)
    add(save(model, "sequential.keras"), model,
        notes="Sequential 8->16->4. " + zip_note)
    add(save(model, "sequential.weights.h5"), model, fmt="keras3-weights-h5", needs_layer=True,
        architecture="keras3/sequential.keras",
        notes="model.save_weights of the sequential.keras model: /layers/<group>/vars/<i> plus "
              "/optimizer/vars/<i>; no config, so kprune needs --layer.")
    # Saved last: Keras 3.15's legacy .h5 save drops the optimizer from the
    # model's compile config, and a later .keras save would then hold none.
    add(save(model, "sequential.h5"), model, fmt="keras3-h5",
        notes="Legacy HDF5 from Keras 3: weight names without ':0' and scoped by the model "
              "('sequential/dense_1/kernel'); optimizer slots flat under /optimizer_weights/adam.")

    # functional.keras
    fresh_k3()
    inputs = keras.Input(shape=(DENSE_IN,))
    hidden = L.Dense(DENSE_HIDDEN, activation="relu")(inputs)
    model = fit_once(keras.Model(inputs, L.Dense(DENSE_OUT)(hidden)), Adam(), (DENSE_IN,), SEED + 2)
    add(save(model, "functional.keras"), model, notes="Functional 8->16->4. " + zip_note)

    # nested.keras
    fresh_k3()
    inner = keras.Sequential([
        keras.Input(shape=(DENSE_HIDDEN,)),
        L.Dense(DENSE_HIDDEN, activation="relu"),
        L.Dense(DENSE_OUT, name="head"),
    ], name="nested_model")
    inputs = keras.Input(shape=(DENSE_IN,))
    outputs = inner(L.Dense(DENSE_HIDDEN, activation="relu", name="pre")(inputs))
    model = fit_once(keras.Model(inputs, outputs), Adam(), (DENSE_IN,), SEED + 3)
    add(save(model, "nested.keras"), model,
        notes="Functional model whose last layer is a Sequential 'nested_model' holding the final "
              "Dense 'head'. In model.weights.h5 groups are named after the layer's class "
              "(sequential, dense_1), not the layer name; each vars group has a 'name' "
              "attribute with the layer name. " + zip_note)

    # multi_output.keras
    fresh_k3()
    inputs = keras.Input(shape=(DENSE_IN,))
    hidden = L.Dense(DENSE_HIDDEN, activation="relu")(inputs)
    out_a = L.Dense(DENSE_OUT, name="out_a")(hidden)
    out_b = L.Dense(2, name="out_b")(hidden)
    model = fit_once(keras.Model(inputs, [out_a, out_b]), Adam(), (DENSE_IN,), SEED + 4)
    add(save(model, "multi_output.keras"), model, needs_layer=True,
        notes="Two Dense outputs out_a and out_b: kprune needs --layer. " + zip_note)

    # no_bias.keras
    fresh_k3()
    model = fit_once(k3_sequential(use_bias=False), Adam(), (DENSE_IN,), SEED + 5)
    add(save(model, "no_bias.keras"), model, notes="Final Dense with use_bias=False. " + zip_note)

    # float16.keras
    fresh_k3()
    model = fit_once(k3_sequential(dtype="float16"), Adam(epsilon=1e-4), (DENSE_IN,), SEED + 6,
                     dtype="float16")
    add(save(model, "float16.keras"), model, input_dtype="float16",
        notes="Layers with dtype float16: weights and Adam slots stored as float16. " + zip_note)

    # conv.keras
    fresh_k3()
    model = keras.Sequential([
        keras.Input(shape=IMAGE),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.Conv2D(2, 3, padding="same"),
    ])
    fit_once(model, Adam(), IMAGE, SEED + 7)
    add(save(model, "conv.keras"), model, input_shape=IMAGE,
        notes="Fully convolutional, final Conv2D(2, 3x3), kernel (kh, kw, in, out). " + zip_note)

    # many_layers: 12 Dense layers with default names dense .. dense_11.
    fresh_k3()
    layers = [keras.Input(shape=(DENSE_IN,))]
    layers += [L.Dense(DENSE_IN, activation="relu") for _ in range(11)]
    layers += [L.Dense(DENSE_OUT)]
    model = fit_once(keras.Sequential(layers), Adam(), (DENSE_IN,), SEED + 9)
    add(save(model, "many_layers.keras"), model,
        notes="Sequential of 12 Dense layers named dense .. dense_11; the last is dense_11. "
              + zip_note)
    add(save(model, "many_layers.weights.h5"), model, fmt="keras3-weights-h5", needs_layer=True,
        architecture="keras3/many_layers.keras",
        notes="Weights of many_layers.keras. HDF5 lists groups by name, so dense_10 and dense_11 "
              "come before dense_2: the file alone does not tell which layer is last.")

    # einsum.keras: final EinsumDense.
    fresh_k3()
    inputs = keras.Input(shape=(DENSE_IN,))
    hidden = L.Dense(DENSE_HIDDEN, activation="relu")(inputs)
    outputs = L.EinsumDense("ab,bc->ac", output_shape=DENSE_OUT, bias_axes="c")(hidden)
    model = fit_once(keras.Model(inputs, outputs), Adam(), (DENSE_IN,), SEED + 10)
    add(save(model, "einsum.keras"), model,
        notes="Final layer EinsumDense('ab,bc->ac'), kernel (16, 4), bias (4,). " + zip_note)

    # separable.keras: final SeparableConv2D.
    fresh_k3()
    model = keras.Sequential([
        keras.Input(shape=IMAGE),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.SeparableConv2D(2, 3, padding="same"),
    ])
    fit_once(model, Adam(), IMAGE, SEED + 11)
    add(save(model, "separable.keras"), model, input_shape=IMAGE,
        notes="Final SeparableConv2D: weights are depthwise_kernel (vars/0, 3x3x4x1), "
              "pointwise_kernel (vars/1, 1x1x4x2) and bias (vars/2); it has no 'kernel'. "
              "kernel_dataset is the pointwise kernel, the one that mixes channels like a "
              "Dense kernel. " + zip_note)

    for _, maker in K3_ADDED:
        maker(save, add)


# ---------------------------------------------------------------- added later
#
# Each maker gets its format's save and add. `output_activation` names the activation Keras applies
# between the final kernel layer and the output, which a fine-tune's loss must follow;
# `unfollowable_layer` names a layer there that a fine-tune cannot follow.


def k2_trailing_softmax(save, add):
    L = tf_keras.layers
    fresh_k2()
    model = tf_keras.Sequential([
        tf_keras.Input(shape=(DENSE_IN,)),
        L.Dense(DENSE_HIDDEN, activation="relu"),
        L.Dense(DENSE_OUT),
        L.Dropout(0.25),
        L.Softmax(),
    ])
    fit_once(model, tf_keras.optimizers.Adam(), (DENSE_IN,), SEED + 12)
    add(save(model, "trailing_softmax.h5"), model, extra={"output_activation": "softmax"},
        notes="Sequential Dense -> Dense (linear) -> Dropout -> Softmax layer: the outputs are the "
              "softmax of the final Dense's.")


def k3_trailing_activation(save, add):
    L = keras.layers
    fresh_k3()
    inputs = keras.Input(shape=(DENSE_IN,))
    hidden = L.Dense(DENSE_HIDDEN, activation="relu")(inputs)
    outputs = L.Activation("softmax")(L.Dense(DENSE_OUT)(hidden))
    model = fit_once(keras.Model(inputs, outputs), keras.optimizers.Adam(), (DENSE_IN,), SEED + 8)
    add(save(model, "trailing_activation.keras"), model, extra={"output_activation": "softmax"},
        notes="Functional Dense -> Dense -> Activation('softmax'), as keras2/trailing_activation.h5. "
              + ZIP_NOTE)


def k3_trailing_softmax(save, add):
    L = keras.layers
    fresh_k3()
    model = keras.Sequential([
        keras.Input(shape=(DENSE_IN,)),
        L.Dense(DENSE_HIDDEN, activation="relu"),
        L.Dense(DENSE_OUT),
        L.Dropout(0.25),
        L.Softmax(),
    ])
    fit_once(model, keras.optimizers.Adam(), (DENSE_IN,), SEED + 12)
    add(save(model, "trailing_softmax.keras"), model, extra={"output_activation": "softmax"},
        notes="Sequential Dense -> Dense (linear) -> Dropout -> Softmax layer, as "
              "keras2/trailing_softmax.h5. " + ZIP_NOTE)


def k3_trailing_rescaling(save, add):
    L = keras.layers
    fresh_k3()
    inputs = keras.Input(shape=(DENSE_IN,))
    hidden = L.Dense(DENSE_HIDDEN, activation="relu")(inputs)
    outputs = L.Rescaling(0.5, name="rescaling")(L.Dense(DENSE_OUT)(hidden))
    model = fit_once(keras.Model(inputs, outputs), keras.optimizers.Adam(), (DENSE_IN,), SEED + 13)
    add(save(model, "trailing_rescaling.keras"), model, extra={"unfollowable_layer": "rescaling"},
        notes="Functional Dense -> Dense -> Rescaling(0.5): the outputs are scaled after the final "
              "Dense, which a fine-tune cannot follow; magnitude pruning still applies. " + ZIP_NOTE)


# Convolution heads: the final weighted layer is a convolution whose kernel has many input rows and
# few output channels, so a flat range of it spans lines of the last dimension without filling rows of
# the first. Shapes are (kernel dims..., in, out); the first dimension is often 1.
CONV_HEADS = {
    # name: (input shape, layer maker(L) for the head, trailing layers(L), note)
    "conv1x1_head": ((2, 2, 8), lambda L: L.Conv2D(256, 1, name="head"), lambda L: [],
                     "Conv2D 1x1 head 8 -> 256 channels on a 2x2x8 input: kernel 1x1x8x256, first dimension 1."),
    "conv3x3_head": ((5, 5, 128), lambda L: L.Conv2D(7, 3, name="head"),
                     lambda L: [L.GlobalAveragePooling2D(), L.Softmax()],
                     "Conv2D 3x3 head 128 -> 7 channels, then GlobalAveragePooling2D and Softmax: "
                     "kernel 3x3x128x7."),
    "conv1d_head": ((4, 8), lambda L: L.Conv1D(256, 1, name="head"), lambda L: [],
                    "Conv1D head, kernel size 1, 8 -> 256 channels: kernel 1x8x256."),
    "conv3d_head": ((4, 4, 4, 8), lambda L: L.Conv3D(32, 3, name="head"), lambda L: [],
                    "Conv3D 3x3x3 head 8 -> 32 channels: kernel 3x3x3x8x32."),
}
# The Keras 2 1x1 head is full size, as in a real network: 240 -> 256 channels (kernel 1x1x240x256,
# 61,440 weights in one row of the first dimension).
K2_CONV1X1_INPUT = (2, 2, 240)
FLOAT64_IN = 2048
# Heads kept at the size of the real layers that showed the problem (3x3x128x7 and 3x3x3x8x32: 8,064 and
# 6,912 weights, over 100 KB with Adam's slots).
FULL_SIZE_HEADS = {"conv3x3_head", "conv3d_head"}


def conv_head_extra(name):
    return {"full_size_layer": True} if name in FULL_SIZE_HEADS else None


def k2_conv_head(name, input_shape=None, note=None, extra=None):
    shape, head, trailing, default_note = CONV_HEADS[name]
    shape = input_shape or shape

    def make(save, add):
        L = tf_keras.layers
        fresh_k2()
        model = tf_keras.Sequential([tf_keras.Input(shape=shape), head(L)] + trailing(L))
        fit_once(model, tf_keras.optimizers.Adam(), shape, SEED + 20)
        add(save(model, name + ".h5"), model, input_shape=shape, extra=extra or conv_head_extra(name),
            notes=(note or default_note) + " Full model with Adam state.")
    return make


def k3_conv_head(name):
    shape, head, trailing, note = CONV_HEADS[name]

    def make(save, add):
        L = keras.layers
        fresh_k3()
        model = keras.Sequential([keras.Input(shape=shape), head(L)] + trailing(L))
        fit_once(model, keras.optimizers.Adam(), shape, SEED + 20)
        add(save(model, name + ".keras"), model, input_shape=shape, extra=conv_head_extra(name),
            notes=note + " " + ZIP_NOTE)
        # Saved last: the legacy .h5 save drops the optimizer from the compile config (see sequential.h5).
        add(save(model, name + ".h5"), model, fmt="keras3-h5", input_shape=shape, extra=conv_head_extra(name),
            notes=note + " Legacy HDF5 from Keras 3, with Adam state.")
    return make


def k2_float64(save, add):
    L = tf_keras.layers
    fresh_k2()
    tf_keras.backend.set_floatx("float64")
    try:
        model = tf_keras.Sequential([tf_keras.Input(shape=(FLOAT64_IN,)), L.Dense(1)])
        fit_once(model, tf_keras.optimizers.Adam(), (FLOAT64_IN,), SEED + 21, dtype="float64")
        path = save(model, "float64.h5")
    finally:
        tf_keras.backend.set_floatx("float32")
    add(path, model, input_shape=(FLOAT64_IN,), input_dtype="float64",
        notes="Built under floatx float64: Dense 2048 -> 1, kernel 2048x1, weights and Adam slots "
              "stored as float64.")


def k3_float64(save, add):
    L = keras.layers
    fresh_k3()
    model = keras.Sequential([keras.Input(shape=(FLOAT64_IN,), dtype="float64"), L.Dense(1, dtype="float64")])
    fit_once(model, keras.optimizers.Adam(), (FLOAT64_IN,), SEED + 21, dtype="float64")
    add(save(model, "float64.keras"), model, input_shape=(FLOAT64_IN,), input_dtype="float64",
        notes="Dense 2048 -> 1 with dtype float64: kernel 2048x1, weights and Adam slots stored as "
              "float64. " + ZIP_NOTE)
    add(save(model, "float64.h5"), model, fmt="keras3-h5", input_shape=(FLOAT64_IN,), input_dtype="float64",
        notes="Dense 2048 -> 1 with dtype float64, legacy HDF5 from Keras 3, with Adam state.")


USER_BLOCK_TEXT = ("This HDF5 file carries a user block, added by h5jam: the HDF5 signature and data follow it "
                   "at offset 1024, and addresses inside the file count from there. ")


def k2_user_block(save, add):
    """sequential.h5's model, saved by tf_keras and given a 1,024-byte user block by h5jam."""
    fresh_k2()
    model = fit_once(k2_sequential(), tf_keras.optimizers.Adam(), (DENSE_IN,), SEED)
    plain = save(model, "user_block.plain.h5")
    path = os.path.join(os.path.dirname(plain), "user_block.h5")
    block = plain + ".ub"
    try:
        with open(block, "w") as handle:
            # Longer than 512 bytes, so h5jam rounds the block up to 1,024.
            handle.write((USER_BLOCK_TEXT * 4)[:700] + "\n")
        if os.path.exists(path):
            os.remove(path)
        subprocess.run(["h5jam", "-i", plain, "-u", block, "-o", path], check=True)
    finally:
        for leftover in (plain, block):
            if os.path.exists(leftover):
                os.remove(leftover)
    add(path, model, extra={"user_block_bytes": 1024, "made_by": "h5jam -i sequential.h5 -u TEXT -o user_block.h5"},
        notes="The sequential.h5 model saved by tf_keras, then given a 1,024-byte HDF5 user block "
              "(700 bytes of text, padded) by h5jam: the HDF5 signature sits at offset 1024.")


K2_ADDED = [
    ("trailing_softmax.h5", k2_trailing_softmax),
    ("conv1x1_head.h5", k2_conv_head(
        "conv1x1_head", K2_CONV1X1_INPUT, extra={"full_size_layer": True},
        note="Conv2D 1x1 head 240 -> 256 channels on a 2x2x240 input, full size: kernel 1x1x240x256, "
             "61,440 weights in one row of the first dimension.")),
    ("conv3x3_head.h5", k2_conv_head("conv3x3_head")),
    ("conv1d_head.h5", k2_conv_head("conv1d_head")),
    ("conv3d_head.h5", k2_conv_head("conv3d_head")),
    ("float64.h5", k2_float64),
    ("user_block.h5", k2_user_block),
]
K3_ADDED = [
    ("trailing_activation.keras", k3_trailing_activation),
    ("trailing_softmax.keras", k3_trailing_softmax),
    ("trailing_rescaling.keras", k3_trailing_rescaling),
    ("conv1x1_head.keras", k3_conv_head("conv1x1_head")),
    ("conv3x3_head.keras", k3_conv_head("conv3x3_head")),
    ("conv1d_head.keras", k3_conv_head("conv1d_head")),
    ("conv3d_head.keras", k3_conv_head("conv3d_head")),
    ("float64.keras", k3_float64),
]


# ---------------------------------------------------------------- malformed


def make_malformed(root, entries):
    path = os.path.join(root, "malformed", "not_keras.h5")
    with h5py.File(path, "w", track_order=False) as f:
        f.create_dataset("data", data=np.arange(16, dtype="float32").reshape(4, 4), track_times=False)
    entries.append({
        "file": fixturelib.relative(path, root),
        "format": "not-keras",
        "writer": "h5py",
        "loader": None,
        "architecture": None,
        "final_layer": None,
        "needs_layer": False,
        "kernel_dataset": None,
        "notes": "Plain HDF5 made with h5py %s (not by Keras): one float32 dataset /data of "
                 "shape (4, 4), no attributes, no Keras structure. kprune must refuse it." % h5py.__version__,
    })


# ---------------------------------------------------------------- checks


def check_entry(entry, root):
    """Load a fixture in its Keras and compare the final kernel with the file."""
    path = os.path.join(root, entry["file"])
    model = kerasload.load_model(entry, path, root)
    if model is None:
        return
    loaded = kerasload.kernel_values(model, entry)
    with fixturelib.open_weights_h5(path) as h5:
        stored = h5[entry["kernel_dataset"]][()]
    if not np.array_equal(loaded, stored, equal_nan=True):
        raise RuntimeError("%s: loaded kernel differs from %s" % (entry["file"], entry["kernel_dataset"]))
    if entry.get("kernel_nans", 0) == 0:
        for output in kerasload.predict(model, entry):
            if not np.all(np.isfinite(output)):
                raise RuntimeError("%s: predict gave non-finite values" % entry["file"])
    # A layer kept at a real network's size (full_size_layer) may take up to 1.5 MB.
    limit = 1536 * 1024 if entry.get("full_size_layer") else 100 * 1024
    if entry["bytes"] >= limit:
        raise RuntimeError("%s is %d bytes, fixtures must stay under %d KB" % (entry["file"], entry["bytes"],
                                                                             limit // 1024))


def keras20_entries(root):
    """Entries written by make_fixtures_keras20.py, if it was run."""
    path = os.path.join(root, "keras20", "entries.json")
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        entries = json.load(handle)
    for entry in entries:
        entry["loader"] = "tf_keras"
        try:
            check_entry(entry, root)
        except Exception as error:  # any failure to load means tf_keras can't read it
            entry["loader"] = None
            entry["notes"] += " tf_keras %s cannot load it: %s" % (
                tf_keras.__version__, str(error).splitlines()[0][:200])
        else:
            entry["notes"] += " tf_keras %s loads it." % tf_keras.__version__
    return entries


def make_only(root, manifest, only, parser):
    """Make the named added fixtures and put their entries where a full run would."""
    known = set(["keras2/" + n for n, _ in K2_ADDED] + ["keras3/" + n for n, _ in K3_ADDED])
    if only - known:
        parser.error("not an added fixture: %s (added: %s)" % (", ".join(sorted(only - known)),
                                                              ", ".join(sorted(known))))
    with open(manifest) as handle:
        entries = json.load(handle)["fixtures"]
    made = []
    make_keras2(root, made, only=only)
    make_keras3(root, made, only=only)
    for entry in made:
        check_entry(entry, root)
        files = [e["file"] for e in entries]
        if entry["file"] in files:
            entries[files.index(entry["file"])] = entry
        else:
            directory = entry["file"].split("/")[0] + "/"
            same = [i for i, e in enumerate(entries) if e["file"].startswith(directory)]
            entries.insert(same[-1] + 1 if same else len(entries), entry)
        print("%-32s %-18s %s" % (entry["file"], entry["format"], entry.get("kernel_dataset")))
    fixturelib.write_manifest(manifest, entries)
    print("made %d fixtures, merged into %s" % (len(made), manifest))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "..", "fixtures"))
    parser.add_argument("--keras20-only", action="store_true",
                        help="only merge fixtures/keras20/entries.json into the existing manifest")
    parser.add_argument("--only", nargs="+", metavar="FILE",
                        help="make only these added fixtures (keras2/NAME, keras3/NAME) and merge their "
                             "entries into the existing manifest")
    args = parser.parse_args()
    root = os.path.abspath(args.out)
    manifest = os.path.join(root, "manifest.json")
    if args.only:
        make_only(root, manifest, set(args.only), parser)
        return
    if args.keras20_only:
        with open(manifest) as handle:
            entries = [e for e in json.load(handle)["fixtures"] if not e["file"].startswith("keras20/")]
        entries += keras20_entries(root)
        fixturelib.write_manifest(manifest, entries)
        print("merged keras20 entries into %s" % manifest)
        return
    for sub in ("keras2", "keras3", "malformed"):
        shutil.rmtree(os.path.join(root, sub), ignore_errors=True)
        os.makedirs(os.path.join(root, sub))

    entries = []
    make_keras2(root, entries)
    make_keras3(root, entries)
    make_malformed(root, entries)
    for entry in entries:
        check_entry(entry, root)
    entries += keras20_entries(root)
    fixturelib.write_manifest(manifest, entries)
    for entry in entries:
        print("%-32s %-18s %s" % (entry["file"], entry["format"], entry.get("kernel_dataset")))
    print("wrote %d fixtures and %s" % (len(entries), manifest))


if __name__ == "__main__":
    main()
