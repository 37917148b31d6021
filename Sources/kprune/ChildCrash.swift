import Foundation

/// An input whose child process died by a signal.
///
/// A crash in libhdf5 is blamed on the file (libhdf5 1.10.8 segfaults on some corrupt files); a crash in
/// kprune's own code is a bug in kprune, whatever the file holds; `SIGKILL` comes from outside (the kernel's
/// out-of-memory killer, most often).
struct ChildCrash: Error, CustomStringConvertible {
    var signal: Int32
    /// Where the child was, as its crash handler reported; nil when none ran.
    var site: ChildOutcome.CrashSite?
    /// What the child printed before it died (a Swift trap's `Fatal error: ...` line, say), not relayed.
    var childStderr: Data

    var description: String {
        if signal == SIGALRM {
            return "kprune stopped on this file: reading its structure took over \(StructureDeadline.seconds) s "
                + "(the file may be corrupt)"
        }
        var cause = ChildStopped.name(of: signal)
        let printed = String(decoding: childStderr, as: UTF8.self)
        if let range = printed.range(of: "Fatal error: ") {
            let message = printed[range.upperBound...].prefix { $0 != "\n" }.prefix(200)
            if !message.isEmpty { cause += ", after \"\(message)\"" }
        }
        let verdict =
            switch site {
            case .library: "the file may be corrupt"
            case .kprune: "a bug in kprune: please report it, with the file if you can share it"
            case nil where signal == SIGKILL: "killed from outside, often for lack of memory"
            case nil: "sent from outside, or a bug in kprune: please report it if you did not send it"
            }
        return "kprune stopped on this file (\(cause)) (\(verdict))"
    }
}

/// An input whose child process was stopped by `SIGINT`, `SIGTERM` or `SIGHUP` sent to it alone: its
/// handler removed its unfinished outputs and exited with 128 + the signal number (or, before the handler
/// was installed, the signal ended it; the parent removes what it left). The parent then stops the batch
/// with that status, as when it is interrupted itself.
struct ChildStopped: Error, CustomStringConvertible {
    var signal: Int32

    /// The stop that exit `status` of a child reports; nil for any other status.
    init?(status: Int32) {
        let number = status - 128
        guard [SIGINT, SIGTERM, SIGHUP].contains(number) else { return nil }
        signal = number
    }

    var description: String { "kprune was stopped on this file (\(Self.name(of: signal))); nothing was written" }

    /// `signal 15: Terminated`.
    static func name(of signal: Int32) -> String {
        guard let name = strsignal(signal) else { return "signal \(signal)" }
        return "signal \(signal): \(String(cString: name))"
    }
}
