#!/usr/bin/env python3
"""The TF-MOT job kprune is compared with: prune a Keras model's final layer and fine-tune it.

    TF_USE_LEGACY_KERAS=1 .venv/bin/python tools/tfmot_baseline.py MODEL.h5 LAYER SPARSITY X.npy Y.npy OUT.h5

Loads the tf_keras model, wraps only the layer LAYER with tfmot.sparsity.keras.prune_low_magnitude under
a PolynomialDecay schedule from 0 to SPARSITY (ending at 70% of the steps, masks updated every 10 steps),
freezes every other layer (so only the final layer changes, as with kprune), fine-tunes for 10 epochs on the
model's inputs X and labels Y (Adam, sparse categorical cross-entropy, batch 32), strips the pruning wrappers
and saves OUT.h5. Prints one JSON object: the final kernel's zero count and size. The caller times the whole
process.
"""

import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
import tf_keras as keras  # noqa: E402

EPOCHS, BATCH = 10, 32


def main():
    model_path, layer_name, sparsity, x_path, y_path, out = sys.argv[1:7]
    sparsity = float(sparsity)
    keras.utils.set_random_seed(0)
    model = keras.models.load_model(model_path)
    x, y = np.load(x_path), np.load(y_path)
    steps = EPOCHS * int(np.ceil(len(x) / BATCH))
    schedule = tfmot.sparsity.keras.PolynomialDecay(initial_sparsity=0.0, final_sparsity=sparsity, begin_step=0,
                                                    end_step=int(0.7 * steps), frequency=10)

    def wrap(layer):
        if layer.name == layer_name:
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        layer.trainable = False
        return layer

    pruned = keras.models.clone_model(model, clone_function=wrap)
    # clone_model makes new weights: copy the trained ones in (through the wrapper for the pruned layer).
    for source, target in zip(model.layers, pruned.layers):
        if source.get_weights():
            (target.layer if hasattr(target, "pruning_schedule") else target).set_weights(source.get_weights())
    pruned.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    pruned.fit(x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    final = tfmot.sparsity.keras.strip_pruning(pruned)
    final.save(out)
    kernel = final.get_layer(layer_name).get_weights()[0]
    print(json.dumps({"zeros": int((kernel == 0).sum()), "size": int(kernel.size)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
