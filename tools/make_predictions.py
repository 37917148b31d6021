#!/usr/bin/env python3
"""Generate the expected outputs kprune's forward pass is tested against: real Keras's `predict` on seeded
inputs, for the fixtures whose layers the forward pass runs.

Run from the repository root with the project venv:

    .venv/bin/python tools/make_predictions.py [--out fixtures/predict]

For each model below it writes, into fixtures/predict/:

    <name>.x.npy                the inputs: 23 seeded standard-normal rows (5 for inputs wider than 1,024
                                values; integer ids in [0, 20) for integer inputs), float32, or for the
                                calibration models the first 23 rows of their raw test features; the
                                masked recurrent models' rows end in zero padding of random length
    <name>.y.npy                Keras's outputs (float32); <name>.y.<output>.npy for each output of a
                                model with several
and manifest.json: for each name the model file, the loader (tf_keras or keras) and the output files.
Models are loaded with the Keras that wrote them (tf_keras for Keras 2 files, keras for Keras 3 ones) and
run with `predict(x, batch_size=8)`.
"""

import argparse
import json
import os
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import tfsetup  # noqa: E402,F401  (first: seeds, threads, logging)
import numpy as np  # noqa: E402

import calibrationlib  # noqa: E402
import make_nested_fixtures  # noqa: E402
import make_recurrent_fixtures  # noqa: E402
import make_tfop_fixtures  # noqa: E402

MODELS = [
    "keras2/sequential.h5", "keras2/functional.h5", "keras2/nested.h5", "keras2/multi_output.h5",
    "keras2/no_bias.h5", "keras2/float16.h5", "keras2/trailing_activation.h5", "keras2/trailing_softmax.h5",
    "keras2/float64.h5", "keras20/sequential.h5",
    "keras3/sequential.keras", "keras3/sequential.h5", "keras3/functional.keras", "keras3/nested.keras",
    "keras3/multi_output.keras", "keras3/no_bias.keras", "keras3/float16.keras", "keras3/many_layers.keras",
    "keras3/trailing_activation.keras", "keras3/trailing_softmax.keras", "keras3/trailing_rescaling.keras",
    "keras3/float64.keras",
    "keras2/conv.h5", "keras2/conv1x1_head.h5", "keras2/conv3x3_head.h5", "keras2/conv1d_head.h5",
    "keras2/conv3d_head.h5", "keras20/conv.h5",
    "keras3/conv.keras", "keras3/conv1x1_head.keras", "keras3/conv3x3_head.keras", "keras3/conv1d_head.keras",
    "keras3/conv3d_head.keras", "keras3/conv1x1_head.h5", "keras3/conv1d_head.h5", "keras3/separable.keras",
    "keras3/einsum.keras",
] + ["inference/%s/%s%s" % (flavour, name, extension) for flavour, extension in (("keras2", ".h5"), ("keras3", ".keras"))
     for name in ("activations", "image", "sequence", "embedding", "two_inputs", "parametric")] + [
    "inference/%s/%s%s" % (flavour, name, extension) for flavour, extension in (("keras2", ".h5"), ("keras3", ".keras"))
    for name in list(make_recurrent_fixtures.MODELS) + ["xception", "dilated_conv1d", "transpose", "channels_first"]] + make_nested_fixtures.FILES \
    + make_tfop_fixtures.FILES
CALIBRATION = ["digits", "wine", "breast_cancer"]
ROWS = 23


def padded(x, rng):
    """Each row's steps after a random length (1 to all) set to zero: the padding masks are made from."""
    lengths = rng.integers(1, x.shape[1] + 1, len(x))
    for row, length in zip(x, lengths):
        row[length:] = 0
    return x


def loader(path):
    """tf_keras for files Keras 2 wrote, keras for Keras 3's."""
    if path.startswith(("keras2/", "keras20/", "calibration/", "inference/keras2/")):
        import tf_keras
        return "tf_keras", tf_keras
    import keras
    return "keras", keras


def save(out, name, model_file, x, outputs, names, loader_name, input_names=None):
    """x: one array, or one per input of a model with several (saved as <name>.x.<input>.npy)."""
    if isinstance(x, list):
        inputs = [name + ".x.%s.npy" % input_name for input_name in input_names]
        for array, file in zip(x, inputs):
            np.save(os.path.join(out, file), array.astype("float32"))
    else:
        inputs = name + ".x.npy"
        np.save(os.path.join(out, inputs), x.astype("float32"))
    files = []
    for output, output_name in zip(outputs, names):
        file = name + (".y.npy" if len(outputs) == 1 else ".y.%s.npy" % output_name)
        np.save(os.path.join(out, file), np.asarray(output, dtype="float32"))
        files.append({"output": output_name, "file": file})
    return {"name": name, "model": model_file, "loader": loader_name, "inputs": inputs, "outputs": files}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="fixtures/predict")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    entries = []
    for model_file in MODELS:
        loader_name, k = loader(model_file)
        model = k.models.load_model(os.path.join("fixtures", model_file), compile=False)
        rng = np.random.default_rng(len(entries))
        if len(model.inputs) > 1:
            x = [rng.standard_normal((ROWS,) + tuple(i.shape[1:])).astype("float32") for i in model.inputs]
            outputs = model.predict(x, batch_size=8, verbose=0)
            outputs = outputs if isinstance(outputs, list) else [outputs]
            names = list(getattr(model, "output_names", None) or [model.layers[-1].name])
            name = model_file.replace("/", "_").replace(".", "_")
            input_names = [i.name.split(":")[0] for i in model.inputs]
            entries.append(save(args.out, name, model_file, x, outputs, names, loader_name, input_names))
            continue
        shape = tuple(model.inputs[0].shape[1:])
        rows = ROWS if int(np.prod(shape)) <= 1024 else 5  # wide inputs: fewer rows keep the files small
        integer = "int" in str(model.inputs[0].dtype)
        x = rng.integers(0, 20, (rows,) + shape) if integer else rng.standard_normal((rows,) + shape)
        if os.path.splitext(os.path.basename(model_file))[0] in make_recurrent_fixtures.PADDED:
            x = padded(x, rng)
        x = x.astype("float32")  # integer ids are stored as float32, as kprune reads every input
        outputs = model.predict(x.astype("int32") if integer else x, batch_size=8, verbose=0)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        names = list(getattr(model, "output_names", None) or [model.layers[-1].name])
        name = model_file.replace("/", "_").replace(".", "_")
        entries.append(save(args.out, name, model_file, x, outputs, names, loader_name))
    for dataset in CALIBRATION:
        model_file = "calibration/%s/model.h5" % dataset
        loader_name, k = loader(model_file)
        model = k.models.load_model(os.path.join("fixtures", model_file), compile=False)
        entry = calibrationlib.find_dataset(calibrationlib.load_manifest(), dataset)
        x = calibrationlib.raw_inputs(entry)[2][:ROWS].astype("float32")
        outputs = [model.predict(x, batch_size=8, verbose=0)]
        entries.append(save(args.out, "calibration_" + dataset, model_file, x, outputs, list(getattr(model, "output_names", None) or [model.layers[-1].name]),
                            loader_name))
    with open(os.path.join(args.out, "manifest.json"), "w") as handle:
        json.dump({"rows": ROWS, "models": entries}, handle, indent=2, sort_keys=True)
        handle.write("\n")


if __name__ == "__main__":
    main()
