"""Load a fixture (or a converted copy of one) in the Keras that wrote it.

Used by make_fixtures.py to check the manifest and by interop_check.py to
check kprune's output. Needs the venv from tools/setup-venv.sh.
"""

import os

import tfsetup  # noqa: F401  (first: TensorFlow's environment and determinism)

import numpy as np


def load_model(entry, path, fixtures_dir):
    """Load the model stored at `path`, described by manifest `entry`.

    Weights-only files are loaded into the model rebuilt from the entry's
    architecture file, or, for a subclassed model, built by the function an
    architecture `python:module.function` names. Returns None when the entry
    has no loader.
    """
    loader = entry["loader"]
    architecture = entry.get("architecture")
    if loader is None:
        return None
    if loader == "tf_keras":
        import tf_keras

        if architecture:
            model = tf_keras.models.load_model(os.path.join(fixtures_dir, architecture))
            model.load_weights(path)
            return model
        return tf_keras.models.load_model(path)
    if loader == "keras3":
        import keras

        if architecture and architecture.startswith("python:"):
            # A subclassed model has no architecture file: `python:module.function` builds it.
            import importlib

            module, function = architecture[len("python:"):].rsplit(".", 1)
            model = getattr(importlib.import_module(module), function)()
            model.load_weights(path)
            return model
        if architecture:
            model = keras.saving.load_model(os.path.join(fixtures_dir, architecture))
            model.load_weights(path)
            return model
        return keras.saving.load_model(path)
    raise ValueError("unknown loader %r" % loader)


def find_layer(model, layer_path):
    """Follow a path of layer names (outer model first) to a layer."""
    layer = model
    for name in layer_path:
        layer = layer.get_layer(name)
    return layer


def kernel_values(model, entry):
    """The final layer's kernel as Keras holds it after loading.

    `kernel_variable` may be a dotted path for wrapped layers: `cell.kernel` (LSTM), `layer.kernel`
    (TimeDistributed).
    """
    variable = find_layer(model, entry["final_layer_path"])
    for part in entry.get("kernel_variable", "kernel").split("."):
        variable = getattr(variable, part)
    return np.asarray(variable.numpy())


def random_inputs(entry, batch=3, seed=0):
    """Random inputs for every model input, shaped after the manifest's input_shape."""
    rng = np.random.default_rng(seed)
    dtype = entry.get("input_dtype", "float32")
    return rng.standard_normal((batch,) + tuple(entry["input_shape"])).astype(dtype)


def predict(model, entry, seed=0):
    """Run predict on random inputs; returns a list of output arrays."""
    outputs = model.predict(random_inputs(entry, seed=seed), verbose=0)
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [np.asarray(o) for o in outputs]
