#!/usr/bin/env python3
"""Generate the models `kprune predict` names several outputs on, and a hostile copy.

Run from the repository root with the project venv:

    .venv/bin/python tools/make_predict_outputs.py

Writes:
- fixtures/inference/keras2/output_names.h5 (saved by tf_keras 2.21, seeded weights): an LSTM with
  `return_state` whose three outputs are all model outputs, and a Dense layer `head` shared by two calls (on
  the last state h and the cell state c) whose two results are model outputs: five outputs from two layers
  (`lstm`, `lstm`, `lstm`, `head`, `head`). Keras's own predictions for 3 samples go to
  fixtures/predict/output_names.x.npy and output_names.y.N.npy (N the output's position).
- fixtures/hostile/hostile_output_name_escape.h5: crafted with h5py from a small tf_keras model (not Keras
  output as saved): two weightless output layers, the second renamed `x/../../escaped` in the config, a name
  that would put an output file two directories above the chosen one if used as it is.
"""

import json
import os
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import tfsetup  # noqa: E402,F401
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tf_keras as k  # noqa: E402


def output_names(path, predictions):
    k.utils.set_random_seed(17)
    inputs = k.Input((5, 3), name="steps")
    sequence, state_h, state_c = k.layers.LSTM(4, return_state=True, name="lstm")(inputs)
    head = k.layers.Dense(2, name="head")
    model = k.Model(inputs, [sequence, state_h, state_c, head(state_h), head(state_c)])
    model.save(path)
    x = np.random.default_rng(17).normal(size=(3, 5, 3)).astype("float32")
    np.save(os.path.join(predictions, "output_names.x.npy"), x)
    for index, y in enumerate(model.predict(x, verbose=0)):
        np.save(os.path.join(predictions, f"output_names.y.{index}.npy"), y.astype("float32"))


def escaping_name(path):
    k.utils.set_random_seed(18)
    inputs = k.Input((4,), name="features")
    hidden = k.layers.Dense(3, name="dense")(inputs)
    model = k.Model(inputs, [k.layers.Activation("relu", name="plain")(hidden),
                             k.layers.Activation("sigmoid", name="escapes")(hidden)])
    model.save(path)
    with h5py.File(path, "r+") as f:
        config = f.attrs["model_config"]
        config = config.decode() if isinstance(config, bytes) else config
        f.attrs["model_config"] = json.dumps(json.loads(config.replace('"escapes"', '"x/../../escaped"')))


def main():
    os.makedirs("fixtures/inference/keras2", exist_ok=True)
    output_names("fixtures/inference/keras2/output_names.h5", "fixtures/predict")
    escaping_name("fixtures/hostile/hostile_output_name_escape.h5")


if __name__ == "__main__":
    main()
