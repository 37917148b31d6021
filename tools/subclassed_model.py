"""A subclassed Keras 3 model (no config: Keras saves only its weights), for the `.weights.h5` fixture of
tools/make_fixtures_extra.py and for tools/kerasload.py to load that fixture and kprune's outputs into.

Keras 3 stores a subclassed model's layers under the attributes that hold them, in alphabetical order:
`/head/vars`, `/hidden/vars`, and the list attribute `blocks` as a group of layers (`/blocks/dense/vars`).
"""

import keras

IN, HIDDEN, OUT = 8, 16, 4


class TwoBlocks(keras.Model):
    """hidden Dense(16, relu) -> blocks [Dense(16, tanh)] -> head Dense(4): attributes named after the layers,
    assigned in forward order, which is not the file's order."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(HIDDEN, activation="relu", name="hidden")
        self.blocks = [keras.layers.Dense(HIDDEN, activation="tanh")]
        self.head = keras.layers.Dense(OUT, name="head")

    def call(self, x):
        x = self.hidden(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def build():
    """The model, built on inputs of IN features."""
    model = TwoBlocks()
    model(keras.ops.zeros((1, IN)))
    return model
