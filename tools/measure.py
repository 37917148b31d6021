"""How the benchmarks run a command they measure: wall time, peak RSS, exit status and output.

Peak RSS is the child's ru_maxrss, from os.wait4 of that child. Linux counts into it the peak RSS of the
process that starts the child: the command is started by vfork (as subprocess and posix_spawn do) and exec
records the high-water mark of the address space it leaves, which is this process's. A benchmark that
reports memory therefore keeps its own process small (no numpy, no TensorFlow: child scripts do that work)
and prints floor(), the figure a command that does nothing gets.

Standard library only, so that importing it adds nothing to that floor.
"""

import collections
import os
import subprocess
import tempfile
import time

Measured = collections.namedtuple("Measured", "seconds rss_mib returncode stdout stderr")


def run(command, env=None):
    """Run `command` (an argument list) to its end; returns Measured.

    seconds: wall time from start to exit, as seen from here; rss_mib: the child's peak RSS in MiB;
    returncode: as subprocess gives it (negative: killed by that signal); stdout, stderr: the child's
    output, decoded. The output goes to temporary files, not pipes, so a child that writes much never waits
    on this process.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        out.seek(0)
        err.seek(0)
        return Measured(seconds, usage.ru_maxrss / 1024.0, child.returncode,
                        out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def floor():
    """The peak RSS in MiB that every measured command carries from this process: that of `true`."""
    return run(["true"]).rss_mib
