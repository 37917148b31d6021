#!/usr/bin/env python3
"""Quality of kprune's methods against TF-MOT on the calibration fixtures (a benchmark, not a test).

    .venv/bin/python tools/bench_quality.py path/to/kprune [--only DATASET] [--sparsity F ...]
        [--fixtures DIR] [--schedule polynomial|constant] [--no-tfmot] [--no-keras3] [--json RESULTS.json]

For each dataset of fixtures/calibration/manifest.json (tools/make_calibration.py) and each sparsity (80, 90
and 95% zeros in the final layer's kernel) it makes four outputs from the dataset's tf_keras model:

  magnitude  kprune convert MODEL --sparsity F --method magnitude (no data; if kprune refuses --method as
             bad usage, again without it)
  mask, l1   kprune convert MODEL --sparsity F --method M --features H_TRAIN --labels Y_TRAIN, with the
             training split's calibration arrays in the dataset's own format (.npz or HDF5 when it has one,
             else .npy); a bad-usage exit (64) is reported as "not available"
  TF-MOT     tools/tfmot_baseline.py DATASET F (prune_low_magnitude on the final layer only, 10 epochs,
             other layers frozen), which saves and exits without evaluating
  TF-MOT, same steps   the same with as many optimizer steps as kprune's mask fine-tune took (its report's
             `steps`; TF-MOT's batch is 32, so epochs = ceil(steps / batches per epoch))

Every output is loaded by the Keras that wrote the input and scored with predict of the whole model on the
original raw test features (accuracy: argmax, or > 0.5 for one sigmoid unit), and its final kernel's zero
count, as Keras holds it, is checked against round_half_away_from_zero(F x size). Wall times are those of
whole processes, start to exit, as seen from here. A dataset with a Keras 3 archive (wine: model.keras) also
gets the kprune methods on that file, scored by Keras 3, as an extra row.

It prints one line per run, then a markdown table and the goals of kprune's fine-tune issue as PASS/MISS:
mask and l1 within 0.5 points of dense at 80%, at 95% mask within 4 points and l1 within 5, both ahead of
TF-MOT at every sparsity, and a kprune process taking at most 0.1x TF-MOT's. The exit status is 0 whatever
the results.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfsetup  # noqa: E402,F401  (first: TensorFlow's environment and determinism)

import numpy as np  # noqa: E402

import calibrationlib  # noqa: E402
import measure  # noqa: E402
import pruning  # noqa: E402

TOOLS = os.path.dirname(os.path.abspath(__file__))
USAGE = 64
METHODS = ("magnitude", "mask", "l1", "tfmot", "tfmot_steps")
FORMAT_PREFERENCE = ("npz", "h5", "npy")


# ---------------------------------------------------------------- running


def timed(command, env=None):
    result = measure.run(command, env)
    return result, result.seconds


def last_error(result):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "exit status %d" % result.returncode


def run_kprune(kprune, model, sparsity, out, method, data):
    """One kprune process; returns a dict with status (ok, not available, failed), wall, report, error."""
    command = [kprune, "convert", model, "--sparsity", str(sparsity), "-o", out, "--force", "--json",
               "--method", method]
    if data:
        command += ["--features", data[0], "--labels", data[1]]
    result, wall = timed(command)
    run = {"command": command}
    if result.returncode == USAGE and method == "magnitude":
        # Without calibration data magnitude is what kprune does: a kprune that knows no --method still works.
        command = [arg for arg in command if arg not in ("--method", "magnitude")]
        result, wall = timed(command)
        run = {"command": command, "note": "--method not accepted, ran without it"}
    run["wall"] = wall
    if result.returncode == USAGE:
        run.update(status="not available", error=last_error(result))
    elif result.returncode != 0:
        run.update(status="failed", error=last_error(result))
    else:
        try:
            run.update(status="ok", report=json.loads(result.stdout.splitlines()[0]))
        except (ValueError, IndexError):
            run.update(status="failed", error="no JSON on standard output: %r" % result.stdout[:200])
    return run


def run_tfmot(fixtures, dataset, sparsity, out, schedule, epochs=None):
    command = [sys.executable, os.path.join(TOOLS, "tfmot_baseline.py"), dataset, str(sparsity), "-o", out,
               "--schedule", schedule, "--fixtures", fixtures, "--no-eval"]
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    result, wall = timed(command, env=dict(os.environ, TF_USE_LEGACY_KERAS="1"))
    run = {"command": command, "wall": wall}
    if result.returncode != 0:
        run.update(status="failed", error=last_error(result))
    else:
        run.update(status="ok", report=json.loads(result.stdout.strip().splitlines()[-1]))
    return run


# ---------------------------------------------------------------- scoring


class Scorer:
    """Loads outputs with the Keras that wrote the input and scores them on the raw test features."""

    def __init__(self, entry, fixtures):
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")  # predict on one fresh model after another warns of retracing
        self.entry = entry
        _, _, self.x_test, self.y_test = calibrationlib.raw_inputs(entry, fixtures)

    def __call__(self, path, loader):
        if loader == "tf_keras":
            import tf_keras as api

            api.backend.clear_session()
            model = api.models.load_model(path, compile=False)
        else:
            import keras as api

            api.backend.clear_session()
            model = api.saving.load_model(path, compile=False)
        kernel = np.asarray(model.get_layer(self.entry["final_layer"]).kernel.numpy())
        outputs = model.predict(self.x_test, verbose=0, batch_size=1024)
        predicted = calibrationlib.predictions(outputs, self.entry["activation"])
        return float(np.mean(predicted == self.y_test)), int(np.count_nonzero(kernel == 0)), int(kernel.size)


def score_run(run, scorer, out, loader, sparsity):
    if run["status"] != "ok":
        return
    try:
        accuracy, zeros, size = scorer(out, loader)
    except Exception as error:  # the output must load: anything else is a failure of the run
        run.update(status="failed", error="Keras cannot load the output: %s" % str(error).splitlines()[0][:300])
        return
    target = pruning.target_zeros(sparsity, size)
    run.update(accuracy=accuracy, zeros=zeros, target_zeros=target, exact=zeros == target)
    report = run.get("report", {})
    if "zeros_after" in report and (report["zeros_after"] != zeros or report["target_zeros"] != target):
        run["mismatch"] = "kprune reported %s of %s zeros, the file holds %d of %d" % (
            report["zeros_after"], report["target_zeros"], zeros, target)


# ---------------------------------------------------------------- one dataset


def calibration_files(entry, fixtures, fmt=None):
    formats = entry["calibration"]
    fmt = fmt or next(f for f in FORMAT_PREFERENCE if f in formats)
    files = formats[fmt]
    return fmt, [os.path.join(fixtures, files["features_train"]), os.path.join(fixtures, files["labels_train"])]


def bench_dataset(args, entry, work):
    """Runs every method at every sparsity on the dataset's models; returns the table's rows."""
    scorer = Scorer(entry, args.fixtures)
    rows = []
    for model_entry in entry["models"]:
        if model_entry["loader"] != "tf_keras" and args.no_keras3:
            continue
        primary = model_entry["loader"] == "tf_keras"
        model = os.path.join(args.fixtures, model_entry["file"])
        extension = os.path.splitext(model)[1]
        label = entry["name"] if primary else "%s (%s)" % (entry["name"], extension)
        fmt, data = calibration_files(entry, args.fixtures, None if primary else "npy")
        print("== %s: %s, %s, dense test accuracy %.4f, calibration from .%s"
              % (label, model_entry["file"], entry["architecture"], model_entry["dense_test_accuracy"], fmt),
              flush=True)
        for sparsity in args.sparsity:
            row = {"dataset": label, "primary": primary, "sparsity": sparsity,
                   "dense": model_entry["dense_test_accuracy"], "runs": {}}
            for method in METHODS:
                out = os.path.join(work, "%s.%s.%s%s" % (entry["name"], method, sparsity, extension))
                if method == "tfmot":
                    if not primary or args.no_tfmot:
                        continue
                    run = run_tfmot(args.fixtures, entry["name"], sparsity, out, args.schedule)
                elif method == "tfmot_steps":
                    # TF-MOT given as many optimizer steps as kprune's mask fine-tune took (batch 32).
                    mask = row["runs"].get("mask", {})
                    if not primary or args.no_tfmot or mask.get("status") != "ok":
                        continue
                    steps = mask["report"]["fine_tune"]["steps"]
                    batches = -(-entry["train_samples"] // 32)
                    epochs = max(1, -(-steps // batches))
                    run = run_tfmot(args.fixtures, entry["name"], sparsity, out, args.schedule, epochs)
                    run["note"] = "%d epochs, %d steps (kprune mask: %d)" % (epochs, epochs * batches, steps)
                else:
                    run = run_kprune(args.kprune, model, sparsity, out, method,
                                     None if method == "magnitude" else data)
                score_run(run, scorer, out, model_entry["loader"], sparsity)
                if method == "magnitude" and run.get("accuracy") is not None:
                    reference = entry["magnitude_test_accuracy"].get(str(sparsity))
                    if reference and abs(reference["test_accuracy"] - run["accuracy"]) > 1e-9:
                        run["mismatch"] = "numpy's magnitude pruning scores %.4f" % reference["test_accuracy"]
                row["runs"][method] = run
                print("  %-9s %4.0f%%  %s" % (method, sparsity * 100, describe_run(run)), flush=True)
            rows.append(row)
    return rows


def describe_run(run):
    if run["status"] != "ok":
        return "%s: %s (%.2f s)" % (run["status"].upper(), run.get("error", ""), run["wall"])
    text = "acc %.4f  zeros %d/%d %s  wall %.2f s" % (run["accuracy"], run["zeros"], run["target_zeros"],
                                                      "exact" if run["exact"] else "NOT EXACT", run["wall"])
    if run.get("note"):
        text += "  (%s)" % run["note"]
    if run.get("mismatch"):
        text += "  [%s]" % run["mismatch"]
    return text


# ---------------------------------------------------------------- report


def cell(run):
    if run is None:
        return "—"
    if run["status"] == "not available":
        return "n/a"
    if run["status"] != "ok":
        return "failed"
    return "%.3f%s" % (run["accuracy"], "" if run["exact"] else " †")


def wall_cell(runs, methods):
    parts = ["%s %.2f s" % (m, runs[m]["wall"]) for m in methods if m in runs and runs[m]["status"] == "ok"]
    return ", ".join(parts) or "—"


def ratios(runs):
    tfmot = runs.get("tfmot")
    if not tfmot or tfmot["status"] != "ok":
        return {}
    return {m: runs[m]["wall"] / tfmot["wall"] for m in ("mask", "l1") if m in runs and runs[m]["status"] == "ok"}


def print_table(rows):
    print()
    print("| dataset | zeros | dense | magnitude | mask | l1 | TF-MOT | TF-MOT, same steps | kprune wall | TF-MOT wall "
          "| kprune / TF-MOT |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        runs = row["runs"]
        ratio = ratios(runs)
        print("| %s | %.0f%% | %.3f | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row["dataset"], row["sparsity"] * 100, row["dense"], cell(runs.get("magnitude")), cell(runs.get("mask")),
            cell(runs.get("l1")), cell(runs.get("tfmot")), cell(runs.get("tfmot_steps")),
            wall_cell(runs, ("mask", "l1")), wall_cell(runs, ("tfmot", "tfmot_steps")).replace("tfmot_steps", "same steps").replace("tfmot ", ""),
            ", ".join("%s %.3f×" % (m, r) for m, r in ratio.items()) or "—"))
    inexact = ["%s %s at %.0f%%: %d zeros, target %d" % (row["dataset"], m, row["sparsity"] * 100, r["zeros"],
                                                         r["target_zeros"])
               for row in rows for m, r in row["runs"].items() if r["status"] == "ok" and not r["exact"]]
    if inexact:
        print()
        print("† zero count not exact: " + "; ".join(inexact))
    notes = ["%s %s at %.0f%%: %s" % (row["dataset"], m, row["sparsity"] * 100, r["mismatch"])
             for row in rows for m, r in row["runs"].items() if r.get("mismatch")]
    if notes:
        print()
        print("mismatches: " + "; ".join(notes))


def accuracy_of(row, method):
    run = row["runs"].get(method)
    return run["accuracy"] if run and run["status"] == "ok" else None


def print_goals(rows):
    print()
    results = []

    def goal(text, values):
        """values: booleans, or None where the method did not run; N/A when none ran."""
        ran = [v for v in values if v is not None]
        if not ran:
            verdict = "N/A (did not run)"
        elif all(ran) and len(ran) == len(values):
            verdict = "PASS"
        elif all(ran):
            verdict = "PASS where it ran (%d of %d)" % (len(ran), len(values))
        else:
            verdict = "MISS"
        results.append((text, verdict))
        print("goal %-62s %s" % (text + ":", verdict))

    def within(method, sparsity, points, row):
        if row["sparsity"] != sparsity:
            return None
        accuracy = accuracy_of(row, method)
        return None if accuracy is None else row["dense"] - accuracy <= points / 100.0 + 1e-12

    primary = [row for row in rows if row["primary"]]
    datasets = sorted(set(row["dataset"] for row in primary), key=[r["dataset"] for r in primary].index)
    for name in datasets:
        mine = [row for row in primary if row["dataset"] == name]
        for method, sparsity, points in (("mask", 0.8, 0.5), ("l1", 0.8, 0.5), ("mask", 0.95, 4), ("l1", 0.95, 5)):
            at = [row for row in mine if row["sparsity"] == sparsity]
            if at:
                goal("%s: %s within %g points of dense at %.0f%%" % (name, method, points, sparsity * 100),
                     [within(method, sparsity, points, row) for row in at])
        for method in ("mask", "l1"):
            values = []
            for row in mine:
                ours, theirs = accuracy_of(row, method), accuracy_of(row, "tfmot")
                values.append(None if ours is None or theirs is None else ours > theirs)
            goal("%s: %s ahead of TF-MOT at every sparsity" % (name, method), values)
            values = []
            for row in mine:
                ours, theirs = accuracy_of(row, method), accuracy_of(row, "tfmot_steps")
                values.append(None if ours is None or theirs is None else ours >= theirs)
            goal("%s: %s at least TF-MOT with the same steps" % (name, method), values)
    worst = {}
    for row in primary:
        for method, ratio in ratios(row["runs"]).items():
            worst[method] = max(worst.get(method, 0.0), ratio)
    for method in ("mask", "l1"):
        values = [] if method not in worst else [worst[method] <= 0.1]
        goal("%s process <= 0.1x TF-MOT's (worst %s)" % (method, "%.3fx" % worst[method] if method in worst
                                                          else "n/a"), values)
    exact = [r["exact"] for row in rows for m, r in row["runs"].items()
             if not m.startswith("tfmot") and r["status"] == "ok"]
    goal("every kprune output holds exactly the target zeros", exact)
    return results


def kprune_version(kprune):
    try:
        result = subprocess.run([kprune, "--version"], capture_output=True, text=True, timeout=30)
        return result.stdout.strip() or result.stderr.strip()
    except OSError as error:
        return "cannot run: %s" % error


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kprune")
    parser.add_argument("--fixtures", default=calibrationlib.ROOT, help="calibration fixtures' directory")
    parser.add_argument("--only", action="append", help="a dataset's name (repeatable)")
    parser.add_argument("--sparsity", type=float, action="append", help="default: 0.8, 0.9 and 0.95")
    parser.add_argument("--schedule", choices=("polynomial", "constant"), default="polynomial",
                        help="TF-MOT's pruning schedule (tools/tfmot_baseline.py)")
    parser.add_argument("--no-tfmot", action="store_true", help="skip TF-MOT (about 10 s a run)")
    parser.add_argument("--no-keras3", action="store_true", help="skip the extra rows of Keras 3 archives")
    parser.add_argument("--json", help="also write every run's details to this file")
    parser.add_argument("--keep", help="keep the outputs in this directory instead of a temporary one")
    args = parser.parse_args()
    args.kprune = os.path.abspath(args.kprune)
    args.fixtures = os.path.abspath(args.fixtures)
    args.sparsity = args.sparsity or list(calibrationlib.SPARSITIES)
    manifest = calibrationlib.load_manifest(args.fixtures)
    entries = [e for e in manifest["datasets"] if not args.only or e["name"] in args.only]
    print("kprune: %s (%s)" % (args.kprune, kprune_version(args.kprune)))
    print("TF-MOT schedule: %s; %d CPUs" % (args.schedule, os.cpu_count()), flush=True)

    work = args.keep or tempfile.mkdtemp(prefix="kprune-bench-quality-")
    os.makedirs(work, exist_ok=True)
    rows = []
    try:
        for entry in entries:
            try:
                rows += bench_dataset(args, entry, work)
            except Exception as error:  # report and go on: the benchmark always finishes
                print("== %s: FAILED: %s" % (entry["name"], error), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_table(rows)
    goals = print_goals(rows)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"kprune": args.kprune, "schedule": args.schedule, "rows": rows,
                       "goals": [{"goal": g, "result": r} for g, r in goals]}, handle, indent=2)
            handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
