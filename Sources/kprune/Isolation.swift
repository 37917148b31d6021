import ArgumentParser
internal import CProcess
import Foundation

/// Runs each input's work in a child process of its own, so that no input can crash kprune.
///
/// libhdf5 1.10.8 segfaults on some corrupt files, and a Swift trap ends the whole process; neither can be
/// caught in-process. So the parent, which has only parsed its arguments, re-executes its own binary
/// (`/proc/self/exe`, with `posix_spawn`) once per input, with the same arguments and `KPRUNE_CHILD_INPUT`
/// naming the input's index; the child does that one input's work exactly as an in-process run would.
/// The child's standard output (the result) is the parent's; its standard error is relayed, or, when it
/// died by a signal, replaced by one line: `error: FILE: kprune stopped on this file (signal 11: ...)`.
/// The parent then removes the temporary files and staging directories the child left (`.kprune-*.tmp`,
/// `.kprune-*.staging`, `.kprune-*.npz`, created while the child ran) and goes on with the next input.
///
/// Threads: `posix_spawn` is glibc's `clone(CLONE_VM | CLONE_VFORK)` followed at once by `exec`, so no code
/// of ours runs in the new process before `exec` and other threads' locks do not matter. At spawn time the
/// parent has one other thread, OpenBLAS's idle worker, which its library constructor starts at load; no
/// libhdf5 call has been made.
///
/// Environment variables (not options, so `--help` stays about pruning):
/// - `KPRUNE_IN_PROCESS=1`: do every input's work in this process, as before isolation (for measuring its
///   cost; a crash then ends the batch).
/// - `KPRUNE_CHILD_INPUT=N`: set by the parent in a child; the child works on input N only.
/// - Test hook, honoured only in a child and only when `KPRUNE_TEST_HOOKS=1`: `KPRUNE_TEST_CRASH_ON=NAME[,NAME]`
///   makes the child working on an input whose last path component is NAME leave a temporary file and a
///   staging directory in its output directory, as a conversion would, then raise `SIGSEGV` as if in
///   libhdf5 (a corrupt file); `KPRUNE_TEST_TRAP_ON=NAME[,NAME]` likewise, then stops on a Swift trap (a bug
///   in kprune); `KPRUNE_TEST_HANG_ON=NAME[,NAME]` likewise, then waits for a signal.
enum Isolation {
    static let inProcessVariable = "KPRUNE_IN_PROCESS"
    static let childVariable = "KPRUNE_CHILD_INPUT"
    static let parentVariable = "KPRUNE_PARENT_PID"
    static let testHooksVariable = "KPRUNE_TEST_HOOKS"
    static let crashOnVariable = "KPRUNE_TEST_CRASH_ON"
    static let hangOnVariable = "KPRUNE_TEST_HANG_ON"
    static let trapOnVariable = "KPRUNE_TEST_TRAP_ON"

    /// Whether this process is a child working on one input.
    static var isChild: Bool { ProcessInfo.processInfo.environment[childVariable] != nil }

    /// The inputs this process works on itself: in the parent none (each has been worked on in a child by
    /// the time this returns), in a child its one input, with `KPRUNE_IN_PROCESS=1` all of them.
    ///
    /// - Parameters:
    ///   - inputs: the command's inputs, in order.
    ///   - outputFile: `-o`, whose directory may receive temporary files.
    ///   - outputDirectory: `--output-dir`, likewise.
    /// - Throws: `ExitCode.failure` in the parent when any input failed, `ExitCode(128 + n)` when the parent
    ///   was interrupted by signal n (forwarded to the child, which cleaned up and exited).
    static func inputsForThisProcess(_ inputs: [String], outputFile: String? = nil, outputDirectory: String? = nil)
        throws -> [String]
    {
        let environment = ProcessInfo.processInfo.environment
        let scratch = ScratchDirectories(outputFile: outputFile, outputDirectory: outputDirectory)
        if let value = environment[childVariable] {
            guard let index = Int(value), inputs.indices.contains(index) else {
                throw ValidationError(
                    "\(childVariable)=\(value) names no input (it is set by kprune for its own child processes)")
            }
            CrashCleanup.install(reportDescriptor: environment[CrashCleanup.reportVariable])
            endWithParent(environment[parentVariable])
            if environment[testHooksVariable] == "1" {
                TestHook.run(
                    on: inputs[index], crashOn: environment[crashOnVariable],
                    trapOn: environment[trapOnVariable], hangOn: environment[hangOnVariable], scratch: scratch)
            }
            return [inputs[index]]
        }
        if environment[inProcessVariable] == "1" { return inputs }
        try runChildren(inputs, scratch: scratch)
        return []
    }

    /// A child gets `SIGTERM` when its parent dies (even by `SIGKILL`), so it removes its unfinished output
    /// and stops instead of working on, orphaned; if the parent is already gone, it stops at once.
    private static func endWithParent(_ parent: String?) {
        _ = kp_set_parent_death_signal(SIGTERM)
        if let parent, let pid = pid_t(parent), getppid() != pid { exit(128 + SIGTERM) }
    }

    /// Works on each input in a child, in order; the batch goes on after any failure or crash.
    private static func runChildren(_ inputs: [String], scratch: ScratchDirectories) throws {
        Forwarding.install()
        var failures = 0
        var usageFailures = 0
        for (index, input) in inputs.enumerated() {
            if let signal = Forwarding.received { throw ExitCode(128 + signal) }
            let directories = scratch.directories(for: input)
            let before = Leftovers.list(in: directories)
            let outcome: ChildOutcome
            do {
                outcome = try Child.run(inputIndex: index)
            } catch {
                ErrorLine.report(error, file: input)
                failures += 1
                continue
            }
            switch outcome.termination {
            case .exited(0):
                FileHandle.standardError.write(outcome.stderr)
            case .exited(let status):
                FileHandle.standardError.write(outcome.stderr)
                failures += 1
                // Stopped by a signal sent to the child alone (its handler exits 128 + n): the input gets a
                // line, and the batch stops as after an interrupt.
                if let stopped = ChildStopped(status: status), Forwarding.received == nil {
                    Leftovers.remove(in: directories, except: before, madeBy: outcome.pid)
                    ErrorLine.report(stopped, file: input)
                    throw ExitCode(status)
                }
                // 64 is a usage error the child found once it had read the input (predict's output names).
                if status == ExitCode.validationFailure.rawValue { usageFailures += 1 }
                // 1 and 64 are ordinary failures, cleaned up by the child; anything else ended it early.
                if status != 1, status != ExitCode.validationFailure.rawValue {
                    Leftovers.remove(in: directories, except: before, madeBy: outcome.pid)
                }
                if status > 128, let signal = Forwarding.received { throw ExitCode(128 + signal) }
                // Standard output was closed (`| head -1`): nobody reads the results of the rest either.
                if status == 128 + SIGPIPE { throw ExitCode(status) }
            case .signalled(let signal):
                Leftovers.remove(in: directories, except: before, madeBy: outcome.pid)
                // Killed by the signal the parent forwarded: the batch stops, with no crash to report.
                if let received = Forwarding.received { throw ExitCode(128 + received) }
                // Stopped from outside before its handler was installed: as when the handler ran.
                if let stopped = ChildStopped(status: 128 + signal) {
                    ErrorLine.report(stopped, file: input)
                    throw ExitCode(128 + signal)
                }
                ErrorLine.report(
                    ChildCrash(signal: signal, site: outcome.crashSite, childStderr: outcome.stderr),
                    file: input)
                failures += 1
            }
        }
        if let signal = Forwarding.received { throw ExitCode(128 + signal) }
        if usageFailures > 0, usageFailures == failures { throw ExitCode.validationFailure }
        if failures > 0 { throw ExitCode.failure }
    }
}
