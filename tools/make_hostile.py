#!/usr/bin/env python3
"""Generate kprune's hostile input files: small, crafted with h5py and numpy (not Keras output), each named
for the attack it carries. kprune must refuse every one with a one-line error and write nothing.

Run from the repository root with the project venv:

    .venv/bin/python tools/make_hostile.py [--out fixtures/hostile]

Model files start from fixtures/keras2/sequential.h5 (final kernel /model_weights/dense_1/dense_1/kernel:0,
16x4, bias .../bias:0, Adam slots under /optimizer_weights/Adam/{m,v}/dense_1/kernel:0). External raw
storage and external links point at `hostile_victim.bin`, a file in the same directory that must never change.

One file in that directory is not made here: `hostile_structure_loop.h5`, kept as tools/fuzz.py found it
(seed 9, inference case 16: a mutated copy of fixtures/inference/keras2/image.h5 whose global heap of
weight names, from byte 16087, is overwritten), on which libhdf5 loops for ever reading the file's
structure.

Calibration arrays named twice: `hostile_npz_duplicate_member.npz` holds `x.npy` twice (4 x 16 float32 each, so
either fits the final layer of fixtures/keras2/trailing_softmax.h5) and `hostile_npy_duplicate_key.npy` gives
`descr` twice (`<f4`, then `<f8`, as numpy would read it; 4 x 8, the inputs of fixtures/keras2/sequential.h5).

Crafted weights for the forward pass start from fixtures/inference/keras2/{image,recurrent,embedding}.h5 (inputs
in fixtures/predict/inference_keras2_*_h5.x.npy), each with one weight's shape or contents changed so that it
disagrees with its layer's config or its input (`hostile_weight_*.h5`; see WEIGHT_CASES).
"""

import argparse
import os
import shutil
import warnings
import zipfile

import h5py
import numpy as np

SOURCE = "fixtures/keras2/sequential.h5"
KERNEL = "/model_weights/dense_1/dense_1/kernel:0"
BIAS = "/model_weights/dense_1/dense_1/bias:0"
SLOT = "/optimizer_weights/Adam/m/dense_1/kernel:0"
VICTIM = "hostile_victim.bin"


def copy_model(out, name):
    path = os.path.join(out, name)
    shutil.copyfile(SOURCE, path)
    return path


def replace_with_external_storage(path, dataset):
    """Moves `dataset`'s bytes to the victim file via H5Pset_external (h5py's `external=`)."""
    with h5py.File(path, "r+") as f:
        values = f[dataset][()]
        del f[dataset]
        f.create_dataset(dataset, shape=values.shape, dtype=values.dtype,
                         external=[(VICTIM, 0, values.nbytes)])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="fixtures/hostile")
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    # The victim: bytes that external storage and links point at. Tests check it never changes.
    with open(os.path.join(out, VICTIM), "wb") as f:
        f.write(np.arange(1, 65, dtype="<f4").tobytes())

    for name, dataset in [("hostile_kernel_external_storage.h5", KERNEL),
                          ("hostile_bias_external_storage.h5", BIAS),
                          ("hostile_slot_external_storage.h5", SLOT)]:
        replace_with_external_storage(copy_model(out, name), dataset)

    path = copy_model(out, "hostile_kernel_virtual.h5")
    with h5py.File(path, "r+") as f:
        values = f[KERNEL][()]
        f["/elsewhere"] = values
        del f[KERNEL]
        layout = h5py.VirtualLayout(shape=values.shape, dtype=values.dtype)
        layout[:] = h5py.VirtualSource(f["/elsewhere"])
        f.create_virtual_dataset(KERNEL, layout)

    path = copy_model(out, "hostile_kernel_external_link.h5")
    with h5py.File(path, "r+") as f:
        del f[KERNEL]
        f[KERNEL] = h5py.ExternalLink(os.path.abspath(os.path.join(out, "hostile_victim.h5")), "/kernel")
    with h5py.File(os.path.join(out, "hostile_victim.h5"), "w") as f:
        f["/kernel"] = np.arange(1, 65, dtype="<f4").reshape(16, 4)

    path = copy_model(out, "hostile_layer_group_external_link.h5")
    with h5py.File(path, "r+") as f:
        del f["/model_weights/dense_1/dense_1"]
        f["/model_weights/dense_1/dense_1"] = h5py.ExternalLink("hostile_victim.h5", "/")

    # A kernel declaring 2^20 x 2^20 float32 (4 TiB) in chunks never written.
    path = copy_model(out, "hostile_kernel_unallocated.h5")
    with h5py.File(path, "r+") as f:
        del f[KERNEL]
        f.create_dataset(KERNEL, shape=(1 << 20, 1 << 20), dtype="<f4", chunks=(1024, 1024))

    # Keras 3 weights file with 200 nested models under /layers, each holding the next.
    with h5py.File(os.path.join(out, "hostile_deep_groups.weights.h5"), "w") as f:
        group = f.create_group("layers")
        for _ in range(200):
            group = group.create_group("sequential").create_group("layers")
        group.create_group("dense/vars")["0"] = np.ones((4, 2), dtype="<f4")

    # Calibration features.
    features = np.arange(64, dtype="<f4").reshape(4, 16)
    with h5py.File(os.path.join(out, "hostile_features.h5"), "w") as f:
        f["/ok"] = features
        f.create_dataset("/external_storage", shape=(4, 16), dtype="<f4", external=[(VICTIM, 0, 256)])
        layout = h5py.VirtualLayout(shape=(4, 16), dtype="<f4")
        layout[:] = h5py.VirtualSource(f["/ok"])
        f.create_virtual_dataset("/virtual", layout)
        f["/external_link"] = h5py.ExternalLink("hostile_victim.h5", "/kernel")
        f.create_dataset("/rows_2e40", shape=(1 << 40, 16), dtype="<f4", chunks=(1024, 16))
        f.create_dataset("/count_overflow", shape=(1 << 40, 1 << 40, 1 << 10), dtype="<f4", chunks=(1, 1, 16))

    # .npy: a 100-byte file whose version-2 header claims 4 GiB - 1 bytes.
    with open(os.path.join(out, "hostile_header_4gib.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x02\x00" + (0xFFFFFFFF).to_bytes(4, "little") + b" " * 88)
    # .npy: a shape whose element count overflows 64 bits.
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }"
    header = header.ljust(118) + "\n"
    with open(os.path.join(out, "hostile_shape_overflow.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 64)
    # Labels that do not fit an Int once read as float32.
    np.save(os.path.join(out, "hostile_labels_1e20.npy"), np.array([0, 1, 1e20, 2], dtype="<f8"))
    np.save(os.path.join(out, "hostile_labels_int64_max.npy"),
            np.array([0, 1, np.iinfo(np.int64).max, 2], dtype="<i8"))
    np.save(os.path.join(out, "hostile_labels_uint64_max.npy"),
            np.array([0, 1, np.iinfo(np.uint64).max, 2], dtype="<u8"))

    # .keras: the real archive plus a 256 MiB member of zeros, deflated to about 0.25 MB.
    path = os.path.join(out, "hostile_big_asset.keras")
    shutil.copyfile("fixtures/keras3/sequential.keras", path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("assets/big.bin", "w", force_zip64=True) as member:
            block = bytes(1 << 20)
            for _ in range(256):
                member.write(block)
    # .keras archives whose inner weights file points elsewhere.
    _rewrite_keras_weights(out, "hostile_kernel_external_link.keras", _external_link_kernel)
    _rewrite_keras_weights(out, "hostile_kernel_external_storage.keras", _external_storage_kernel)
    # .npz: a stored member and a deflated one of 256 MiB of zeros (about 0.25 MB), with 64 columns.
    big = np.lib.format.open_memmap(os.path.join(out, "big_features.npy.tmp"), mode="w+", dtype="<f4",
                                    shape=((256 << 20) // 256, 64))
    del big
    path = os.path.join(out, "hostile_big_member.npz")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(os.path.join(out, "big_features.npy.tmp"), "big.npy")
        archive.writestr(zipfile.ZipInfo("small.npy"), _npy_bytes(np.arange(64, dtype="<f4").reshape(4, 16)))
    os.remove(os.path.join(out, "big_features.npy.tmp"))
    make_duplicate_names(out)
    make_crafted_weights(out)


def make_duplicate_names(out):
    """An .npz holding one array twice, and an .npy header giving one key twice."""
    features = np.arange(64, dtype="<f4").reshape(4, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name it is asked to write
        with zipfile.ZipFile(os.path.join(out, "hostile_npz_duplicate_member.npz"), "w") as archive:
            archive.writestr("x.npy", _npy_bytes(features))
            archive.writestr("x.npy", _npy_bytes(-features))
    # Enough bytes for the float64 reading numpy takes (the last 'descr'), so only the duplicate is wrong.
    header = "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (4, 8), }"
    header = header.ljust(117) + "\n"
    with open(os.path.join(out, "hostile_npy_duplicate_key.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
                + np.linspace(-1, 1, 32, dtype="<f8").tobytes())


IMAGE = "fixtures/inference/keras2/image.h5"
RECURRENT = "fixtures/inference/keras2/recurrent.h5"
EMBEDDING = "fixtures/inference/keras2/embedding.h5"


def _weight(layer, name):
    return "/model_weights/%s/%s/%s:0" % (layer, layer, name)


def _replace(path, dataset, values):
    """Replaces `dataset` with `values` (an array), keeping its name in the layer's weight_names."""
    with h5py.File(path, "r+") as f:
        del f[dataset]
        f[dataset] = np.asarray(values, dtype="<f4")


def _shrink(layer, name, shape):
    """An edit giving weight `name` of `layer` the leading values of its own, in `shape` (zeros past its end)."""
    def edit(path):
        with h5py.File(path, "r") as f:
            values = f[_weight(layer, name)][()].ravel()
        count = int(np.prod(shape))
        _replace(path, _weight(layer, name), np.resize(np.concatenate([values, np.zeros(count)]), count).reshape(shape))
    return edit


def _all(*edits):
    """An edit making each of `edits` in turn."""
    def edit(path):
        for one in edits:
            one(path)
    return edit


def _extra_weight(layer):
    """An edit adding a third weight, `extra:0`, to a Dense layer's group and its weight_names."""
    def edit(path):
        with h5py.File(path, "r+") as f:
            group = f["/model_weights/%s" % layer]
            group["%s/extra:0" % layer] = np.ones(5, dtype="<f4")
            names = [n if isinstance(n, bytes) else n.encode() for n in group.attrs["weight_names"]]
            group.attrs["weight_names"] = np.array(names + [b"%s/extra:0" % layer.encode()])  # fixed-length, as Keras
    return edit


def _huge_recurrent_kernel(path):
    """lstm_2's recurrent kernel declared as 2^40 x 16 float32 (64 TiB) in gzip chunks, one chunk written."""
    dataset = _weight("lstm_2", "lstm_cell/recurrent_kernel")
    with h5py.File(path, "r+") as f:
        del f[dataset]
        huge = f.create_dataset(dataset, shape=(1 << 40, 16), dtype="<f4", chunks=(1024, 16), compression="gzip")
        huge[0:1024] = 0.5


# (file, source model, edit): each file's one weight disagrees with its layer's config.
WEIGHT_CASES = [
    ("hostile_weight_dense_bias_short.h5", IMAGE, _shrink("dense_1", "bias", (4,))),
    ("hostile_weight_dense_bias_long.h5", IMAGE, _shrink("dense_1", "bias", (6,))),
    ("hostile_weight_dense_kernel_no_inputs.h5", IMAGE, _shrink("dense_1", "kernel", (0, 5))),
    ("hostile_weight_dense_extra.h5", IMAGE, _extra_weight("dense_1")),
    ("hostile_weight_batchnorm_gamma_short.h5", IMAGE, _shrink("batch_normalization", "gamma", (3,))),
    ("hostile_weight_layernorm_gamma_short.h5", IMAGE, _shrink("layer_normalization", "gamma", (3,))),
    # One length, but not the features': found when the layer runs (batch_normalization is folded into conv2d).
    ("hostile_weight_batchnorm_features_short.h5", IMAGE,
     _all(*[_shrink("batch_normalization", name, (3,)) for name in ["gamma", "beta", "moving_mean", "moving_variance"]])),
    ("hostile_weight_layernorm_features_short.h5", IMAGE,
     _all(_shrink("layer_normalization", "gamma", (3,)), _shrink("layer_normalization", "beta", (3,)))),
    ("hostile_weight_conv_kernel_3d.h5", IMAGE, _shrink("conv2d", "kernel", (9, 3, 4))),
    ("hostile_weight_lstm_recurrent_gates.h5", RECURRENT, _shrink("lstm_2", "lstm_cell/recurrent_kernel", (4, 12))),
    ("hostile_weight_gru_kernel_columns.h5", RECURRENT, _shrink("gru_2", "gru_cell/kernel", (3, 9))),
    ("hostile_weight_lstm_recurrent_2e40.h5", RECURRENT, _huge_recurrent_kernel),
    ("hostile_weight_embedding_empty.h5", EMBEDDING, _shrink("embedding", "embeddings", (0, 4))),
    ("hostile_weight_embedding_1d.h5", EMBEDDING, _shrink("embedding", "embeddings", (80,))),
    # bias_axes 'de' of abc,cde->abde: the bias is [2, 3], the kernel's d and e.
    ("hostile_weight_einsum_bias_shape.h5", EMBEDDING, _shrink("einsum_dense", "bias", (2, 2))),
]


def make_crafted_weights(out):
    for name, source, edit in WEIGHT_CASES:
        path = os.path.join(out, name)
        shutil.copyfile(source, path)
        edit(path)


def _rewrite_keras_weights(out, name, edit):
    """Copies fixtures/keras3/sequential.keras to `name` with its model.weights.h5 changed by `edit(h5file)`."""
    source = "fixtures/keras3/sequential.keras"
    weights = os.path.join(out, name + ".weights.tmp")
    with zipfile.ZipFile(source) as archive:
        with open(weights, "wb") as f:
            f.write(archive.read("model.weights.h5"))
        with h5py.File(weights, "r+") as f:
            edit(f)
        with zipfile.ZipFile(os.path.join(out, name), "w") as result:
            for info in archive.infolist():
                if info.filename == "model.weights.h5":
                    with open(weights, "rb") as f:
                        result.writestr(info, f.read())
                else:
                    result.writestr(info, archive.read(info.filename))
    os.remove(weights)


def _external_link_kernel(f):
    del f["/layers/dense_1/vars/0"]
    f["/layers/dense_1/vars/0"] = h5py.ExternalLink(os.path.abspath("fixtures/hostile/hostile_victim.h5"), "/kernel")


def _external_storage_kernel(f):
    values = f["/layers/dense_1/vars/0"][()]
    del f["/layers/dense_1/vars/0"]
    f.create_dataset("/layers/dense_1/vars/0", shape=values.shape, dtype=values.dtype,
                     external=[(VICTIM, 0, values.nbytes)])


def _npy_bytes(array):
    import io
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


if __name__ == "__main__":
    main()
