"""Helpers shared by the calibration fixtures' tools: make_calibration.py, tfmot_baseline.py and
bench_quality.py.

fixtures/calibration/manifest.json describes each dataset. The models take scikit-learn's raw features
(they standardise inside, with a Normalization layer), and the raw features are not stored: they come from
scikit-learn's bundled copy of the dataset, picked by the row indices in <dataset>/split.npz and checked
against the SHA-256 the manifest records.
"""

import hashlib
import json
import os
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                                    "calibration"))
SPARSITIES = (0.8, 0.9, 0.95)


def load_manifest(root=ROOT):
    with open(os.path.join(root, "manifest.json")) as handle:
        return json.load(handle)


def find_dataset(manifest, name):
    for entry in manifest["datasets"]:
        if entry["name"] == name:
            return entry
    raise KeyError("no dataset %r in the calibration manifest (has %s)"
                   % (name, ", ".join(e["name"] for e in manifest["datasets"])))


def sklearn_arrays(loader):
    """The raw features and targets of one of scikit-learn's bundled datasets (no download)."""
    import sklearn.datasets

    x, y = getattr(sklearn.datasets, loader)(return_X_y=True)
    return np.ascontiguousarray(x, dtype=np.float64), np.ascontiguousarray(y, dtype=np.int64)


def array_sha256(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def raw_inputs(entry, root=ROOT):
    """(x_train, y_train, x_test, y_test): the model's raw float32 inputs and the integer labels.

    Raises if scikit-learn's copy of the dataset is not the one the fixtures were made from.
    """
    inputs = entry["inputs"]
    x, y = sklearn_arrays(inputs["loader"])
    if array_sha256(x) != inputs["x_sha256"] or array_sha256(y) != inputs["y_sha256"]:
        raise RuntimeError("sklearn.datasets.%s differs from the copy the calibration fixtures were made from"
                           % inputs["loader"])
    with np.load(os.path.join(root, inputs["split"])) as split:
        train, test = split["train"], split["test"]
    return x[train].astype(np.float32), y[train], x[test].astype(np.float32), y[test]


def magnitude_prune(kernel, zeros):
    """Zero the `zeros` entries of smallest magnitude, ties lowest row-major index first (kprune's rule)."""
    flat = np.array(kernel, copy=True).reshape(-1)
    order = np.argsort(np.abs(flat), kind="stable")
    flat[order[:zeros]] = 0
    return flat.reshape(kernel.shape)


def predictions(outputs, activation):
    """Class predictions from a layer's outputs: argmax, or > 0.5 for one sigmoid unit."""
    outputs = np.asarray(outputs)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        threshold = 0.5 if activation == "sigmoid" else 0.0
        return (outputs[:, 0] > threshold).astype(np.int64)
    return outputs.argmax(axis=1)


def head_accuracy(h, kernel, bias, labels, activation):
    """Accuracy of the final layer alone applied to its inputs h (numpy, float64)."""
    logits = h.astype(np.float64) @ kernel.astype(np.float64) + bias.astype(np.float64)
    # The activation is monotonic: argmax and the sigmoid's 0.5 (logit 0) need only the logits.
    return float(np.mean(predictions(logits, "linear") == labels))


def process_seconds():
    """Wall seconds since this process started (Linux: from /proc, 10 ms resolution)."""
    try:
        with open("/proc/self/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat(5), counted after ")"
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return None
