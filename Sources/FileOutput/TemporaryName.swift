public import Foundation

/// The start of every temporary file and staging directory name this process makes: `.kprune-PID-`. The pid
/// tells whose an entry is, so a kprune that outlives a crashed child removes that child's entries and never
/// those of another kprune working in the same directory.
public enum TemporaryName {
    /// `.kprune-PID-` for this process.
    public static var prefix: String { prefix(for: getpid()) }

    /// `.kprune-PID-` for process `pid`.
    public static func prefix(for pid: pid_t) -> String { ".kprune-\(pid)-" }
}


/// Which output each temporary path stands for, so errors can name the user's file. Entries stay: a message
/// may be printed after the output is gone, and a `/proc/self/fd/N` path is overwritten when N is reused.
final class TemporaryNames: @unchecked Sendable {
    static let shared = TemporaryNames()
    private let lock = NSLock()
    private var destinations: [String: String] = [:]

    func record(_ temporary: String, for destination: String) {
        lock.withLock { destinations[temporary] = destination }
    }

    func replacing(in text: String) -> String {
        lock.withLock {
            // Longest first, so /proc/self/fd/12 is not matched as /proc/self/fd/1 followed by "2".
            destinations.keys.sorted { $0.count > $1.count }.reduce(text) { text, temporary in
                text.replacingOccurrences(of: temporary, with: destinations[temporary] ?? temporary)
            }
        }
    }
}

