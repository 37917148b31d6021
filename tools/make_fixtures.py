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

Each model has one maker, which builds it in either Keras: a Flavour, K2
(tf_keras) or K3 (Keras 3), gives it the Keras module, its save and add, and
the few differences between the two. K2_MAKERS and K3_MAKERS list what a full
run makes; fixtures added later are made by the functions listed in K2_ADDED
and K3_ADDED. `--only keras3/NAME ...` makes just those files and merges their
entries into the existing manifest, leaving every other fixture as it is (a
Keras 3 maker named NAME.keras also writes NAME.h5 from the same model).

The HDF5 files Keras writes come out byte-identical from run to run. Two kinds
differ in a few bytes only: .keras zips, because Keras stamps the save time
into metadata.json and the zip entry of model.weights.h5 and, for objects a
model shares (the default DTypePolicy, a nested model), Python object ids
("shared_object_id") into config.json (the HDF5 inside is identical); and
keras2/gzip_chunked.h5, because h5repack records object modification times.
"""

import argparse
import contextlib
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

SEED = 1234
DENSE_IN, DENSE_HIDDEN, DENSE_OUT = 8, 16, 4
IMAGE = (8, 8, 3)
ZIP_NOTE = ("Zip entries are stored (not deflated); metadata.json and config.json are dated "
            "1980-01-01, model.weights.h5 carries the save time.")


# ---------------------------------------------------------------- the two Kerases


class Flavour:
    """A Keras the fixtures are made with, tf_keras (Keras 2) or Keras 3, and where its files go.

    One maker builds a model for both: `api` is the Keras module, and the few places where the two differ
    ask `keras3`.
    """

    def __init__(self, api, directory, loader, extension, fmt):
        self.api = api
        self.keras3 = api is keras
        self.directory = directory  # under the fixtures directory
        self.loader = loader  # the manifest's loader (kerasload.py)
        self.writer = "%s %s" % (api.__name__, api.__version__)
        self.extension = extension  # a full model's file
        self.fmt = fmt  # a full model's format in the manifest

    def fresh(self, seed=SEED):
        """Clear the session and seed: a model comes out the same whatever was made before it."""
        self.api.backend.clear_session()
        self.api.utils.set_random_seed(seed)

    def text(self, keras2, keras3):
        return keras3 if self.keras3 else keras2

    @contextlib.contextmanager
    def dtype(self, dtype):
        """Build in `dtype`: tf_keras through its floatx (yields None), Keras 3 through each layer's dtype
        argument (yields `dtype` to pass on)."""
        if self.keras3:
            yield dtype
            return
        self.api.backend.set_floatx(dtype)
        try:
            yield None
        finally:
            self.api.backend.set_floatx("float32")


K2 = Flavour(tf_keras, "keras2", "tf_keras", ".h5", "keras2-h5")
K3 = Flavour(keras, "keras3", "keras3", ".keras", "keras3-keras")


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


def fit_once(k, model, input_shape, seed, dtype="float32", **adam):
    """Compile with Adam (`adam`: its arguments) and run one short fit so Adam's m and v exist and are
    non-zero.

    Keras 3 gets a loss object: its legacy .h5 loader cannot deserialize the
    string "mse" back from training_config.
    """
    model.compile(optimizer=k.api.optimizers.Adam(**adam),
                  loss=keras.losses.MeanSquaredError() if k.keras3 else "mse")
    x, y = random_data(input_shape, output_shapes(model), seed, dtype=dtype)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    return model


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


def optimizer_slots(model, kernel, k):
    """Adam's m and v for `kernel` as (index in optimizer variables, variable)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return []
    if k.keras3:
        variables = list(optimizer.variables)
        stem = kernel.path.replace("/", "_")
        wanted = ["%s/%s_%s" % (optimizer.name, stem, slot) for slot in ("momentum", "velocity")]
        names = [v.path for v in variables]
    else:
        variables = list(optimizer.variables())
        wanted = ["%s/%s/%s" % (optimizer.name, slot, kernel.name) for slot in ("m", "v")]
        names = [v.name for v in variables]
    slots = []
    for name in wanted:
        if name not in names:
            raise RuntimeError("optimizer has no slot %s (has %s)" % (name, names))
        index = names.index(name)
        slots.append((index, variables[index]))
    return slots


def describe(path, root, k, fmt, model, needs_layer, input_shape, notes, architecture=None,
             input_dtype="float32", final=None, extra=None):
    """Build a manifest entry for a saved file by reading the file itself."""
    layer_path, layer = final or final_kernel_layer(model)
    variable_name = kernel_variable_name(layer)
    kernel = getattr(layer, variable_name)
    bias = getattr(layer, "bias", None)  # None when the layer has no bias

    entry = {
        "file": fixturelib.relative(path, root),
        "format": fmt,
        "writer": k.writer,
        "loader": k.loader,
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
            for index, slot in optimizer_slots(model, kernel, k):
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


# ---------------------------------------------------------------- making a flavour's fixtures


def make_flavour(root, entries, k, only=None):
    """Make k's fixtures into root/<k.directory>: every maker of k's list, or with `only`, the added
    fixtures named there."""
    out = os.path.join(root, k.directory)

    def save(model, name, weights=False):
        path = os.path.join(out, name)
        if weights:
            model.save_weights(path)
        else:
            model.save(path)
        return path

    def add(path, model, fmt=None, needs_layer=False, input_shape=(DENSE_IN,), notes="", **kw):
        fmt = fmt or k.fmt
        if fmt == "keras3-keras":
            notes += " " + ZIP_NOTE
        entries.append(describe(path, root, k, fmt, model, needs_layer, input_shape, notes, **kw))
        return entries[-1]

    added = K3_ADDED if k.keras3 else K2_ADDED
    if only is not None:
        for name, maker in added:
            if k.directory + "/" + name in only:
                maker(k, save, add)
        return
    for maker in (K3_MAKERS if k.keras3 else K2_MAKERS) + [maker for _, maker in added]:
        maker(k, save, add)


# ---------------------------------------------------------------- models
#
# Each maker gets its flavour, that flavour's save(model, file name) and add(path, model, ...), which
# describes the saved file in the manifest (a .keras archive's notes get ZIP_NOTE). `output_activation`
# names the activation Keras applies between the final kernel layer and the output, which a fine-tune's loss
# must follow; `unfollowable_layer` names a layer there that a fine-tune cannot follow.


def sequential(K, dtype=None, use_bias=True):
    L = K.layers
    return K.Sequential([
        K.Input(shape=(DENSE_IN,), dtype=dtype),
        L.Dense(DENSE_HIDDEN, activation="relu", dtype=dtype),
        L.Dense(DENSE_OUT, use_bias=use_bias, dtype=dtype),
    ])


def sequential_files(k, save, add):
    """One Sequential model in every format of its Keras."""
    k.fresh()
    model = fit_once(k, sequential(k.api), (DENSE_IN,), SEED)
    if k.keras3:
        add(save(model, "sequential.keras"), model, notes="Sequential 8->16->4.")
        add(save(model, "sequential.weights.h5", weights=True), model, fmt="keras3-weights-h5", needs_layer=True,
            architecture="keras3/sequential.keras",
            notes="model.save_weights of the sequential.keras model: /layers/<group>/vars/<i> plus "
                  "/optimizer/vars/<i>; no config, so kprune needs --layer.")
        # Saved last: Keras 3.15's legacy .h5 save drops the optimizer from the
        # model's compile config, and a later .keras save would then hold none.
        add(save(model, "sequential.h5"), model, fmt="keras3-h5",
            notes="Legacy HDF5 from Keras 3: weight names without ':0' and scoped by the model "
                  "('sequential/dense_1/kernel'); optimizer slots flat under /optimizer_weights/adam.")
        return

    # sequential.h5 and its weights-only twin.
    path = save(model, "sequential.h5")
    entry = add(path, model, notes="Sequential 8->16->4, full model with Adam state.")
    add(save(model, "weights.h5", weights=True), model, fmt="keras2-weights-h5", needs_layer=True,
        architecture="keras2/sequential.h5",
        notes="model.save_weights of the sequential.h5 model: layer groups at the root, "
              "root attribute layer_names, no model_config and no optimizer state.")

    # gzip_chunked.h5: the same file repacked with gzip and chunking.
    gz_path = os.path.join(os.path.dirname(path), "gzip_chunked.h5")
    chunked = [entry["kernel_dataset"]] + entry["optimizer_slot_datasets"]
    repack = ["h5repack", "-f", "GZIP=6", "-l", "%s:CHUNK=5x3" % ",".join(chunked), path, gz_path]
    subprocess.run(repack, check=True)
    add(gz_path, model, extra={"repacked_by": " ".join(["h5repack"] + repack[1:-2] + ["sequential.h5", "gzip_chunked.h5"])},
        notes="Keras output repacked by h5repack: sequential.h5 with every non-scalar dataset "
              "gzip-6 compressed (and so chunked); the final kernel and its Adam m and v are "
              "chunked 5x3, so their chunks do not divide their shape.")


def nan(k, save, add):
    """A NaN in the final kernel, saved by Keras."""
    k.fresh()
    model = fit_once(k, sequential(k.api), (DENSE_IN,), SEED + 1)
    head = model.layers[-1]
    kernel, bias = head.get_weights()
    kernel[0, 0] = np.nan
    head.set_weights([kernel, bias])
    add(save(model, "nan" + k.extension), model,
        notes="Sequential whose final kernel holds one NaN at [0, 0] (set_weights), "
              "then saved by Keras. kprune should refuse or report it, not rank it.")


def functional(k, save, add):
    K, L = k.api, k.api.layers
    k.fresh()
    inputs = K.Input(shape=(DENSE_IN,))
    hidden = L.Dense(DENSE_HIDDEN, activation="relu")(inputs)
    model = fit_once(k, K.Model(inputs, L.Dense(DENSE_OUT)(hidden)), (DENSE_IN,), SEED + 2)
    add(save(model, "functional" + k.extension), model, notes="Functional 8->16->4.")


def nested(k, save, add):
    """A Sequential used as a layer; the final Dense lives inside it."""
    K, L = k.api, k.api.layers
    k.fresh()
    inner = K.Sequential([
        K.Input(shape=(DENSE_HIDDEN,)),
        L.Dense(DENSE_HIDDEN, activation="relu"),
        L.Dense(DENSE_OUT, name="head"),
    ], name="nested_model")
    inputs = K.Input(shape=(DENSE_IN,))
    outputs = inner(L.Dense(DENSE_HIDDEN, activation="relu", name=k.text(None, "pre"))(inputs))
    model = fit_once(k, K.Model(inputs, outputs), (DENSE_IN,), SEED + 3)
    add(save(model, "nested" + k.extension), model, notes=k.text(
        "Functional model whose last layer is a Sequential 'nested_model'; the final Dense "
        "'head' is inside it. All the nested model's weights sit in one group "
        "/model_weights/nested_model whose weight_names carry no nested-model prefix.",
        "Functional model whose last layer is a Sequential 'nested_model' holding the final "
        "Dense 'head'. In model.weights.h5 groups are named after the layer's class "
        "(sequential, dense_1), not the layer name; each vars group has a 'name' "
        "attribute with the layer name."))


def multi_output(k, save, add):
    K, L = k.api, k.api.layers
    k.fresh()
    inputs = K.Input(shape=(DENSE_IN,))
    hidden = L.Dense(DENSE_HIDDEN, activation="relu")(inputs)
    out_a = L.Dense(DENSE_OUT, name="out_a")(hidden)
    out_b = L.Dense(2, name="out_b")(hidden)
    model = fit_once(k, K.Model(inputs, [out_a, out_b]), (DENSE_IN,), SEED + 4)
    add(save(model, "multi_output" + k.extension), model, needs_layer=True, notes=k.text(
        "Two Dense outputs out_a (16->4) and out_b (16->2): kprune needs --layer. "
        "final_layer is the last kernel layer in forward order.",
        "Two Dense outputs out_a and out_b: kprune needs --layer."))


def no_bias(k, save, add):
    k.fresh()
    model = fit_once(k, sequential(k.api, use_bias=False), (DENSE_IN,), SEED + 5)
    add(save(model, "no_bias" + k.extension), model, notes=k.text(
        "Final Dense with use_bias=False: one weight.", "Final Dense with use_bias=False."))


def float16(k, save, add):
    k.fresh()
    with k.dtype("float16") as dtype:
        # Adam epsilon 1e-4 so float16 training stays finite.
        model = fit_once(k, sequential(k.api, dtype=dtype), (DENSE_IN,), SEED + 6, dtype="float16", epsilon=1e-4)
        path = save(model, "float16" + k.extension)
    add(path, model, input_dtype="float16", notes=k.text(
        "Built under floatx float16: weights and Adam slots stored as float16 "
        "(Adam epsilon 1e-4 so float16 training stays finite).",
        "Layers with dtype float16: weights and Adam slots stored as float16."))


def conv(k, save, add):
    """Fully convolutional, final layer Conv2D."""
    K, L = k.api, k.api.layers
    k.fresh()
    model = K.Sequential([
        K.Input(shape=IMAGE),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.Conv2D(2, 3, padding="same"),
    ])
    fit_once(k, model, IMAGE, SEED + 7)
    add(save(model, "conv" + k.extension), model, input_shape=IMAGE, notes=k.text(
        "Fully convolutional 8x8x3 -> Conv2D(4, 3x3) -> Conv2D(2, 3x3); "
        "kernel shape is (kh, kw, in, out).",
        "Fully convolutional, final Conv2D(2, 3x3), kernel (kh, kw, in, out)."))


def trailing_activation(k, save, add):
    """The output layer has no kernel."""
    K, L = k.api, k.api.layers
    k.fresh()
    inputs = K.Input(shape=(DENSE_IN,))
    hidden = L.Dense(DENSE_HIDDEN, activation="relu")(inputs)
    outputs = L.Activation("softmax")(L.Dense(DENSE_OUT)(hidden))
    model = fit_once(k, K.Model(inputs, outputs), (DENSE_IN,), SEED + 8)
    add(save(model, "trailing_activation" + k.extension), model, extra={"output_activation": "softmax"},
        notes=k.text("Functional Dense -> Dense -> Activation('softmax'): the output layer has no "
                     "weights, so the final kernel layer is the Dense before it.",
                     "Functional Dense -> Dense -> Activation('softmax'), as keras2/trailing_activation.h5."))


def many_layers(k, save, add):
    """12 Dense layers with default names dense .. dense_11."""
    K, L = k.api, k.api.layers
    k.fresh()
    layers = [K.Input(shape=(DENSE_IN,))]
    layers += [L.Dense(DENSE_IN, activation="relu") for _ in range(11)]
    layers += [L.Dense(DENSE_OUT)]
    model = fit_once(k, K.Sequential(layers), (DENSE_IN,), SEED + 9)
    add(save(model, "many_layers.keras"), model,
        notes="Sequential of 12 Dense layers named dense .. dense_11; the last is dense_11.")
    add(save(model, "many_layers.weights.h5", weights=True), model, fmt="keras3-weights-h5", needs_layer=True,
        architecture="keras3/many_layers.keras",
        notes="Weights of many_layers.keras. HDF5 lists groups by name, so dense_10 and dense_11 "
              "come before dense_2: the file alone does not tell which layer is last.")


def einsum(k, save, add):
    """A final EinsumDense."""
    K, L = k.api, k.api.layers
    k.fresh()
    inputs = K.Input(shape=(DENSE_IN,))
    hidden = L.Dense(DENSE_HIDDEN, activation="relu")(inputs)
    outputs = L.EinsumDense("ab,bc->ac", output_shape=DENSE_OUT, bias_axes="c")(hidden)
    model = fit_once(k, K.Model(inputs, outputs), (DENSE_IN,), SEED + 10)
    add(save(model, "einsum.keras"), model,
        notes="Final layer EinsumDense('ab,bc->ac'), kernel (16, 4), bias (4,).")


def separable(k, save, add):
    """A final SeparableConv2D."""
    K, L = k.api, k.api.layers
    k.fresh()
    model = K.Sequential([
        K.Input(shape=IMAGE),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.SeparableConv2D(2, 3, padding="same"),
    ])
    fit_once(k, model, IMAGE, SEED + 11)
    add(save(model, "separable.keras"), model, input_shape=IMAGE,
        notes="Final SeparableConv2D: weights are depthwise_kernel (vars/0, 3x3x4x1), "
              "pointwise_kernel (vars/1, 1x1x4x2) and bias (vars/2); it has no 'kernel'. "
              "kernel_dataset is the pointwise kernel, the one that mixes channels like a "
              "Dense kernel.")


def trailing_softmax(k, save, add):
    K, L = k.api, k.api.layers
    k.fresh()
    model = K.Sequential([
        K.Input(shape=(DENSE_IN,)),
        L.Dense(DENSE_HIDDEN, activation="relu"),
        L.Dense(DENSE_OUT),
        L.Dropout(0.25),
        L.Softmax(),
    ])
    fit_once(k, model, (DENSE_IN,), SEED + 12)
    add(save(model, "trailing_softmax" + k.extension), model, extra={"output_activation": "softmax"},
        notes=k.text("Sequential Dense -> Dense (linear) -> Dropout -> Softmax layer: the outputs are the "
                     "softmax of the final Dense's.",
                     "Sequential Dense -> Dense (linear) -> Dropout -> Softmax layer, as "
                     "keras2/trailing_softmax.h5."))


def trailing_rescaling(k, save, add):
    K, L = k.api, k.api.layers
    k.fresh()
    inputs = K.Input(shape=(DENSE_IN,))
    hidden = L.Dense(DENSE_HIDDEN, activation="relu")(inputs)
    outputs = L.Rescaling(0.5, name="rescaling")(L.Dense(DENSE_OUT)(hidden))
    model = fit_once(k, K.Model(inputs, outputs), (DENSE_IN,), SEED + 13)
    add(save(model, "trailing_rescaling.keras"), model, extra={"unfollowable_layer": "rescaling"},
        notes="Functional Dense -> Dense -> Rescaling(0.5): the outputs are scaled after the final "
              "Dense, which a fine-tune cannot follow; magnitude pruning still applies.")


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
K2_CONV1X1 = ((2, 2, 240), "Conv2D 1x1 head 240 -> 256 channels on a 2x2x240 input, full size: kernel "
                           "1x1x240x256, 61,440 weights in one row of the first dimension.")
FLOAT64_IN = 2048
# Heads kept at the size of the real layers that showed the problem (3x3x128x7 and 3x3x3x8x32: 8,064 and
# 6,912 weights, over 100 KB with Adam's slots).
FULL_SIZE_HEADS = {"conv3x3_head", "conv3d_head"}


def conv_head(name, keras2=None):
    """The maker of CONV_HEADS[name]; `keras2`: (input shape, note) of a tf_keras head kept at full size."""

    def make(k, save, add):
        K, L = k.api, k.api.layers
        shape, head, trailing, note = CONV_HEADS[name]
        full_size = name in FULL_SIZE_HEADS
        if keras2 and not k.keras3:
            (shape, note), full_size = keras2, True
        extra = {"full_size_layer": True} if full_size else None
        k.fresh()
        model = K.Sequential([K.Input(shape=shape), head(L)] + trailing(L))
        fit_once(k, model, shape, SEED + 20)
        add(save(model, name + k.extension), model, input_shape=shape, extra=extra,
            notes=note + k.text(" Full model with Adam state.", ""))
        if k.keras3:
            # Saved last: the legacy .h5 save drops the optimizer from the compile config (see sequential.h5).
            add(save(model, name + ".h5"), model, fmt="keras3-h5", input_shape=shape, extra=extra,
                notes=note + " Legacy HDF5 from Keras 3, with Adam state.")
    return make


def float64(k, save, add):
    K, L = k.api, k.api.layers
    k.fresh()
    with k.dtype("float64") as dtype:
        model = K.Sequential([K.Input(shape=(FLOAT64_IN,), dtype=dtype), L.Dense(1, dtype=dtype)])
        fit_once(k, model, (FLOAT64_IN,), SEED + 21, dtype="float64")
        path = save(model, "float64" + k.extension)
    add(path, model, input_shape=(FLOAT64_IN,), input_dtype="float64", notes=k.text(
        "Built under floatx float64: Dense 2048 -> 1, kernel 2048x1, weights and Adam slots "
        "stored as float64.",
        "Dense 2048 -> 1 with dtype float64: kernel 2048x1, weights and Adam slots stored as float64."))
    if k.keras3:
        add(save(model, "float64.h5"), model, fmt="keras3-h5", input_shape=(FLOAT64_IN,), input_dtype="float64",
            notes="Dense 2048 -> 1 with dtype float64, legacy HDF5 from Keras 3, with Adam state.")


USER_BLOCK_TEXT = ("This HDF5 file carries a user block, added by h5jam: the HDF5 signature and data follow it "
                   "at offset 1024, and addresses inside the file count from there. ")


def user_block(k, save, add):
    """sequential.h5's model, saved by tf_keras and given a 1,024-byte user block by h5jam."""
    k.fresh()
    model = fit_once(k, sequential(k.api), (DENSE_IN,), SEED)
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


# What a full run makes, in order: each flavour's first makers, then the ones added later (which
# `--only` can remake one by one).
K2_MAKERS = [sequential_files, nan, functional, nested, multi_output, no_bias, float16, conv, trailing_activation]
K3_MAKERS = [sequential_files, functional, nested, multi_output, no_bias, float16, conv, many_layers, einsum,
             separable]
K2_ADDED = [
    ("trailing_softmax.h5", trailing_softmax),
    ("conv1x1_head.h5", conv_head("conv1x1_head", keras2=K2_CONV1X1)),
    ("conv3x3_head.h5", conv_head("conv3x3_head")),
    ("conv1d_head.h5", conv_head("conv1d_head")),
    ("conv3d_head.h5", conv_head("conv3d_head")),
    ("float64.h5", float64),
    ("user_block.h5", user_block),
]
K3_ADDED = [
    ("trailing_activation.keras", trailing_activation),
    ("trailing_softmax.keras", trailing_softmax),
    ("trailing_rescaling.keras", trailing_rescaling),
    ("conv1x1_head.keras", conv_head("conv1x1_head")),
    ("conv3x3_head.keras", conv_head("conv3x3_head")),
    ("conv1d_head.keras", conv_head("conv1d_head")),
    ("conv3d_head.keras", conv_head("conv3d_head")),
    ("float64.keras", float64),
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
    make_flavour(root, made, K2, only=only)
    make_flavour(root, made, K3, only=only)
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
    make_flavour(root, entries, K2)
    make_flavour(root, entries, K3)
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
