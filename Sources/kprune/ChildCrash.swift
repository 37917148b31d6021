import Foundation

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
