"""Helpers shared by kprune's fixture generators: find a weight inside a Keras
file by its values and describe it for fixtures/manifest.json.

Kept compatible with Python 3.6 and h5py 2.7 so that make_fixtures_keras20.py
can use it from the Keras 2.0 environment too.
"""

import io
import json
import os
import zipfile

import h5py
import numpy as np

# Groups that hold optimizer state, per format.
OPTIMIZER_ROOTS = ("optimizer_weights", "optimizer")


def open_weights_h5(path):
    """Open the HDF5 weights of a Keras file read-only.

    For a .keras zip this is the inner model.weights.h5, read into memory.
    """
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as archive:
            data = archive.read("model.weights.h5")
        return h5py.File(io.BytesIO(data), "r")
    return h5py.File(path, "r")


def zip_entries(path):
    """List a .keras zip's entries with their compression and size."""
    with zipfile.ZipFile(path) as archive:
        return [
            {
                "name": info.filename,
                "compression": {zipfile.ZIP_STORED: "stored",
                                zipfile.ZIP_DEFLATED: "deflated"}.get(
                                    info.compress_type, str(info.compress_type)),
                "size": info.file_size,
            }
            for info in archive.infolist()
        ]


def all_datasets(h5file):
    """Map every dataset's absolute path to the dataset, in visit order."""
    found = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            found.append(("/" + name, obj))

    h5file.visititems(visit)
    return found


def is_optimizer_path(path):
    return path.split("/")[1] in OPTIMIZER_ROOTS


def find_by_value(h5file, value, optimizer):
    """Return the one dataset path whose contents equal `value` exactly.

    Searches either the optimizer part of the file or the rest of it.
    Raises if no dataset or more than one dataset matches, so a manifest is
    never written from a guess.
    """
    value = np.asarray(value)
    matches = []
    for path, dataset in all_datasets(h5file):
        if is_optimizer_path(path) != optimizer:
            continue
        if dataset.shape != value.shape or dataset.dtype != value.dtype:
            continue
        stored = dataset[()]
        if np.array_equal(stored, value) or (
                stored.dtype.kind == "f" and np.array_equal(
                    np.isnan(stored), np.isnan(value))
                and np.array_equal(np.nan_to_num(stored), np.nan_to_num(value))):
            matches.append(path)
    if len(matches) != 1:
        raise RuntimeError("expected one dataset equal to the weight, found %r in %s"
                           % (matches, h5file.filename))
    return matches[0]


def decode(value):
    """Turn an HDF5 string attribute (bytes or str, scalar or array) into str(s)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [decode(v) for v in value.tolist()]
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def attribute_kind(obj, name):
    """Describe how an attribute is stored, e.g. 'vlen-str scalar' or 'fixed-str[3]'."""
    attr = h5py.h5a.open(obj.id, name.encode("utf-8"))  # AttributeManager.get_id is missing in h5py 2.7
    dtype = attr.dtype
    space = attr.shape
    shape = "scalar" if space == () else "array%s" % (list(space),)
    if dtype.kind == "S":
        return "fixed-str(%d) %s" % (dtype.itemsize, shape)
    if dtype.kind == "O" or h5py.check_dtype(vlen=dtype) in (str, bytes):
        return "vlen-str %s" % shape
    return "%s %s" % (dtype.name, shape)


def describe_kernel_location(h5file, kernel_path):
    """Facts about the group that holds the kernel: its weight_names or name attribute."""
    facts = {}
    parts = kernel_path.strip("/").split("/")
    # Walk up from the dataset to the first group carrying weight_names or name.
    for depth in range(len(parts) - 1, 0, -1):
        group_path = "/" + "/".join(parts[:depth])
        group = h5file[group_path]
        if "weight_names" in group.attrs:
            facts["layer_group"] = group_path
            facts["weight_names"] = decode(group.attrs["weight_names"])
            facts["weight_names_storage"] = attribute_kind(group, "weight_names")
            break
        if "name" in group.attrs:
            facts["layer_group"] = group_path
            facts["layer_group_name_attr"] = decode(group.attrs["name"])
            break
    return facts


def optimizer_weight_names(h5file):
    if "optimizer_weights" in h5file and "weight_names" in h5file["optimizer_weights"].attrs:
        return decode(h5file["optimizer_weights"].attrs["weight_names"])
    return None


def write_manifest(path, entries):
    with open(path, "w") as handle:
        json.dump({"fixtures": entries}, handle, indent=2, sort_keys=False)
        handle.write("\n")


def relative(path, root):
    return os.path.relpath(path, root).replace(os.sep, "/")
