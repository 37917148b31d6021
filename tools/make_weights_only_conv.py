#!/usr/bin/env python3
"""Generate a weights-only Keras 2 file whose layers are Conv1D, for pruning a convolution head without a
model config (saved by tf_keras 2.21 `save_weights`, seeded), and calibration rows for its head.

Run from the repository root with the project venv:

    .venv/bin/python tools/make_weights_only_conv.py

Writes fixtures/calibration/conv1d_weights_only/weights.h5 (layers `c1`, kernel (3, 3, 4), and `head`, kernel
(2, 4, 5)) and h.npy: 64 patches of the head's input, 2 steps x 4 channels = 8 values each.
"""

import os
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import tfsetup  # noqa: E402,F401
import numpy as np  # noqa: E402
import tf_keras as k  # noqa: E402


def main():
    out = "fixtures/calibration/conv1d_weights_only"
    os.makedirs(out, exist_ok=True)
    k.utils.set_random_seed(5)
    model = k.Sequential([k.Input((10, 3)), k.layers.Conv1D(4, 3, name="c1"), k.layers.Conv1D(5, 2, name="head")])
    model.save_weights(os.path.join(out, "weights.h5"))
    np.save(os.path.join(out, "h.npy"), np.random.default_rng(5).normal(size=(64, 8)).astype("float32"))


if __name__ == "__main__":
    main()
