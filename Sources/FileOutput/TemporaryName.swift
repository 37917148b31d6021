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
