#!/usr/bin/env python3
"""Generate kprune's extra fixtures: configs holding Infinity, recurrent layers, a Bidirectional GRU,
a subclassed model's weights, and malformed copies of a Keras file.

Run from the repository root with the project venv (versions pinned in tools/requirements.txt):

    .venv/bin/python tools/make_fixtures_extra.py [--out fixtures/extra]

Writes fixtures/extra/keras2 (tf_keras), fixtures/extra/keras3 (Keras 3), fixtures/extra/malformed
(h5py edits of a Keras file, not Keras output) and fixtures/extra/manifest.json. Manifest entries have the
same keys as fixtures/manifest.json and their paths are relative to fixtures/, so that
tools/interop_check.py and the Swift tests read them beside the main manifest. They live apart from
tools/make_fixtures.py's output because a full run of that script replaces fixtures/keras2, keras3 and
malformed. Each model is built by one function for both Kerases and trained as make_fixtures.py trains its
own (its Flavour objects K2 and K3, fit_once and optimizer_slots).
"""

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfsetup  # noqa: E402,F401  (first: TensorFlow's environment and determinism)

import h5py  # noqa: E402
import numpy as np  # noqa: E402

import fixturelib  # noqa: E402
import kerasload  # noqa: E402
import subclassed_model  # noqa: E402
from make_fixtures import K2, K3, fit_once, optimizer_slots, random_data  # noqa: E402

SEED = 4321
DENSE_IN, DENSE_HIDDEN, DENSE_OUT = 8, 16, 4
SEQUENCE = (5, 3)  # time steps, features
UNITS = 6


def kernel_of(layer, variable):
    value = layer
    for part in variable.split("."):
        value = getattr(value, part)
    return value


def describe(path, root, model, layer_path, variable, k, fmt, needs_layer, input_shape, notes,
             architecture=None, extra=None):
    """A manifest entry read back from the saved file, as tools/make_fixtures.py writes them."""
    layer = kerasload.find_layer(model, layer_path)
    kernel = kernel_of(layer, variable)
    owner = kernel_of(layer, variable.rsplit(".", 1)[0]) if "." in variable else layer
    bias = getattr(owner, "bias", None)
    entry = {
        "file": fixturelib.relative(path, root),
        "format": fmt,
        "writer": k.writer,
        "loader": k.loader,
        "architecture": architecture,
        "final_layer": layer.name,
        "final_layer_path": list(layer_path),
        "final_layer_class": type(layer).__name__,
        "kernel_variable": variable,
        "needs_layer": needs_layer,
    }
    with fixturelib.open_weights_h5(path) as h5:
        value = np.asarray(kernel.numpy())
        kernel_path = fixturelib.find_by_value(h5, value, optimizer=False)
        entry["kernel_dataset"] = kernel_path
        entry["kernel_shape"] = list(value.shape)
        entry["kernel_dtype"] = str(h5[kernel_path].dtype)
        entry["kernel_zeros"] = int(np.count_nonzero(value == 0))
        entry["kernel_nans"] = 0
        entry["bias_dataset"] = (fixturelib.find_by_value(h5, np.asarray(bias.numpy()), optimizer=False)
                                 if bias is not None else None)
        entry["optimizer_slot_datasets"] = []
        if fmt != "keras2-weights-h5":
            for _, slot in optimizer_slots(model, kernel, k):
                entry["optimizer_slot_datasets"].append(
                    fixturelib.find_by_value(h5, np.asarray(slot.numpy()), optimizer=True))
        entry.update(fixturelib.describe_kernel_location(h5, kernel_path))
    entry["input_shape"] = list(input_shape)
    entry["input_dtype"] = "float32"
    entry["bytes"] = os.path.getsize(path)
    entry.update(extra or {})
    entry["notes"] = notes
    return entry


def check_entry(entry, root):
    """Load the fixture in its Keras; the kernel it holds must be the file's, and predict finite."""
    path = os.path.join(root, entry["file"])
    model = kerasload.load_model(entry, path, root)
    loaded = kerasload.kernel_values(model, entry)
    with fixturelib.open_weights_h5(path) as h5:
        if not np.array_equal(loaded, h5[entry["kernel_dataset"]][()]):
            raise RuntimeError("%s: loaded kernel differs from %s" % (entry["file"], entry["kernel_dataset"]))
    for output in kerasload.predict(model, entry):
        if not np.all(np.isfinite(output)):
            raise RuntimeError("%s: predict gave non-finite values" % entry["file"])


# ---------------------------------------------------------------- models
#
# Each takes the Keras module (tf_keras or keras) it is built with.


def relu_inf(K):
    """Dense -> ReLU(max_value=inf) -> Dense: the config holds `"max_value": Infinity`."""
    L = K.layers
    return K.Sequential([
        K.Input(shape=(DENSE_IN,)),
        L.Dense(DENSE_HIDDEN),
        L.ReLU(max_value=float("inf"), name="relu_inf"),
        L.Dense(DENSE_OUT, name="head"),
    ])


def lstm_last(K):
    return K.Sequential([K.Input(shape=SEQUENCE), K.layers.LSTM(UNITS, name="lstm")])


def lstm_dense(K):
    L = K.layers
    return K.Sequential([K.Input(shape=SEQUENCE), L.LSTM(UNITS, name="lstm"), L.Dense(DENSE_OUT, name="head")])


def time_distributed(K):
    L = K.layers
    return K.Sequential([
        K.Input(shape=SEQUENCE),
        L.LSTM(UNITS, return_sequences=True, name="lstm"),
        L.TimeDistributed(L.Dense(DENSE_OUT, name="inner"), name="per_step"),
    ])


def bidirectional(K):
    L = K.layers
    return K.Sequential([
        K.Input(shape=SEQUENCE),
        L.Bidirectional(L.GRU(UNITS), name="bigru"),
        # Named by default ("dense", as its saveable group), so that the name is one in every format.
        L.Dense(DENSE_OUT),
    ])


def make_models(root, entries):
    for k in (K2, K3):
        out = os.path.join(root, "extra", k.directory)

        def save(model, name):
            path = os.path.join(out, name)
            model.save(path)
            return path

        k.fresh(SEED)
        model = fit_once(k, relu_inf(k.api), (DENSE_IN,), SEED)
        entries.append(describe(save(model, "relu_inf" + k.extension), root, model, ["head"], "kernel", k, k.fmt,
                                False, (DENSE_IN,),
                                "Sequential Dense -> ReLU(max_value=inf) -> Dense 'head': Python's json writes "
                                "the config's max_value as the bare literal Infinity."))

        k.fresh(SEED + 1)
        model = fit_once(k, lstm_last(k.api), SEQUENCE, SEED + 1)
        entries.append(describe(save(model, "lstm_last" + k.extension), root, model, ["lstm"], "cell.kernel", k,
                                k.fmt, True, SEQUENCE,
                                "Sequential (5, 3) -> LSTM(6): the last weighted layer is recurrent, so kprune "
                                "refuses to pick it implicitly; --layer lstm prunes its input kernel.",
                                extra={"recurrent_final_layer": "lstm"}))

        k.fresh(SEED + 2)
        model = fit_once(k, lstm_dense(k.api), SEQUENCE, SEED + 2)
        entries.append(describe(save(model, "lstm_dense" + k.extension), root, model, ["head"], "kernel", k, k.fmt,
                                False, SEQUENCE, "Sequential (5, 3) -> LSTM(6) -> Dense(4) 'head'."))

        k.fresh(SEED + 3)
        model = fit_once(k, time_distributed(k.api), SEQUENCE, SEED + 3)
        entries.append(describe(save(model, "time_distributed" + k.extension), root, model, ["per_step"],
                                "layer.kernel", k, k.fmt, False, SEQUENCE,
                                "Sequential (5, 3) -> LSTM(6, return_sequences) -> TimeDistributed(Dense(4)) "
                                "'per_step': the final kernel is the wrapped Dense's."))

    out = os.path.join(root, "extra", K3.directory)
    K3.fresh(SEED + 4)
    model = fit_once(K3, bidirectional(K3.api), SEQUENCE, SEED + 4)
    path = os.path.join(out, "bidirectional.keras")
    model.save(path)
    entries.append(describe(path, root, model, ["dense"], "kernel", K3, "keras3-keras", False, SEQUENCE,
                            "Sequential (5, 3) -> Bidirectional(GRU(6)) 'bigru' -> Dense(4) 'dense'. The GRUs' "
                            "variables sit below the wrapper: /layers/bidirectional/forward_layer/cell/vars and "
                            "backward_layer/cell/vars."))
    weights = os.path.join(out, "bidirectional.weights.h5")
    model.save_weights(weights)
    entries.append(describe(weights, root, model, ["dense"], "kernel", K3, "keras3-weights-h5", True, SEQUENCE,
                            "Weights of bidirectional.keras: no config, so kprune needs --layer.",
                            architecture="extra/keras3/bidirectional.keras"))

    K3.fresh(SEED + 5)
    model = subclassed_model.build()
    # fit_once as for the others, with the shapes given: a subclassed model has no output_shape.
    model.compile(optimizer=K3.api.optimizers.Adam(), loss=K3.api.losses.MeanSquaredError())
    x, y = random_data((subclassed_model.IN,), [(subclassed_model.OUT,)], SEED + 5)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    weights = os.path.join(out, "subclassed.weights.h5")
    model.save_weights(weights)
    entries.append(describe(weights, root, model, ["head"], "kernel", K3, "keras3-weights-h5", True,
                            (subclassed_model.IN,),
                            "Weights of a subclassed Keras 3 model (tools/subclassed_model.py: hidden Dense(16) -> "
                            "blocks [Dense(16)] -> head Dense(4)): no config and no /layers; the layers sit at "
                            "the root under their attributes' names (/head/vars, /hidden/vars, the list "
                            "/blocks/dense/vars) beside /vars and /optimizer/vars. No config, so kprune needs "
                            "--layer.",
                            architecture="python:subclassed_model.build"))


# ---------------------------------------------------------------- malformed copies


def make_malformed(root):
    """h5py edits of the Keras-made keras2/sequential.h5 (Dense -> Dense 'dense_1'), each breaking the final
    layer's kernel.

    Returns descriptions for the manifest's `malformed` list. These files are not Keras output.
    """
    source = os.path.join(root, "keras2", "sequential.h5")
    out = os.path.join(root, "extra", "malformed")
    kernel = "/model_weights/dense_1/dense_1/kernel:0"
    other = "/model_weights/dense/dense/kernel:0"
    made = []

    def copy(name, what):
        path = os.path.join(out, name)
        shutil.copyfile(source, path)
        made.append({"file": fixturelib.relative(path, root), "writer": "h5py %s" % h5py.__version__,
                     "source": fixturelib.relative(source, root), "final_layer": "dense_1", "notes": what})
        return h5py.File(path, "r+")

    with copy("kernel_1d.h5", "The final Dense's kernel replaced by a 1-D dataset of its values.") as f:
        values = f[kernel][()].ravel()
        del f[kernel]
        f.create_dataset(kernel, data=values)
    with copy("kernel_scalar.h5", "The final Dense's kernel replaced by a scalar dataset.") as f:
        del f[kernel]
        f.create_dataset(kernel, data=np.float32(0.5))
    with copy("kernel_soft_link.h5", "The final Dense's kernel replaced by a soft link to the first Dense's "
                                     "kernel (%s)." % other) as f:
        del f[kernel]
        f[kernel] = h5py.SoftLink(other)
    target = os.path.join(out, "external_target.h5")
    with h5py.File(target, "w") as t:
        t.create_dataset("kernel", data=np.ones((DENSE_HIDDEN, DENSE_OUT), dtype="float32"))
    with copy("kernel_external_link.h5", "The final Dense's kernel replaced by an external link to "
                                         "external_target.h5:/kernel (16x4 ones, made by h5py).") as f:
        del f[kernel]
        f[kernel] = h5py.ExternalLink("external_target.h5", "/kernel")
    with copy("empty_weight_names.h5", "The final Dense's group keeps its datasets but its weight_names "
                                       "attribute is an empty list.") as f:
        f["/model_weights/dense_1"].attrs["weight_names"] = np.array([], dtype=h5py.string_dtype())
    return made


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"),
                        help="the fixtures directory; files go to its extra/ folder")
    args = parser.parse_args()
    root = os.path.abspath(args.out)
    for sub in ("keras2", "keras3", "malformed"):
        shutil.rmtree(os.path.join(root, "extra", sub), ignore_errors=True)
        os.makedirs(os.path.join(root, "extra", sub))
    entries = []
    make_models(root, entries)
    for entry in entries:
        check_entry(entry, root)
    malformed = make_malformed(root)
    manifest = os.path.join(root, "extra", "manifest.json")
    import json
    with open(manifest, "w") as handle:
        json.dump({"fixtures": entries, "malformed": malformed}, handle, indent=2)
        handle.write("\n")
    for entry in entries:
        print("%-40s %-18s %s" % (entry["file"], entry["format"], entry["kernel_dataset"]))
    print("wrote %d fixtures, %d malformed copies and %s" % (len(entries), len(malformed), manifest))


if __name__ == "__main__":
    main()
