"""TensorFlow set up for reproducible fixtures and benchmarks: import this module before TensorFlow or Keras.

It silences TensorFlow's start-up logging, selects the TensorFlow backend for Keras 3, makes TensorFlow's ops
deterministic and runs them on one thread, so that a seeded script makes the same model every time.

Every tool that uses TensorFlow or Keras imports it first, directly or through kerasload.py. A benchmark
that keeps its own process small (bench_stream.py, bench_finetune.py, bench_calibration_memory.py) imports
it in the child scripts that build its models instead. make_fixtures_keras20.py runs TensorFlow 1.5, which
has none of these calls, and sets up its own sessions.
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
