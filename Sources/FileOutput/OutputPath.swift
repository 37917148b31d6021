internal import CProcess
import Foundation

/// Checks an output path before any work: what can be known about it without writing it.
///
/// kprune writes only regular files. A destination that exists and is anything else (a device node, a FIFO,
/// a socket, a directory, or a symbolic link to one of those) is refused whatever the options, because
/// replacing it would destroy something that is not an earlier output.
public enum OutputPath {
    /// The longest file name (one path component) Linux file systems take, in bytes: `NAME_MAX`.
    public static let nameMax = 255

    /// Checks that `destination` names a file kprune may write.
    ///
    /// - Parameters:
    ///   - destination: the output path, as the user gave it.
    ///   - replacing: whether an existing regular file may be replaced.
    /// - Throws: `OutputError` naming `destination` when the name is empty (`.emptyName`), names a directory
    ///   (`.namesDirectory`: it ends in `/`, or is `.` or `..`), has a last component longer than `nameMax`
    ///   bytes (`.nameTooLong`), lies in a directory that is missing (`.directoryMissing`) or not writable
    ///   (`.directoryNotWritable`), exists as a directory (`.existsAsDirectory`) or anything else but a regular
    ///   file (`.notRegularFile`), or exists when `replacing` is false (`.alreadyExists`).
    public static func check(_ destination: String, replacing: Bool) throws {
        guard !destination.isEmpty else {
            throw OutputError(.emptyName, path: destination, "the output name is empty")
        }
        guard !destination.hasSuffix("/") else {
            throw OutputError(
                .namesDirectory, path: destination,
                "the output ends in '/', so it names a directory, not a file")
        }
        let name = PathComponents.lastComponent(of: destination)
        if name == "." || name == ".." {
            throw OutputError(.namesDirectory, path: destination, "the output names a directory, not a file")
        }
        let bytes = name.utf8.count
        if bytes > nameMax {
            throw OutputError(
                .nameTooLong, path: destination,
                "the output's file name is \(bytes) bytes, longer than the \(nameMax) a file system takes")
        }
        try checkDirectory(of: destination)
        try checkExisting(destination, replacing: replacing)
    }

    /// The kind of what exists at `path`, following symbolic links; nil when nothing does. A dangling link
    /// counts as a link.
    static func kind(at path: String) -> FileType? {
        var mode: UInt32 = 0
        if kp_file_mode(path, 1, &mode) == 0 { return FileType(mode: mode_t(mode)) }
        if kp_file_mode(path, 0, &mode) == 0 { return FileType(mode: mode_t(mode)) }
        return nil
    }

    /// Refuses a destination that exists as anything but a regular file, or at all when not `replacing`.
    static func checkExisting(_ destination: String, replacing: Bool) throws {
        guard let kind = kind(at: destination) else { return }
        let message = "the output exists and is \(kind.described), not a regular file"
        switch kind {
        case .regular:
            if !replacing { throw alreadyExists(destination) }
        case .directory:
            throw OutputError(.existsAsDirectory, path: destination, message)
        default:
            throw OutputError(
                .notRegularFile, path: destination, message,
                hint: "choose another output")
        }
    }

    /// The refusal of an output that exists when replacing it was not allowed.
    static func alreadyExists(_ destination: String) -> OutputError {
        OutputError(.alreadyExists, path: destination, "output already exists")
    }

    /// The refusal of an output whose directory does not exist.
    static func directoryMissing(_ destination: String, _ directory: String) -> OutputError {
        OutputError(.directoryMissing, path: destination, "output directory \(directory) does not exist")
    }

    /// The refusal of an output whose directory cannot be written in, with the system's reason.
    static func directoryNotWritable(_ destination: String, _ directory: String, _ code: Int32) -> OutputError {
        OutputError(
            .directoryNotWritable, path: destination,
            "cannot write in \(directory): \(String(cString: strerror(code)))")
    }

    private static func checkDirectory(of destination: String) throws {
        let parent = PathComponents.directory(of: destination)
        var mode: UInt32 = 0
        guard kp_file_mode(parent, 1, &mode) == 0, FileType(mode: mode_t(mode)) == .directory else {
            throw directoryMissing(destination, parent)
        }
        let code = access(parent, W_OK | X_OK) == 0 ? probeWriting(in: parent) : errno
        guard code == 0 else { throw directoryNotWritable(destination, parent, code) }
    }

    /// Creates a file in `directory` and removes it: 0 when that works, else the `errno`. Permission bits
    /// do not tell (root ignores them, and file systems such as sysfs refuse new files to everyone). An
    /// unnamed file leaves no trace; where the file system has none, a named one lives for two system calls,
    /// registered for removal.
    static func probeWriting(in directory: String) -> Int32 {
        let fd = open(directory, 0o20000000 | O_DIRECTORY | O_WRONLY | O_CLOEXEC, mode_t(0o600))  // O_TMPFILE
        if fd >= 0 {
            close(fd)
            return 0
        }
        guard [EOPNOTSUPP, EISDIR, EINVAL].contains(errno) else { return errno }
        let path = "\(directory)/.kprune-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        CleanupRegistry.shared.add(path)
        defer { CleanupRegistry.shared.remove(path) }
        let named = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode_t(0o600))
        guard named >= 0 else { return errno }
        close(named)
        unlink(path)
        return 0
    }
}
