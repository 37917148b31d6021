import Foundation

/// How a child ended, and what it wrote to standard error when that was captured.
struct ChildOutcome {
    enum Termination: Equatable {
        case exited(Int32)
        case signalled(Int32)
    }

    /// Where a child that died by a crash signal was, as its crash handler reported it.
    enum CrashSite: Equatable {
        /// In libhdf5: the faulting instruction, or a return address near the stack's top, lay in it.
        case library
        /// In kprune's own code (a Swift trap, say).
        case kprune
    }

    var termination: Termination
    var stderr: Data
    /// The child's process id, which its temporary names carry.
    var pid: pid_t
    /// Where the crash happened; nil when no crash handler ran (a signal from outside, `SIGKILL`).
    var crashSite: CrashSite?
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
        // The child's crash handler writes where it crashed to this pipe (see `CrashCleanup`).
        var reportEnds: [Int32] = [-1, -1]
        guard pipe(&reportEnds) == 0 else { throw ChildSpawnError(reason: String(cString: strerror(errno))) }
        defer {
            for end in pipeEnds + reportEnds where end >= 0 { close(end) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if capture {
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], STDERR_FILENO)
            posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
            posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        }
        posix_spawn_file_actions_addclose(&actions, reportEnds[0])
        var environment = ProcessInfo.processInfo.environment
        environment[Isolation.childVariable] = String(inputIndex)
        environment[Isolation.parentVariable] = String(getpid())
        environment[CrashCleanup.reportVariable] = String(reportEnds[1])
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
        close(reportEnds[1])
        reportEnds[1] = -1
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
        // The child is gone and held the only other write end: this read returns at once.
        var site: UInt8 = 0
        let crashSite: ChildOutcome.CrashSite? =
            switch read(reportEnds[0], &site, 1) == 1 ? site : 0 {
            case UInt8(ascii: "H"): .library
            case UInt8(ascii: "K"): .kprune
            default: nil
            }
        return ChildOutcome(termination: termination, stderr: captured, pid: pid, crashSite: crashSite)
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
    var description: String {
        "cannot start a process for this file: \(reason) (set KPRUNE_IN_PROCESS=1 to work without one)"
    }
}
