#!/usr/bin/env python3
"""Fuzz kprune with mutated copies of its fixtures: no crash, no hang, one-line errors, nothing left behind.

    .venv/bin/python tools/fuzz.py .build/debug/kprune [--report-only] [--seed S] [--models N] [--calibration N]

A deterministic corpus (seeded) is generated into a temporary directory at run time, never committed:
mutated model files (.h5 and .keras: byte flips, truncations, zeroed ranges, duplicated blocks, random values
in HDF5 header fields; for .keras the inner weights file and config.json too) and mutated calibration files
(.npy, .npz, HDF5 features). Each model goes through `kprune convert` and `kprune inspect`; each calibration
file through `kprune convert --features` and `--eval-features` against a small fixture model. Mutated models the
forward pass runs (the inference fixtures and the digits CNN) go through `kprune predict` and `kprune convert
--data` with inputs that fit them, and mutated model inputs (`.npy`) through both against the digits CNN, and as
evaluation data through `convert --eval-data` and `sweep --eval-data`. Models whose config has one number
replaced by NaN, an infinity, 1e300, a negative or a huge value, and embedding models given token ids that are
NaN, infinite, huge or negative, go through both too. Every run has a time limit and an
address-space limit, and must:
  - not die by a signal, nor print a Swift "Fatal error" or a backtrace (a child kprune stopped by SIGILL or
    SIGTRAP, a Swift trap, counts as a crash; SIGSEGV/SIGBUS inside libhdf5, contained by kprune's per-input
    process, is reported but allowed);
  - finish within the time limit;
  - exit 0 or 1 (never 64: every command line is valid);
  - on failure print exactly one stderr line, starting with "error: " and naming the input;
  - write nothing but its output (the case's directory and TMPDIR are compared before and after; the input
    is unchanged);
  - leave no temporary files or staging directories (.kprune-*).
It ends with `fuzz: N passed, M failed`, and exits 1 when any case failed, unless --report-only.
"""
import argparse
import hashlib
import io
import json
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
MODEL_FIXTURES = [
    "keras2/sequential.h5", "keras2/weights.h5", "keras2/gzip_chunked.h5", "keras20/sequential.h5",
    "keras3/sequential.h5", "keras3/sequential.weights.h5", "keras3/sequential.keras", "keras3/nested.keras",
]
CALIBRATION_MODEL = "calibration/wine/model.h5"
# Models the forward pass runs, with inputs that fit them: mutated, each goes through `kprune predict` and
# `kprune convert --data`.
INFERENCE_FIXTURES = [
    ("inference/keras2/image.h5", "predict/inference_keras2_image_h5.x.npy"),
    ("inference/keras3/image.keras", "predict/inference_keras3_image_keras.x.npy"),
    ("inference/keras2/sequence.h5", "predict/inference_keras2_sequence_h5.x.npy"),
    ("inference/keras3/embedding.keras", "predict/inference_keras3_embedding_keras.x.npy"),
    ("calibration/digits_cnn/model.h5", "calibration/digits_raw/x_test.npy"),
    ("calibration/digits_cnn/model.keras", "calibration/digits_raw/x_test.npy"),
    # Trailing layers the loss follows per sample: global max pooling, a flattening softmax.
    ("calibration/digits_maxpool/model.h5", "calibration/digits_raw/x_test.npy"),
    ("calibration/digits_spatial/model.keras", "calibration/digits_raw/x_test.npy"),
]
# Models whose config numbers are mutated (to NaN, infinities, 1e300, negative and huge values), with inputs
# that fit them: each goes through `kprune predict` and `kprune convert --data`.
CONFIG_FIXTURES = INFERENCE_FIXTURES + [
    ("inference/keras2/embedding.h5", "predict/inference_keras2_embedding_h5.x.npy"),
    ("inference/keras2/recurrent.h5", "predict/inference_keras2_recurrent_h5.x.npy"),
    ("inference/keras3/xception.keras", "predict/inference_keras3_xception_keras.x.npy"),
    ("inference/keras2/transpose.h5", "predict/inference_keras2_transpose_h5.x.npy"),
    ("inference/keras3/parametric.keras", "predict/inference_keras3_parametric_keras.x.npy"),
    ("inference/keras2/bidirectional.h5", "predict/inference_keras2_bidirectional_h5.x.npy"),
]
CONFIG_VALUES = [float("nan"), float("inf"), float("-inf"), 1e300, -1e300, -1, 0, 2 ** 31, 2 ** 62, -2 ** 63, 3.5,
                 65537]
# Models whose inputs are token ids, with the ids they take: mutated ids (NaN, infinities, huge and negative
# values) must be refused naming the data file.
ID_FIXTURES = [
    ("inference/keras3/embedding.keras", "predict/inference_keras3_embedding_keras.x.npy"),
    ("inference/keras2/embedding.h5", "predict/inference_keras2_embedding_h5.x.npy"),
]
ID_VALUES = [float("nan"), float("inf"), float("-inf"), 1e30, -1e30, -5, 2 ** 31, 1e9, 3.5e38]
# The model mutated inputs (`--data`) are given to.
DATA_MODEL = "calibration/digits_cnn/model.h5"
DATA_SOURCE = "calibration/digits_raw/x_test.npy"
HDF5_SIGNATURES = [b"\x89HDF\r\n\x1a\n", b"TREE", b"HEAP", b"SNOD", b"OHDR", b"OCHK", b"GCOL", b"FRHP", b"FHDB",
                   b"FSHD", b"BTHD", b"BTLF", b"BTIN", b"FHIB"]
SPECIAL_VALUES = [0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 31, 1 << 40,
                  0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF]


# --- byte-level mutations, shared by every format --------------------------------------------------------

def flip(data, rng):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def truncate(data, rng):
    return data[:rng.randrange(len(data))]


def zero_range(data, rng):
    data = bytearray(data)
    start = rng.randrange(len(data))
    length = rng.choice([8, 64, 512, 4096])
    data[start:start + length] = bytes(min(length, len(data) - start))
    return bytes(data)


def duplicate_block(data, rng):
    length = rng.choice([16, 64, 256, 1024])
    start = rng.randrange(max(1, len(data) - length))
    block = data[start:start + length]
    at = rng.randrange(len(data))
    if rng.random() < 0.5:
        return data[:at] + block + data[at:]  # inserted: every later offset shifts
    return data[:at] + block + data[at + len(block):]  # overwritten


def special_value(rng, width):
    value = rng.choice(SPECIAL_VALUES + [rng.getrandbits(8 * width)])
    return (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")


def header_field(data, rng):
    """A random value written over a field of an HDF5 structure: just after a signature (superblock, object
    header, B-tree, heap), where sizes, addresses, versions and counts live."""
    data = bytearray(data)
    offsets = [i for sig in HDF5_SIGNATURES for i in find_all(data, sig)]
    base = rng.choice(offsets) if offsets else 0
    width = rng.choice([1, 2, 4, 8])
    at = min(len(data) - width, base + rng.randrange(4, 48))
    data[at:at + width] = special_value(rng, width)
    return bytes(data)


def find_all(data, needle):
    found, start = [], 0
    while True:
        index = data.find(needle, start)
        if index < 0:
            return found
        found.append(index)
        start = index + 1


BYTE_MUTATIONS = {"flip": flip, "truncate": truncate, "zero": zero_range, "duplicate": duplicate_block,
                  "header": header_field}


# --- format-aware mutations -----------------------------------------------------------------------------

def mutate_json(text, rng):
    """config.json: a changed number, a removed or retyped key, deep nesting, or a cut."""
    kind = rng.choice(["number", "drop", "retype", "nest", "cut"])
    if kind == "cut":
        return text[:rng.randrange(len(text))], "config-cut"
    if kind == "nest":
        depth = rng.choice([100, 1000, 10000])
        at = text.rfind("}")
        return text[:at] + ', "deep": ' + "[" * depth + "]" * depth + text[at:], "config-nest"
    try:
        value = json.loads(text)
    except ValueError:
        return flip(text.encode(), rng).decode("latin-1"), "config-flip"
    nodes = []

    def walk(node):
        if isinstance(node, dict):
            for key in node:
                nodes.append((node, key))
                walk(node[key])
        elif isinstance(node, list):
            for index in range(len(node)):
                nodes.append((node, index))
                walk(node[index])
    walk(value)
    if not nodes:
        return text, "config-none"
    if kind == "number":
        numeric = [(c, k) for c, k in nodes if isinstance(c[k], (int, float)) and not isinstance(c[k], bool)]
        container, key = rng.choice(numeric or nodes)
        container[key] = rng.choice([0, -1, 2 ** 31, 2 ** 63, 10 ** 30, 1e308, -2 ** 63, 3.5])
    elif kind == "drop":
        dicts = [(c, k) for c, k in nodes if isinstance(c, dict)]
        if dicts:
            container, key = rng.choice(dicts)
            del container[key]
    else:
        container, key = rng.choice(nodes)
        container[key] = rng.choice([None, "", [], {}, "x" * 300, True, [[[]]]])
    return json.dumps(value), "config-" + kind


def mutate_keras(data, rng):
    """A .keras archive: its weights file, its config.json, or the zip bytes themselves."""
    target = rng.choice(["weights", "weights", "config", "zip"])
    if target == "zip":
        name = rng.choice(list(BYTE_MUTATIONS))
        return BYTE_MUTATIONS[name](data, rng), "zip-" + name
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    label = target
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            member = source.read(info.filename)
            if target == "weights" and info.filename.endswith(".h5"):
                name = rng.choice(list(BYTE_MUTATIONS))
                member, label = BYTE_MUTATIONS[name](member, rng), "weights-" + name
            elif target == "config" and info.filename == "config.json":
                text, label = mutate_json(member.decode(), rng)
                member = text.encode("utf-8", "surrogateescape")
            archive.writestr(info, member)
    return out.getvalue(), label


def mutate_npy_header(data, rng):
    """An .npy header: the header length, the shape, the dtype or the order."""
    kind = rng.choice(["length", "shape", "descr", "order"])
    if kind == "length":
        data = bytearray(data)
        data[8:10] = special_value(rng, 2)
        return bytes(data), "npy-header-length"
    header_end = data.index(b"\n") + 1
    header = data[10:header_end].decode("latin-1")
    if kind == "shape":
        shape = rng.choice(["(2**62, 32)", "(9223372036854775807, 9223372036854775807)", "(-1, 32)", "(0, 32)",
                            "(133, 0)", "()", "(133, 32, 2)", "(4294967296, 4294967296)", "(133,)"])
        shape = str(eval(shape, {}))  # noqa: S307, literal arithmetic only
        start, end = header.index("'shape': ") + 9, header.index(")", header.index("'shape'")) + 1
        header = header[:start] + shape + header[end:]
    elif kind == "descr":
        descr = rng.choice(["'<f16'", "'|O'", "'<U4'", "'>f4'", "'<c8'", "'V8'", "'<f2'", "'<i8'", "'bogus'"])
        start = header.index("'descr': ") + 9
        end = header.index(",", start)
        header = header[:start] + descr + header[end:]
    else:
        header = header.replace("'fortran_order': False", "'fortran_order': " + rng.choice(["True", "1", "None"]))
    body = header.rstrip("\n").rstrip() + "\n"
    return data[:8] + struct.pack("<H", len(body)) + body.encode("latin-1") + data[header_end:], "npy-" + kind


def mutate_npy(data, rng):
    if rng.random() < 0.4:
        return mutate_npy_header(data, rng)
    name = rng.choice(list(BYTE_MUTATIONS))
    return BYTE_MUTATIONS[name](data, rng), "npy-" + name


def mutate_npz(data, rng):
    if rng.random() < 0.3:
        name = rng.choice(list(BYTE_MUTATIONS))
        return BYTE_MUTATIONS[name](data, rng), "npz-zip-" + name
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    label = "npz"
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            member = source.read(info.filename)
            if info.filename == "h_train.npy":
                member, label = mutate_npy(member, rng)
                label = "npz-member-" + label[4:]
            archive.writestr(info, member)
    return out.getvalue(), label


# --- the corpus ------------------------------------------------------------------------------------------

def features_h5(path):
    import h5py
    import numpy as np
    with h5py.File(path, "w") as file:
        file.create_dataset("h", data=np.load(FIXTURES / "calibration/wine/h_train.npy"))
        file.create_dataset("h_chunked", data=np.load(FIXTURES / "calibration/wine/h_train.npy"), chunks=(16, 32),
                            compression="gzip")


def mutate_config_number(fixture, data, rng):
    """A model whose config has one number (a size, an index, a rate) replaced by a hostile value."""
    def mutate(text):
        value = json.loads(text)
        numbers = []

        def walk(node):
            items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
            for key, member in items:
                if isinstance(member, (int, float)) and not isinstance(member, bool):
                    numbers.append((node, key))
                else:
                    walk(member)
        walk(value)
        container, key = rng.choice(numbers)
        replacement = rng.choice(CONFIG_VALUES)
        container[key] = replacement
        return json.dumps(value), f"config-number-{replacement}"
    if fixture.endswith(".keras"):
        source = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for info in source.infolist():
                member = source.read(info.filename)
                if info.filename == "config.json":
                    text, label = mutate(member.decode())
                    member = text.encode()
                archive.writestr(info, member)
        return out.getvalue(), label
    import h5py
    with tempfile.NamedTemporaryFile(suffix=".h5") as handle:
        handle.write(data)
        handle.flush()
        with h5py.File(handle.name, "r+") as file:
            text, label = mutate(file.attrs["model_config"])
            file.attrs["model_config"] = text
        return Path(handle.name).read_bytes(), label


def mutate_ids(data, rng):
    """Token ids with some replaced by NaN, an infinity, or a huge or negative value."""
    import numpy as np
    ids = np.load(io.BytesIO(data)).astype(np.float64)
    flat = ids.reshape(-1)
    replacement = rng.choice(ID_VALUES)
    for _ in range(rng.randint(1, 3)):
        flat[rng.randrange(flat.size)] = replacement
    out = io.BytesIO()
    np.save(out, ids)
    return out.getvalue(), f"ids-{replacement}"


def mutate_model(fixture, data, rng):
    """A mutated copy of a model file: inside the archive for `.keras`, bytes for HDF5; and its label."""
    if fixture.endswith(".keras"):
        return mutate_keras(data, rng)
    name = rng.choice(list(BYTE_MUTATIONS))
    return BYTE_MUTATIONS[name](data, rng), "h5-" + name


def build_corpus(directory, seed, model_count, calibration_count, inference_count=0, data_count=0, config_count=0,
                 id_count=0):
    """Cases: (kind, label, file name, bytes, feature suffix, or for inference models their data file)."""
    rng = random.Random(seed)
    cases = []
    for index in range(model_count):
        fixture = MODEL_FIXTURES[index % len(MODEL_FIXTURES)]
        mutated, label = mutate_model(fixture, (FIXTURES / fixture).read_bytes(), rng)
        base = Path(fixture).name
        cases.append(("model", label, f"m{index:03d}_{base}", mutated, ""))
    h5 = directory / "features.h5"
    features_h5(h5)
    sources = {
        "npy": (FIXTURES / "calibration/wine/h_train.npy").read_bytes(),
        "npz": (FIXTURES / "calibration/wine/calibration.npz").read_bytes(),
        "h5": h5.read_bytes(),
    }
    for index in range(calibration_count):
        kind = ["npy", "npz", "h5"][index % 3]
        if kind == "npy":
            mutated, label = mutate_npy(sources["npy"], rng)
            cases.append(("features", label, f"f{index:03d}_h.npy", mutated, ""))
        elif kind == "npz":
            mutated, label = mutate_npz(sources["npz"], rng)
            cases.append(("features", label, f"f{index:03d}_calibration.npz", mutated, ":h_train"))
        else:
            name = rng.choice(list(BYTE_MUTATIONS))
            mutated = BYTE_MUTATIONS[name](sources["h5"], rng)
            path = rng.choice([":/h", ":/h_chunked"])
            cases.append(("features", "features-h5-" + name, f"f{index:03d}_features.h5", mutated, path))
    # Separate generators, so that adding these cases leaves the earlier ones as they were.
    rng = random.Random(seed + 1)
    for index in range(inference_count):
        fixture, data = INFERENCE_FIXTURES[index % len(INFERENCE_FIXTURES)]
        mutated, label = mutate_model(fixture, (FIXTURES / fixture).read_bytes(), rng)
        cases.append(("inference-model", "inference-" + label, f"i{index:03d}_{Path(fixture).name}", mutated,
                      str(FIXTURES / data)))
    source = (FIXTURES / DATA_SOURCE).read_bytes()
    for index in range(data_count):
        mutated, label = mutate_npy(source, rng)
        cases.append(("data", "data-" + label, f"d{index:03d}_x.npy", mutated, ""))
    rng = random.Random(seed + 2)
    for index in range(config_count):
        fixture, data = CONFIG_FIXTURES[index % len(CONFIG_FIXTURES)]
        mutated, label = mutate_config_number(fixture, (FIXTURES / fixture).read_bytes(), rng)
        cases.append(("inference-model", "inference-" + label, f"c{index:03d}_{Path(fixture).name}", mutated,
                      str(FIXTURES / data)))
    for index in range(id_count):
        fixture, data = ID_FIXTURES[index % len(ID_FIXTURES)]
        mutated, label = mutate_ids((FIXTURES / data).read_bytes(), rng)
        cases.append(("data", "data-" + label, f"t{index:03d}_ids.npy", mutated, fixture))
    return cases


# --- running one case ------------------------------------------------------------------------------------

def snapshot(*roots):
    state = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                info = os.lstat(path)
                digest = None
                if os.path.isfile(path) and not os.path.islink(path):
                    digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()
                state[path] = (info.st_mode, info.st_size, digest)
    return state


def limit_memory(limit):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def default_output_name(name):
    for suffix in (".weights.h5", ".keras", ".h5"):
        if name.endswith(suffix):
            return name[:-len(suffix)] + ".pruned" + suffix
    return name + ".pruned"


def is_allowed(path, allowed):
    """Whether a command may write `path`: one of its outputs, or for predict's `p.npy` the `p.NAME.npy` files a
    model with several outputs writes instead."""
    if path in allowed:
        return True
    return any(output.name == "p.npy" and path.parent == output.parent and path.name.startswith("p.")
               and path.name.endswith(".npy") for output in allowed)


def run_case(binary, work, case, args):
    kind, label, name, data, suffix = case
    case_dir = work / name.replace(".", "_")
    inputs, out, tmp = case_dir / "in", case_dir / "out", case_dir / "tmp"
    for d in (inputs, out, tmp):
        d.mkdir(parents=True)
    path = inputs / name
    path.write_bytes(data)
    # kprune's limit on reading a file's structure (30 s by default) below this harness's time limit, so an
    # endless loop inside libhdf5 shows as kprune's own one-line error, not as a hang.
    environment = dict(os.environ, TMPDIR=str(tmp), NO_COLOR="1",
                       KPRUNE_STRUCTURE_SECONDS=str(max(1, int(args.timeout / 4))))
    commands = []
    if kind == "model":
        commands.append(("convert", [binary, "convert", str(path), "--sparsity", "0.5", "--output-dir", str(out)],
                         {out / default_output_name(name)}))
        commands.append(("inspect", [binary, "inspect", str(path)], set()))
        named = [str(path)]
    elif kind == "inference-model":
        data = suffix
        predictions = out / "p.npy"
        converted = out / default_output_name(name)
        commands.append(("predict", [binary, "predict", str(path), "--data", data, "-o", str(predictions)],
                         {predictions}))
        commands.append(("convert-data", [binary, "convert", str(path), "--sparsity", "0.5", "--data", data,
                                          "--epochs", "2", "-o", str(converted)], {converted}))
        named = [str(path), data]
    elif kind == "data":
        source = suffix or DATA_MODEL
        model = inputs / ("model" + ("".join(Path(source).suffixes[-1:])))
        shutil.copyfile(FIXTURES / source, model)
        predictions, converted = out / "p.npy", out / default_output_name(model.name)
        commands.append(("predict-data", [binary, "predict", str(model), "--data", str(path), "-o",
                                          str(predictions)], {predictions}))
        commands.append(("convert-data", [binary, "convert", str(model), "--sparsity", "0.5", "--data", str(path),
                                          "--epochs", "2", "-o", str(converted)], {converted}))
        # As evaluation data: scored by a data-free conversion and a data-free sweep.
        evaluated = out / ("eval" + model.suffix)
        commands.append(("convert-eval", [binary, "convert", str(model), "--sparsity", "0.5", "--eval-data", str(path),
                                          "-o", str(evaluated)], {evaluated}))
        commands.append(("sweep-eval", [binary, "sweep", str(model), "--sparsities", "0.5,0.9", "--eval-data",
                                        str(path), "--json"], set()))
        named = [str(path), str(model)]
    else:
        model = inputs / "model.h5"
        shutil.copyfile(FIXTURES / CALIBRATION_MODEL, model)
        output = out / "model.pruned.h5"
        commands.append(("convert-features", [binary, "convert", str(model), "--sparsity", "0.5", "--features",
                                              str(path) + suffix, "--epochs", "3", "-o", str(output)], {output}))
        # The same file as the layer's evaluation inputs.
        evaluated = out / "eval.h5"
        commands.append(("convert-eval-features", [binary, "convert", str(model), "--sparsity", "0.5",
                                                   "--eval-features", str(path) + suffix, "-o", str(evaluated)],
                         {evaluated}))
        named = [str(path), str(model)]
    failures = []
    notes = []
    for command_name, argv, allowed in commands:
        before = snapshot(case_dir)
        # Its own session, so a hang is ended with every process kprune started.
        process = subprocess.Popen(argv, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   preexec_fn=limit_memory(args.memory), start_new_session=True)
        try:
            _, err = process.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            failures.append((command_name, "hang", f"no exit within {args.timeout}s"))
            continue
        result = subprocess.CompletedProcess(argv, process.returncode, b"", err)
        stderr = result.stderr.decode("utf-8", "replace")
        lines = stderr.splitlines()
        first = lines[0] if lines else ""
        problem = None
        if result.returncode < 0:
            problem = ("crash", f"killed by signal {-result.returncode}: {first}")
        elif "Fatal error" in stderr or "Current stack trace" in stderr or "Backtrace" in stderr or "HDF5-DIAG" in stderr:
            problem = ("crash", first)
        elif "kprune stopped on this file" in stderr and any(f"signal {s}:" in stderr for s in (4, 5, 6)):
            problem = ("trap", first)  # a Swift trap or abort, contained by the per-input process
        elif result.returncode not in (0, 1):
            problem = ("exit-status", f"exit {result.returncode}: {first}")
        elif result.returncode == 1 and (len(lines) != 1 or not first.startswith("error: ")):
            problem = ("error-lines", f"{len(lines)} lines: " + " | ".join(lines[:3]))
        elif result.returncode == 1 and not any(n in first for n in named):
            problem = ("error-names", first)
        elif result.returncode == 0 and lines:
            problem = ("stderr-on-success", first)
        if "kprune stopped on this file" in stderr and problem is None:
            notes.append((command_name, "contained-crash", first))
        after = snapshot(case_dir)
        leftovers = [p for p in after if Path(p).name.startswith(".kprune-")]
        changed = [p for p in set(before) | set(after)
                   if before.get(p) != after.get(p) and not is_allowed(Path(p), allowed)
                   and not Path(p).name.startswith(".kprune-")]
        if problem is None and leftovers:
            problem = ("leftovers", ", ".join(sorted(Path(p).name for p in leftovers)[:3]))
        if problem is None and changed:
            problem = ("wrote-elsewhere", ", ".join(sorted(changed)[:3]))
        if problem:
            failures.append((command_name, *problem))
        for p in after:
            if p not in before and is_allowed(Path(p), allowed) and os.path.exists(p):
                os.remove(p)
    if not args.keep:
        shutil.rmtree(case_dir, ignore_errors=True)
    return case, failures, notes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kprune")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--models", type=int, default=320)
    parser.add_argument("--calibration", type=int, default=210)
    parser.add_argument("--inference", type=int, default=120, help="mutated models run by predict and convert --data")
    parser.add_argument("--data", type=int, default=60, help="mutated model inputs for predict and convert --data")
    parser.add_argument("--config", type=int, default=120, help="models with a config number made hostile")
    parser.add_argument("--ids", type=int, default=40, help="token ids made hostile for embedding models")
    parser.add_argument("--timeout", type=float, default=20)
    parser.add_argument("--memory", type=int, default=2 << 30, help="address-space limit in bytes")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--report-only", action="store_true", help="print failures but exit 0")
    parser.add_argument("--keep", metavar="DIR", help="generate the cases in DIR and keep them there")
    parser.add_argument("--only", metavar="NAME", help="run only the cases whose file name contains NAME")
    parser.add_argument("--verbose", action="store_true", help="one line per failure")
    args = parser.parse_args()
    binary = str(Path(args.kprune).resolve())
    with tempfile.TemporaryDirectory(prefix="kprune-fuzz-") as temporary:
        work = Path(args.keep or temporary)
        work.mkdir(parents=True, exist_ok=True)
        cases = build_corpus(work, args.seed, args.models, args.calibration, args.inference, args.data, args.config,
                             args.ids)
        if args.only:
            cases = [case for case in cases if args.only in case[2]]
        passed, failed = 0, 0
        classes, contained = {}, []
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            for case, failures, notes in pool.map(lambda c: run_case(binary, work, c, args), cases):
                contained += [(case[2], *note) for note in notes]
                if failures:
                    failed += 1
                    for command, problem, detail in failures:
                        key = (problem, case[1], command)
                        classes.setdefault(key, []).append((case[2], detail))
                        if args.verbose:
                            print(f"FAIL {case[2]} [{case[1]}] {command}: {problem}: {detail}")
                else:
                    passed += 1
        if args.keep:
            print(f"fuzz: cases kept in {work}")
    for (problem, label, command), examples in sorted(classes.items(), key=lambda item: -len(item[1])):
        name, detail = examples[0]
        print(f"  {problem}: {label} ({command}) x{len(examples)}, e.g. {name}: {detail[:300]}")
    for name, command, _, detail in contained[:10]:
        print(f"  contained (allowed): {name} ({command}): {detail[:200]}")
    if contained:
        print(f"fuzz: {len(contained)} crashes contained by the per-input process (allowed)")
    print(f"fuzz: {passed} passed, {failed} failed" + (" (report only)" if args.report_only and failed else ""))
    return 0 if failed == 0 or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
