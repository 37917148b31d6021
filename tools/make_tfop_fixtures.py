#!/usr/bin/env python3
"""Generate the fixtures for tf_keras's TensorFlow-op layers: functional models that call TensorFlow functions
on Keras tensors (`tf.math.reduce_mean(h, axis=1, keepdims=True)`, `tf.concat`, `h[:, 1:3]`, `2.0 - h`,
`tf.transpose`, `tf.reshape`), which tf_keras records as `TFOpLambda` and `SlicingOpLambda` layers, saved by
tf_keras 2.21 (`.h5`) with seeded random weights into fixtures/inference/keras2/.

Run from the repository root with the project venv (tools/make_predictions.py then records Keras's own
predictions for the models kprune runs):

    .venv/bin/python tools/make_tfop_fixtures.py [--out fixtures/inference] [--only NAME]

Models kprune runs (`MODELS`):

- `tfop_mixed`: a Dense layer on 4×6 inputs, the mean over the steps (`keepdims`), concatenated to the steps,
  arithmetic with constants on either side (`(c + 2.0) * 0.5`, `1.0 - a`), `tf.math.add(a, y=b * m)` (a tensor
  by keyword, broadcast), `tf.transpose`, `tf.reshape(t, [-1, 25])`, `tf.math.maximum`, `abs`, a division and
  a Dense head of 3;
- `tfop_reduce`: every reduction (over one axis, two, a negative one, with and without `keepdims`), slices
  (`h[..., 0]`, `h[:, ::-1, 1:-1:2]`, `h[:, 2]`, `h[:, None, -1:, 3]`), `tf.stack`, `tf.expand_dims`,
  `tf.squeeze`, comparisons cast to float32, `sqrt`, `square`, `exp`, `log`, `negative`, `pow`, `minimum`,
  and a Dense head of 4.

Models kprune refuses (`REFUSED`), each naming the layer and the function or argument in one line:
`tfop_erf` (`tf.math.erf`), `tfop_concat_samples` (`tf.concat(..., axis=0)`), `tfop_reduce_all`
(`tf.math.reduce_sum` over every axis), `tfop_slice_samples` (`h[1:]`).
"""

import argparse
import os
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import tfsetup  # noqa: E402,F401  (first: seeds, threads, logging)
import tensorflow as tf  # noqa: E402

from make_inference_fixtures import randomize  # noqa: E402

FIRST_SEED = 300


def tfop_mixed(k):
    L = k.layers
    x = k.Input(shape=(4, 6))
    h = L.Dense(5)(x)
    m = tf.math.reduce_mean(h, axis=1, keepdims=True)
    c = tf.concat([h, m], axis=1)
    a = (c + 2.0) * 0.5
    b = 1.0 - a
    d = tf.math.add(a, y=b * m)
    t = tf.transpose(d, perm=[0, 2, 1])
    r = tf.reshape(t, [-1, 25])
    q = tf.math.maximum(r, 0.1) / (tf.abs(r) + 1.0)
    return k.Model(x, L.Dense(3, name="head")(q))


def tfop_reduce(k):
    L = k.layers
    x = k.Input(shape=(4, 6))
    h = L.Dense(6)(x)
    parts = [
        tf.expand_dims(tf.reduce_max(h, axis=[1, 2]), -1),
        tf.math.reduce_min(h, axis=-1),
        tf.reduce_sum(h, axis=1),
        tf.squeeze(tf.math.reduce_prod(h[:, :, :2] * 0.5 + 1.0, axis=2, keepdims=True), axis=-1),
        tf.reshape(tf.math.reduce_mean(h, axis=[-1], keepdims=True), [-1, 4]),
        h[..., 0],
        tf.reshape(h[:, ::-1, 1:-1:2], [-1, 8]),
        h[:, 2],
        tf.reshape(h[:, None, -1:, 3], [-1, 1]),
        tf.reshape(tf.stack([h[:, :, 0], h[:, :, 5]], axis=1), [-1, 8]),
        tf.squeeze(tf.expand_dims(h[:, 1], axis=1), axis=[1]),
    ]
    s = tf.reduce_sum(h, axis=1)
    parts += [
        tf.cast(tf.math.greater(s, 0.0), "float32"),
        tf.cast(s <= 0.5, "float32"),
        tf.math.sqrt(tf.math.square(s) + 1.0),
        tf.math.exp(-tf.abs(s)),
        tf.math.log(tf.abs(s) + 1.0),
        s ** 2,
        tf.math.minimum(s, -0.2),
    ]
    return k.Model(x, L.Dense(4, name="head")(tf.concat(parts, axis=-1)))


def tfop_erf(k):
    L = k.layers
    x = k.Input(shape=(4,))
    return k.Model(x, L.Dense(2, name="head")(tf.math.erf(L.Dense(3)(x))))


def tfop_concat_samples(k):
    L = k.layers
    x = k.Input(shape=(4,))
    h = L.Dense(3)(x)
    return k.Model(x, L.Dense(2, name="head")(tf.concat([h, h], axis=0)))


def tfop_reduce_all(k):
    L = k.layers
    x = k.Input(shape=(4,))
    h = L.Dense(3)(x)
    return k.Model(x, h * tf.math.reduce_sum(h))


def tfop_slice_samples(k):
    L = k.layers
    x = k.Input(shape=(4,))
    return k.Model(x, L.Dense(2, name="head")(L.Dense(3)(x)[1:]))


MODELS = {"tfop_mixed": tfop_mixed, "tfop_reduce": tfop_reduce}
REFUSED = {"tfop_erf": tfop_erf, "tfop_concat_samples": tfop_concat_samples, "tfop_reduce_all": tfop_reduce_all,
           "tfop_slice_samples": tfop_slice_samples}
FILES = ["inference/keras2/%s.h5" % name for name in MODELS]


def save_all(out, only=None):
    """Each model built, randomized with its seed (`FIRST_SEED` + its index) and saved by tf_keras under
    keras2/; with `only`, just that model."""
    import tf_keras
    os.makedirs(os.path.join(out, "keras2"), exist_ok=True)
    for index, (name, make) in enumerate(list(MODELS.items()) + list(REFUSED.items())):
        if only and name != only:
            continue
        tf_keras.backend.clear_session()  # layer names from 1 in each model: tf.concat, not tf.concat_2
        tf_keras.utils.set_random_seed(FIRST_SEED + index)
        model = make(tf_keras)
        randomize(model, FIRST_SEED + index)
        model.save(os.path.join(out, "keras2", name + ".h5"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="fixtures/inference")
    parser.add_argument("--only", help="make only this model")
    args = parser.parse_args()
    save_all(args.out, only=args.only)


if __name__ == "__main__":
    main()
