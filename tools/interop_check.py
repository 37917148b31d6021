#!/usr/bin/env python3
"""Check kprune's output against real Keras, fixture by fixture.

    .venv/bin/python tools/interop_check.py path/to/kprune [--fixtures fixtures] [--only SUBSTRING]

For each Keras fixture in fixtures/manifest.json (malformed files and files
with NaN kernels are skipped) it converts a copy with

    kprune convert COPY --sparsity 0.8 -o OUT --json [--layer NAME]

and then checks that:
  - kprune exits 0, leaves its input untouched and prints one JSON object
    with the documented keys, zeros_after == target_zeros;
  - the Keras that wrote the file loads OUT (weights-only files into the
    model rebuilt from the architecture file), predicts finite values, and
    its final-layer kernel has exactly round_half_away_from_zero(0.8 * size)
    zeros;
  - every HDF5 object, attribute (root included), dataset layout and value
    of OUT equals the input's, except the final kernel and its optimizer
    slots (for .keras: the inner model.weights.h5, and every other zip entry
    byte for byte);
  - the kernel kept its input values wherever it is not zero, and the slots
    are zero where the kernel newly became zero and unchanged elsewhere;
  - a file with an HDF5 user block (user_block_bytes) keeps the block byte for byte.

With --fine-tune, the report must name the activation the manifest gives as
output_activation, and a fixture with an unfollowable_layer must be refused
in one line naming that layer, with no output written.

Prints one PASS/FAIL line per fixture and ends with `interop: N passed, M failed`;
exits 1 if any failed.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfsetup  # noqa: E402,F401  (first: TensorFlow's environment and determinism)

import h5py  # noqa: E402
import numpy as np  # noqa: E402

import fixturelib  # noqa: E402
import kerasload  # noqa: E402
import pruning  # noqa: E402

JSON_KEYS = ("input", "output", "layer", "kernel_shape", "dtype", "size", "zeros_before",
             "zeros_after", "target_zeros", "method", "seconds")
WEIGHTS_ENTRY = "model.weights.h5"


class Problems(list):
    def check(self, condition, message):
        if not condition:
            self.append(message)
        return condition


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- HDF5 snapshot


def attribute_facts(obj):
    facts = {}
    for name in obj.attrs:
        attr = obj.attrs.get_id(name)
        value = obj.attrs[name]
        facts[name] = (str(attr.dtype), repr(h5py.check_string_dtype(attr.dtype)), attr.shape,
                       repr(np.asarray(value).tolist()))
    return facts


def dataset_facts(dataset):
    plist = dataset.id.get_create_plist()
    return {
        "dtype": (str(dataset.dtype), repr(h5py.check_string_dtype(dataset.dtype))),
        "shape": dataset.shape,
        "maxshape": dataset.maxshape,
        "layout": plist.get_layout(),
        "chunks": dataset.chunks,
        "compression": (dataset.compression, dataset.compression_opts),
        "filters": plist.get_nfilters(),
        "shuffle": dataset.shuffle,
        "fletcher32": dataset.fletcher32,
        "fillvalue": repr(dataset.fillvalue),
    }


def snapshot(h5file):
    """Every object of the file with its kind, attributes and (for datasets) layout.

    Walks links one by one so soft and external links show up as such.
    """
    objects = {"/": ("group", attribute_facts(h5file), None)}

    def walk(group, prefix):
        for name in group:
            path = prefix + name
            link = group.get(name, getlink=True)
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                objects[path] = ("link", repr((type(link).__name__, getattr(link, "path", None),
                                               getattr(link, "filename", None))), None)
                continue
            obj = group[name]
            if isinstance(obj, h5py.Group):
                objects[path] = ("group", attribute_facts(obj), None)
                walk(obj, path + "/")
            elif isinstance(obj, h5py.Dataset):
                objects[path] = ("dataset", attribute_facts(obj), dataset_facts(obj))
            else:
                objects[path] = ("datatype", attribute_facts(obj), str(obj.dtype))

    walk(h5file, "/")
    return objects


def same_values(a, b):
    if a.dtype.kind == "O" or b.dtype.kind == "O":
        return a.shape == b.shape and repr(a.tolist()) == repr(b.tolist())
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def changed_keys(a, b):
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def compare_files(before, after, changeable, problems):
    """Everything equal except the values of the datasets in `changeable`."""
    a, b = snapshot(before), snapshot(after)
    problems.check(list(a) == list(b), "objects differ: only in input %s, only in output %s" % (
        sorted(set(a) - set(b))[:5], sorted(set(b) - set(a))[:5]))
    for path in a:
        if path not in b:
            continue
        (kind, attrs, facts), (kind_b, attrs_b, facts_b) = a[path], b[path]
        if not problems.check(kind == kind_b, "%s became a %s" % (path, kind_b)):
            continue
        problems.check(list(attrs) == list(attrs_b) and attrs == attrs_b,
                       "%s %s: attributes %s changed" % (kind, path, changed_keys(attrs, attrs_b)))
        if kind == "dataset":
            problems.check(facts == facts_b, "dataset %s: %s changed" % (path, changed_keys(facts, facts_b)))
            if path not in changeable and facts == facts_b:
                problems.check(same_values(before[path][()], after[path][()]), "dataset %s changed" % path)
        else:
            problems.check(facts == facts_b, "%s %s changed" % (kind, path))


# ---------------------------------------------------------------- one fixture


def run_kprune(binary, entry, copy, out, sparsity, fine_tune=None, features=None):
    command = [binary, "convert", copy, "--sparsity", str(sparsity), "-o", out, "--json"]
    if entry["needs_layer"]:
        command += ["--layer", entry["final_layer"]]
    if fine_tune:
        command += ["--features", features, "--method", fine_tune, "--epochs", "10", "--seed", "0"]
    return command, subprocess.run(command, capture_output=True, text=True, timeout=300)


# Layer classes kprune fine-tunes (None: a weights-only file, taken as Dense when its kernel is 2-D).
FINE_TUNED_CLASSES = (None, "Dense", "Conv1D", "Conv2D", "Conv3D", "SeparableConv1D", "SeparableConv2D")


def write_features(entry, workdir):
    """Seeded inputs for the final layer, one row per sample (for a convolution, one patch: kernel positions
    times input channels): any inputs of the right width exercise the fine-tune's write-back, which is what
    Keras checks here (quality is tools/bench_quality.py's job)."""
    rows, fan_in = 128, int(np.prod(entry["kernel_shape"][:-1]))
    path = os.path.join(workdir, "features.npy")
    np.save(path, np.random.default_rng(0).standard_normal((rows, fan_in)).astype("float32"))
    return path


def check_json(stdout, entry, copy, out, target, zeros_before, problems):
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not problems.check(len(lines) == 1, "expected one JSON line on stdout, got %d" % len(lines)):
        return None
    try:
        record = json.loads(lines[0])
    except ValueError as error:
        problems.append("stdout is not JSON: %s" % error)
        return None
    missing = [key for key in JSON_KEYS if key not in record]
    if not problems.check(not missing, "JSON lacks keys %s" % missing):
        return record
    size = int(np.prod(entry["kernel_shape"]))
    same_path = lambda a, b: isinstance(a, str) and os.path.realpath(a) == os.path.realpath(b)
    problems.check(same_path(record["input"], copy), "JSON input %r" % record["input"])
    problems.check(same_path(record["output"], out), "JSON output %r" % record["output"])
    problems.check(record["layer"] in (entry["final_layer"], "/".join(entry["final_layer_path"])),
                   "JSON layer %r, expected %r" % (record["layer"], entry["final_layer"]))
    problems.check(list(record["kernel_shape"]) == entry["kernel_shape"],
                   "JSON kernel_shape %r" % record["kernel_shape"])
    problems.check(record["dtype"] == entry["kernel_dtype"], "JSON dtype %r" % record["dtype"])
    problems.check(record["size"] == size, "JSON size %r, expected %d" % (record["size"], size))
    problems.check(record["zeros_before"] == zeros_before,
                   "JSON zeros_before %r, expected %d" % (record["zeros_before"], zeros_before))
    problems.check(record["target_zeros"] == target,
                   "JSON target_zeros %r, expected %d" % (record["target_zeros"], target))
    problems.check(record["zeros_after"] == target,
                   "JSON zeros_after %r, expected %d" % (record["zeros_after"], target))
    problems.check(isinstance(record["method"], str), "JSON method %r" % record["method"])
    seconds = record["seconds"]
    problems.check(isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0,
                   "JSON seconds %r" % seconds)
    return record


def check_kernel_and_slots(before, after, entry, target, method, problems, fine_tuned=False):
    kin = before[entry["kernel_dataset"]][()]
    kout = after[entry["kernel_dataset"]][()]
    if not problems.check(kin.shape == kout.shape and kin.dtype == kout.dtype,
                          "kernel shape/dtype changed"):
        return
    zeros = int(np.count_nonzero(kout == 0))
    problems.check(zeros == target, "kernel has %d zeros in the file, expected %d" % (zeros, target))
    kept = kout != 0
    if not fine_tuned:
        problems.check(np.array_equal(kin[kept], kout[kept]), "non-zero kernel values differ from the input")
    newly_zero = (kout == 0) & (kin != 0)
    if method and "magnitude" in method and newly_zero.any() and kept.any():
        problems.check(np.abs(kin[newly_zero]).max() <= np.abs(kin[kept]).min(),
                       "a zeroed weight is larger in magnitude than a kept one")
    for slot_path in entry.get("optimizer_slot_datasets", []):
        sin, sout = before[slot_path][()], after[slot_path][()]
        problems.check(np.all(sout[newly_zero] == 0),
                       "slot %s not zero where the kernel was zeroed" % slot_path)
        problems.check(np.array_equal(sin[~newly_zero], sout[~newly_zero]),
                       "slot %s changed where the kernel was not zeroed" % slot_path)


def check_zip(copy, out, problems):
    with zipfile.ZipFile(copy) as a, zipfile.ZipFile(out) as b:
        names_a = [i.filename for i in a.infolist()]
        names_b = [i.filename for i in b.infolist()]
        problems.check(names_a == names_b, "zip entries %s became %s" % (names_a, names_b))
        for name in names_a:
            if name != WEIGHTS_ENTRY and name in names_b:
                problems.check(a.read(name) == b.read(name), "zip entry %s changed" % name)


def check_loaded(entry, out, fixtures_dir, target, kout, problems):
    model = kerasload.load_model(entry, out, fixtures_dir)
    loaded = kerasload.kernel_values(model, entry)
    zeros = int(np.count_nonzero(loaded == 0))
    problems.check(zeros == target, "loaded kernel has %d zeros, expected %d" % (zeros, target))
    problems.check(np.array_equal(loaded, kout), "loaded kernel differs from the file's")
    for output in kerasload.predict(model, entry):
        problems.check(np.all(np.isfinite(output)), "predict gave non-finite values")


def check_refusal(binary, entry, fixtures_dir, sparsity, workdir, fine_tune):
    """A fine-tune through a layer kprune cannot follow: one error line, exit 1, input kept, no output."""
    problems = Problems()
    source = os.path.join(fixtures_dir, entry["file"])
    copy = os.path.join(workdir, os.path.basename(entry["file"]))
    out = os.path.join(workdir, "out-" + os.path.basename(entry["file"]))
    shutil.copyfile(source, copy)
    hash_before = sha256(copy)
    features = write_features(entry, workdir)
    _, result = run_kprune(binary, entry, copy, out, sparsity, fine_tune, features)
    problems.check(result.returncode == 1, "exit %d, expected 1" % result.returncode)
    lines = result.stderr.strip().splitlines()
    problems.check(len(lines) == 1 and entry["unfollowable_layer"] in lines[0] and "--method magnitude" in lines[0],
                   "stderr %r does not name %s in one line" % (result.stderr.strip()[-300:],
                                                                entry["unfollowable_layer"]))
    problems.check(sha256(copy) == hash_before, "kprune changed its input file")
    problems.check(not os.path.exists(out), "an output was written")
    return problems


def check_user_block(before, after, size, problems):
    """The output keeps the input's HDF5 user block, byte for byte."""
    with h5py.File(after, "r") as h5:
        problems.check(h5.userblock_size == size, "user block of %d bytes, expected %d" % (h5.userblock_size, size))
    with open(before, "rb") as old, open(after, "rb") as new:
        problems.check(old.read(size) == new.read(size), "the user block's bytes changed")


def check_fixture(binary, entry, fixtures_dir, sparsity, workdir, fine_tune=None):
    problems = Problems()
    source = os.path.join(fixtures_dir, entry["file"])
    name = os.path.basename(entry["file"])
    copy = os.path.join(workdir, "in", name)
    out = os.path.join(workdir, "out", name)
    os.makedirs(os.path.dirname(copy))
    os.makedirs(os.path.dirname(out))
    shutil.copyfile(source, copy)
    hash_before = sha256(copy)

    features = write_features(entry, workdir) if fine_tune else None
    command, result = run_kprune(binary, entry, copy, out, sparsity, fine_tune, features)
    problems.check(sha256(copy) == hash_before, "kprune changed its input file")
    if result.returncode != 0:
        problems.append("exit %d: %s" % (result.returncode, result.stderr.strip()[-300:]))
        return problems
    if not problems.check(os.path.exists(out), "no output file"):
        return problems

    size = int(np.prod(entry["kernel_shape"]))
    target = pruning.target_zeros(sparsity, size)
    with fixturelib.open_weights_h5(copy) as before, fixturelib.open_weights_h5(out) as after:
        zeros_before = int(np.count_nonzero(before[entry["kernel_dataset"]][()] == 0))
        record = check_json(result.stdout, entry, copy, out, target, zeros_before, problems)
        method = record.get("method") if isinstance(record, dict) else None
        changeable = set([entry["kernel_dataset"]] + entry.get("optimizer_slot_datasets", []))
        if fine_tune and entry.get("bias_dataset"):
            changeable.add(entry["bias_dataset"])
        compare_files(before, after, changeable, problems)
        check_kernel_and_slots(before, after, entry, target, method, problems, fine_tuned=bool(fine_tune))
        if fine_tune:
            problems.check(method == fine_tune, "JSON method %r, expected %r" % (method, fine_tune))
            tune = record.get("fine_tune") if isinstance(record, dict) else None
            activation = tune.get("activation") if isinstance(tune, dict) else None
            if entry.get("output_activation"):
                problems.check(activation == entry["output_activation"], "fine-tune activation %r, expected %r" % (
                    activation, entry["output_activation"]))
        kout = after[entry["kernel_dataset"]][()]
    if entry["file"].endswith(".keras"):
        check_zip(copy, out, problems)
    if entry.get("user_block_bytes"):
        check_user_block(copy, out, entry["user_block_bytes"], problems)
    if entry["loader"] is not None:
        check_loaded(entry, out, fixtures_dir, target, kout, problems)
    return problems


def load_entries(fixtures_dir):
    with open(os.path.join(fixtures_dir, "manifest.json")) as handle:
        entries = json.load(handle)["fixtures"]
    # tools/make_fixtures_extra.py's fixtures, listed with paths relative to fixtures/ as well.
    extra = os.path.join(fixtures_dir, "extra", "manifest.json")
    if os.path.exists(extra):
        with open(extra) as handle:
            entries += json.load(handle)["fixtures"]
    return entries


def run(binary, fixtures_dir, sparsity=0.8, fine_tune=None, only=None):
    """Checks every fixture in one mode (magnitude pruning, or a fine-tune with `fine_tune`); prints a line per
    fixture and the summary, and returns the number that failed."""
    passed = failed = skipped = 0
    for entry in load_entries(fixtures_dir):
        if entry["format"] == "not-keras" or entry.get("kernel_nans", 0) > 0:
            continue
        if fine_tune and (entry.get("final_layer_class") not in FINE_TUNED_CLASSES
                          or (entry.get("final_layer_class") is None and len(entry["kernel_shape"]) != 2)):
            skipped += 1
            continue
        if only and only not in entry["file"]:
            continue
        workdir = tempfile.mkdtemp(prefix="kprune-interop-")
        try:
            if fine_tune and entry.get("unfollowable_layer"):
                problems = check_refusal(binary, entry, fixtures_dir, sparsity, workdir, fine_tune)
            else:
                problems = check_fixture(binary, entry, fixtures_dir, sparsity, workdir, fine_tune)
        except Exception as error:  # report and go on to the next fixture
            problems = ["%s: %s" % (type(error).__name__, str(error).splitlines()[0] if str(error) else "")]
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if problems:
            failed += 1
            print("FAIL %s: %s" % (entry["file"], "; ".join(problems)), flush=True)
        else:
            passed += 1
            note = "" if entry["loader"] else " (no Keras loader: file checks only)"
            print("PASS %s%s" % (entry["file"], note), flush=True)
    label = "interop" if not fine_tune else "interop-%s" % fine_tune
    print("%s: %d passed, %d failed, %d skipped" % (label, passed, failed, skipped), flush=True)
    return failed


def main():
    parser = argparse.ArgumentParser(description="Check kprune's output with real Keras.")
    parser.add_argument("kprune", help="path to the kprune binary")
    parser.add_argument("--fixtures", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                           "..", "fixtures"))
    parser.add_argument("--sparsity", type=float, default=0.8)
    parser.add_argument("--only", help="check only fixtures whose file contains this")
    parser.add_argument("--fine-tune", choices=["mask", "l1"],
                        help="fine-tune with calibration inputs (seeded random rows of the layer's width); "
                             "Dense (2-D) kernels only")
    args = parser.parse_args()
    failed = run(os.path.abspath(args.kprune), os.path.abspath(args.fixtures), args.sparsity, args.fine_tune,
                 args.only)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
