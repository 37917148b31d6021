import FineTune
import Sparsity
import FileOutput
import ArgumentParser
internal import CProcess
import Foundation
import KerasFormat

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
///   staging directory in its output directory, as a conversion would, then raise `SIGSEGV`;
///   `KPRUNE_TEST_HANG_ON=NAME[,NAME]` likewise, then waits for a signal.
enum Isolation {
    static let inProcessVariable = "KPRUNE_IN_PROCESS"
    static let childVariable = "KPRUNE_CHILD_INPUT"
    static let parentVariable = "KPRUNE_PARENT_PID"
    static let testHooksVariable = "KPRUNE_TEST_HOOKS"
    static let crashOnVariable = "KPRUNE_TEST_CRASH_ON"
    static let hangOnVariable = "KPRUNE_TEST_HANG_ON"

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
                throw ValidationError("\(childVariable)=\(value) names no input (it is set by kprune for its own child processes)")
            }
            CrashCleanup.install()
            endWithParent(environment[parentVariable])
            if environment[testHooksVariable] == "1" {
                TestHook.run(on: inputs[index], crashOn: environment[crashOnVariable],
                             hangOn: environment[hangOnVariable], scratch: scratch)
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
                ErrorLine.report(ChildCrash(signal: signal, childStderr: outcome.stderr), file: input)
                failures += 1
            }
        }
        if let signal = Forwarding.received { throw ExitCode(128 + signal) }
        if usageFailures > 0, usageFailures == failures { throw ExitCode.validationFailure }
        if failures > 0 { throw ExitCode.failure }
    }
}

/// A time limit on reading an input's structure (its format, config, layers and where its weights are),
/// which takes milliseconds for any real file: a corrupt file can send libhdf5 into an endless loop (a
/// variable-length string whose global-heap reference points nowhere). The child arms `alarm` before it
/// opens the input and disarms it once the structure is read; when it fires, the child dies by `SIGALRM` and
/// the parent reports the input as corrupt, cleaning up as after a crash. The limit is
/// `KPRUNE_STRUCTURE_SECONDS` (default 30) seconds; 0 turns it off.
enum StructureDeadline {
    static let seconds: UInt32 = {
        guard let text = ProcessInfo.processInfo.environment["KPRUNE_STRUCTURE_SECONDS"], let value = UInt32(text)
        else { return 30 }
        return value
    }()

    /// Arms the limit (in a child process only: the parent never opens an input).
    static func arm() {
        guard Isolation.isChild else { return }
        // A caller may start kprune with SIGALRM blocked (Foundation's `Process` passes its mask on) or
        // ignored (an ignored signal stays ignored across exec): the limit would then never end the child.
        signal(SIGALRM, SIG_DFL)
        var alarmSignal = sigset_t()
        sigemptyset(&alarmSignal)
        sigaddset(&alarmSignal, SIGALRM)
        pthread_sigmask(SIG_UNBLOCK, &alarmSignal, nil)
        alarm(seconds)
    }

    /// Disarms it.
    static func disarm() { if Isolation.isChild { alarm(0) } }
}

/// An input whose child process died by a signal.
struct ChildCrash: Error, CustomStringConvertible {
    var signal: Int32
    /// What the child printed before it died (a Swift trap's `Fatal error: ...` line, say), not relayed.
    var childStderr: Data

    var description: String {
        if signal == SIGALRM {
            return "kprune stopped on this file: reading its structure took over \(StructureDeadline.seconds) s "
                + "(the file may be corrupt)"
        }
        var cause = "signal \(signal)"
        if let name = strsignal(signal) { cause += ": \(String(cString: name))" }
        let printed = String(decoding: childStderr, as: UTF8.self)
        if let range = printed.range(of: "Fatal error: ") {
            let message = printed[range.upperBound...].prefix { $0 != "\n" }.prefix(200)
            if !message.isEmpty { cause += ", after \"\(message)\"" }
        }
        return "kprune stopped on this file (\(cause)) (the file may be corrupt)"
    }
}

/// The directories in which working on one input may create temporary files and staging directories.
struct ScratchDirectories {
    var outputFile: String?
    var outputDirectory: String?

    /// The output's directory whichever option chose it (the input's own for the default name and
    /// `--in-place`, `-o`'s, `--output-dir`), and the system's temporary directory (`inspect`'s staging).
    func directories(for input: String) -> [String] {
        var result: [String] = []
        let candidates: [String?] = [outputDirectory, outputFile.map(PathComponents.directory(of:)), PathComponents.directory(of: input),
                                     NSTemporaryDirectory()]
        for candidate in candidates {
            guard let candidate else { continue }
            let normalized = (candidate as NSString).standardizingPath
            let path = normalized.isEmpty ? "." : normalized
            if !result.contains(path) { result.append(path) }
        }
        return result
    }

    /// Where the output goes: the first of `directories(for:)`.
    func outputDirectory(for input: String) -> String {
        directories(for: input)[0]
    }
}

/// kprune's temporary names, and removing those a dead child left.
enum Leftovers {
    /// `AtomicOutput`'s `.kprune-PID-XXXXXX.tmp`, a `.keras` archive's `.kprune-PID-UUID.staging` and an `.npz`
    /// member's `.kprune-UUID.npz` directory.
    static func isTemporaryName(_ name: String) -> Bool {
        name.hasPrefix(".kprune-") && [".tmp", ".staging", ".npz"].contains { name.hasSuffix($0) }
    }

    /// The temporary entries now present in each directory, by full path.
    static func list(in directories: [String]) -> Set<String> {
        var found: Set<String> = []
        for directory in directories {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory)
            } catch {
                continue  // a missing directory holds no leftovers
            }
            for name in names where isTemporaryName(name) { found.insert(directory + "/" + name) }
        }
        return found
    }

    /// Removes the temporary entries that appeared since `before` was listed and that child `pid` made (their
    /// names carry its pid): another kprune working in the same directory keeps its own.
    static func remove(in directories: [String], except before: Set<String>, madeBy pid: pid_t) {
        let prefix = TemporaryName.prefix(for: pid)
        for path in list(in: directories).subtracting(before)
        where PathComponents.lastComponent(of: path).hasPrefix(prefix) {
            do {
                try FileManager.default.removeItem(atPath: path)
            } catch {
                printError("warning: cannot remove \(path): \(error.localizedDescription)")
            }
        }
    }
}

/// How a child ended, and what it wrote to standard error when that was captured.
struct ChildOutcome {
    enum Termination: Equatable {
        case exited(Int32)
        case signalled(Int32)
    }

    var termination: Termination
    var stderr: Data
    /// The child's process id, which its temporary names carry.
    var pid: pid_t
}

/// Spawning one child and waiting for it.
enum Child {
    /// Re-executes this binary with the same arguments for input `inputIndex`, and waits for it.
    ///
    /// Standard output is inherited. Standard error is inherited on a terminal (so progress shows) and
    /// otherwise captured, to be relayed or replaced by the parent.
    ///
    /// - Throws: `ChildSpawnError` when the process cannot be started.
    static func run(inputIndex: Int) throws -> ChildOutcome {
        let capture = isatty(STDERR_FILENO) != 1
        var pipeEnds: [Int32] = [-1, -1]
        if capture {
            guard pipe(&pipeEnds) == 0 else { throw ChildSpawnError(reason: String(cString: strerror(errno))) }
        }
        defer {
            for end in pipeEnds where end >= 0 { close(end) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if capture {
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], STDERR_FILENO)
            posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
            posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        }
        var environment = ProcessInfo.processInfo.environment
        environment[Isolation.childVariable] = String(inputIndex)
        environment[Isolation.parentVariable] = String(getpid())
        // The runtime's backtracer would print pages to the captured stream and take seconds; the parent
        // reports the crash in one line.
        if environment["SWIFT_BACKTRACE"] == nil { environment["SWIFT_BACKTRACE"] = "enable=no" }
        let argv = CStrings(CommandLine.arguments)
        let envp = CStrings(environment.map { "\($0.key)=\($0.value)" })
        let result = argv.withPointers { argvPointer in
            envp.withPointers { envpPointer in
                posix_spawn(Forwarding.child, "/proc/self/exe", &actions, nil, argvPointer, envpPointer)
            }
        }
        guard result == 0 else {
            Forwarding.child.pointee = 0
            throw ChildSpawnError(reason: String(cString: strerror(result)))
        }
        let pid = Forwarding.child.pointee
        // A signal that came while spawning found no child to forward to.
        if let signal = Forwarding.received { kill(pid, signal) }
        var captured = Data()
        if capture {
            close(pipeEnds[1])
            pipeEnds[1] = -1
            captured = readAll(pipeEnds[0])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { break }
        }
        Forwarding.child.pointee = 0
        let signal = status & 0x7f
        let termination: ChildOutcome.Termination = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
        return ChildOutcome(termination: termination, stderr: captured, pid: pid)
    }

    private static func readAll(_ descriptor: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                data.append(contentsOf: buffer[0..<count])
            } else if count == 0 || errno != EINTR {
                return data
            }
        }
    }
}

/// A child process that could not be started.
struct ChildSpawnError: Error, CustomStringConvertible {
    var reason: String
    var description: String { "cannot start a process for this file: \(reason) (set KPRUNE_IN_PROCESS=1 to work without one)" }
}

/// NUL-terminated copies of strings, as the `char *const[]` that `posix_spawn` takes.
final class CStrings {
    private var pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { string in
            guard let copy = strdup(string) else { preconditionFailure("out of memory") }
            return copy
        }
        pointers.append(nil)
    }

    func withPointers<R>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        pointers.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { preconditionFailure("a C string array holds at least NULL") }
            return body(base)
        }
    }

    deinit { for pointer in pointers { free(pointer) } }
}

/// The parent's handling of SIGINT, SIGTERM and SIGHUP: forwarded to the running child, which removes its
/// unfinished outputs and exits; the parent then stops the batch with 128 + the signal number.
enum Forwarding {
    /// The running child's pid, 0 when none; read by the signal handler.
    nonisolated(unsafe) static let child: UnsafeMutablePointer<pid_t> = {
        let pointer = UnsafeMutablePointer<pid_t>.allocate(capacity: 1)
        pointer.initialize(to: 0)
        return pointer
    }()
    /// The last signal received, 0 when none.
    nonisolated(unsafe) static let signalNumber: UnsafeMutablePointer<Int32> = {
        let pointer = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        pointer.initialize(to: 0)
        return pointer
    }()

    static var received: Int32? { signalNumber.pointee == 0 ? nil : signalNumber.pointee }

    static func install() {
        // Both are initialised here, never first in the handler.
        _ = child
        _ = signalNumber
        // A caller may have blocked them (Foundation's `Process` passes on a blocked mask); the child
        // inherits this thread's mask, so both get them.
        var forwarded = sigset_t()
        sigemptyset(&forwarded)
        for number in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&forwarded, number) }
        sigprocmask(SIG_UNBLOCK, &forwarded, nil)
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number) { received in
                Forwarding.signalNumber.pointee = received
                let pid = Forwarding.child.pointee
                if pid > 0 { kill(pid, received) }
            }
        }
    }
}

/// In a child: a crash first removes the registered unfinished outputs and staging, then kills the
/// process by the same signal, so the parent sees how it died.
enum CrashCleanup {
    static func install() {
        // An alternate stack, so a stack overflow's SIGSEGV still runs the handler.
        let size = 1 << 16
        var stack = stack_t()
        stack.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        stack.ss_size = size
        stack.ss_flags = 0
        sigaltstack(&stack, nil)
        for number in [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { received in
                AtomicOutput.removeAllPending()
                signal(received, SIG_DFL)
                raise(received)
            }
            action.sa_flags = Int32(SA_ONSTACK)
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
    }
}

/// The test hooks (see `Isolation`).
enum TestHook {
    static func run(on input: String, crashOn: String?, hangOn: String?, scratch: ScratchDirectories) {
        let name = PathComponents.lastComponent(of: input)
        func named(_ list: String?) -> Bool {
            list.map { $0.split(separator: ",").contains { $0 == name } } ?? false
        }
        if named(crashOn) {
            litter(scratch.outputDirectory(for: input))
            raise(SIGSEGV)
        }
        if named(hangOn) {
            litter(scratch.outputDirectory(for: input))
            while true { pause() }
        }
    }

    /// What a conversion killed midway leaves: a temporary output and a staging directory, unregistered.
    private static func litter(_ directory: String) {
        var template = Array("\(directory)/\(TemporaryName.prefix)XXXXXX.tmp".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.map { mkstemps($0, 4) } ?? -1
        }
        if descriptor >= 0 { close(descriptor) }
        let staging = "\(directory)/\(TemporaryName.prefix)\(UUID().uuidString).staging"
        mkdir(staging, 0o700)
        _ = FileManager.default.createFile(atPath: staging + "/model.weights.h5", contents: Data("partial".utf8))
    }
}
