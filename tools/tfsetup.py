"""TensorFlow set up for reproducible fixtures and benchmarks: import this module before TensorFlow or Keras.

It silences TensorFlow's start-up logging, selects the TensorFlow backend for Keras 3, makes TensorFlow's ops
deterministic and runs them on one thread, so that a seeded script makes the same model every time.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")

import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.experimental.enable_op_determinism()
