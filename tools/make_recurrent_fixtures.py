#!/usr/bin/env python3
"""Generate the recurrent models kprune's forward pass is tested on: small LSTM, GRU and SimpleRNN models,
Bidirectional and TimeDistributed wrappers and masks, saved by tf_keras 2.21 (`.h5`) and Keras 3.15
(`.keras`) with seeded random weights (saved as tools/make_inference_fixtures.py saves its models).

Run from the repository root with the project venv (tools/make_predictions.py then records Keras's own
predictions for them, with trailing padding in the inputs of the masked models):

    .venv/bin/python tools/make_recurrent_fixtures.py [--out fixtures/inference]

Models:
- `lstm_classifier`: Embedding(mask_zero=True) + LSTM + Dense softmax over padded integer sequences;
- `gru_tagger`: Embedding(mask_zero=True) + Bidirectional GRU (return_sequences) + TimeDistributed Dense
  softmax, one tag distribution per token;
- `recurrent`: LSTM, GRU (reset_after true and false) and SimpleRNN with return_sequences, return_state,
  go_backwards, other activations, no bias, stacked, and a layer's state tensors used separately;
- `bidirectional`: Bidirectional LSTM, GRU and SimpleRNN with every merge mode (None: two outputs) and
  return_state;
- `masking`: a Masking layer whose mask a Dense, Dropout and TimeDistributed layer carry to LSTM, GRU and
  SimpleRNN layers (zero_output_for_mask both ways, go_backwards) and to a Bidirectional layer;
- `time_distributed`: TimeDistributed Conv2D, Flatten and Dense over frames, then an LSTM; a Dense layer
  called twice (shared);
- `conv_lstm`: a ConvLSTM1D, which the forward pass refuses (no predictions are recorded for it).
"""

import argparse
import os
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import tfsetup  # noqa: E402,F401
import numpy as np  # noqa: E402

from make_inference_fixtures import save_all  # noqa: E402

# The models whose inputs end in padding (make_predictions.py zeroes their trailing steps).
PADDED = ("lstm_classifier", "gru_tagger", "masking")


def lstm_classifier(k):
    L = k.layers
    x = k.Input(shape=(10,), dtype="int32")
    h = L.Embedding(20, 6, mask_zero=True)(x)
    h = L.LSTM(8)(h)
    return k.Model(x, L.Dense(3, activation="softmax")(h))


def gru_tagger(k):
    L = k.layers
    x = k.Input(shape=(10,), dtype="int32")
    h = L.Embedding(20, 6, mask_zero=True)(x)
    h = L.Bidirectional(L.GRU(5, return_sequences=True))(h)
    return k.Model(x, L.TimeDistributed(L.Dense(4, activation="softmax"))(h))


def recurrent(k):
    L = k.layers
    x = k.Input(shape=(7, 3))
    sequences = L.LSTM(4, return_sequences=True)(x)
    out, h, c = L.LSTM(4, return_state=True, go_backwards=True)(x)
    gru_after = L.GRU(4, reset_after=True, return_sequences=True, go_backwards=True)(x)
    gru_before, gru_state = L.GRU(4, reset_after=False, return_state=True, recurrent_activation="hard_sigmoid")(x)
    plain = L.GRU(3, reset_after=False, use_bias=False, return_sequences=True)(x)
    simple = L.SimpleRNN(4, return_sequences=True, go_backwards=True, activation="relu")(x)
    simple_out, simple_state = L.SimpleRNN(3, return_state=True, use_bias=False)(x)
    odd = L.LSTM(3, activation="relu", recurrent_activation="hard_sigmoid", use_bias=False, unroll=True)(x)
    stacked = L.LSTM(5, return_sequences=True)(x)
    stacked = L.GRU(4, return_sequences=True)(stacked)
    stacked = L.SimpleRNN(3)(stacked)
    flat = [L.Flatten()(s) for s in (sequences, gru_after, plain, simple)]
    states = L.Concatenate()([out, h, L.Dense(2)(c), gru_before, gru_state, simple_out, simple_state, odd, stacked])
    return k.Model(x, [L.Concatenate(name="sequence_outputs")(flat), L.Dense(5, name="state_outputs")(states)])


def bidirectional(k):
    L = k.layers
    x = k.Input(shape=(6, 3))
    branches = []
    for mode in ("concat", "sum", "mul", "ave"):
        branches.append(L.Flatten()(L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode=mode)(x)))
    forward, backward = L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode=None)(x)
    branches += [L.Flatten()(forward), L.Flatten()(backward)]
    last, fh, fc, bh, bc = L.Bidirectional(L.LSTM(3, return_state=True))(x)
    branches += [last, fh, fc, bh, bc]
    f, b, fs, bs = L.Bidirectional(L.SimpleRNN(2, return_state=True), merge_mode=None)(x)
    branches += [f, b, fs, bs]
    branches.append(L.Bidirectional(L.GRU(3, reset_after=False), merge_mode="sum")(x))
    return k.Model(x, L.Concatenate()(branches))


def masking(k):
    L = k.layers
    x = k.Input(shape=(8, 3))
    h = L.Masking(mask_value=0.0)(x)
    h = L.Dense(4, activation="tanh")(h)
    h = L.Dropout(0.3)(h)
    a = L.LSTM(4, return_sequences=True)(h)
    a = L.TimeDistributed(L.Dense(3))(a)
    a = L.GRU(3, go_backwards=True)(a)
    b = L.SimpleRNN(3, return_sequences=True, zero_output_for_mask=True)(h)
    c, c_state = L.GRU(3, return_sequences=True, return_state=True)(h)
    d = L.Bidirectional(L.LSTM(2, return_sequences=True), merge_mode="concat")(h)
    e = L.Bidirectional(L.GRU(2), merge_mode="ave")(h)
    return k.Model(x, L.Concatenate()([a, L.Flatten()(b), L.Flatten()(c), c_state, L.Flatten()(d), e]))


def time_distributed(k):
    L = k.layers
    x = k.Input(shape=(4, 5, 5, 2))
    h = L.TimeDistributed(L.Conv2D(3, 3, activation="relu"))(x)
    h = L.TimeDistributed(L.Flatten())(h)
    h = L.TimeDistributed(L.Dense(6))(h)
    h = L.LSTM(4)(h)
    shared = L.Dense(4, activation="tanh")
    return k.Model(x, L.Dense(2)(L.Concatenate()([shared(h), shared(L.Dense(4)(h))])))


def conv_lstm(k):
    L = k.layers
    x = k.Input(shape=(4, 6, 2))
    return k.Model(x, L.Dense(2)(L.Flatten()(L.ConvLSTM1D(2, 3)(x))))


MODELS = {"lstm_classifier": lstm_classifier, "gru_tagger": gru_tagger, "recurrent": recurrent,
          "bidirectional": bidirectional, "masking": masking, "time_distributed": time_distributed}
# Models kprune's forward pass refuses (a recurrent layer it does not run), for the tests of its refusal.
REFUSED = {"conv_lstm": conv_lstm}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="fixtures/inference")
    args = parser.parse_args()
    save_all(MODELS, args.out, first_seed=100)
    save_all(REFUSED, args.out, first_seed=200)


if __name__ == "__main__":
    main()
