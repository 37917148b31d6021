#!/usr/bin/env python3
"""Every interop check in one process, so TensorFlow and Keras are imported once:

    .venv/bin/python tools/interop.py path/to/kprune [--fixtures fixtures]

runs tools/interop_check.py's checks with magnitude pruning, then fine-tuned with l1 and with mask, then
tools/interop_data.py's fine-tunes from the models' own inputs. Each prints its lines and summary as it does
alone; exits 1 if any check failed.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfsetup  # noqa: E402,F401  (first: TensorFlow's environment and determinism)

import interop_check  # noqa: E402
import interop_data  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kprune", help="path to the kprune binary")
    parser.add_argument("--fixtures", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                           "..", "fixtures"))
    args = parser.parse_args()
    binary, fixtures = os.path.abspath(args.kprune), os.path.abspath(args.fixtures)
    failed = 0
    for fine_tune in (None, "l1", "mask"):
        failed += interop_check.run(binary, fixtures, fine_tune=fine_tune)
    failed += interop_data.run(binary, fixtures)
    print("interop (all): %d failed" % failed, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
