import Foundation
internal import CProcess

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
    ///   - replacing: whether an existing regular file may be replaced (`--force`, `--in-place`).
    /// - Throws: `OutputError` naming `destination` when the name is empty, ends in `/`, has a last component
    ///   longer than `nameMax` bytes, lies in a directory that is missing or not writable, exists as anything
    ///   but a regular file, or exists when `replacing` is false.
    public static func check(_ destination: String, replacing: Bool) throws {
        guard !destination.isEmpty else {
            throw OutputError(path: destination, "the output name is empty", hint: "name a file with -o OUT")
        }
        guard !destination.hasSuffix("/") else {
            throw OutputError(path: destination, "the output ends in '/', so it names a directory, not a file",
                              hint: "name a file with -o, or write into a directory with --output-dir")
        }
        let name = (destination as NSString).lastPathComponent
        if name == "." || name == ".." {
            throw OutputError(path: destination, "the output names a directory, not a file",
                              hint: "name a file with -o, or write into a directory with --output-dir")
        }
        if name.utf8.count > nameMax {
            throw OutputError(path: destination,
                              "the output's file name is \(name.utf8.count) bytes, longer than the \(nameMax) a file system takes",
                              hint: "choose a shorter name with -o")
        }
        try checkDirectory(of: destination)
        try checkExisting(destination, replacing: replacing)
    }

    /// The directory an output goes to: its path's parent, or `.`.
    public static func directory(of destination: String) -> String {
        let parent = (destination as NSString).deletingLastPathComponent
        if parent.isEmpty { return destination.hasPrefix("/") ? "/" : "." }
        return parent
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
        guard kind == .regular else {
            throw OutputError(path: destination, "the output exists and is \(kind.described), not a regular file",
                              hint: kind == .directory ? "use --output-dir to write into a directory"
                                  : "kprune replaces only regular files, even with --force; choose another output")
        }
        if !replacing {
            throw OutputError(path: destination, "output already exists", hint: "pass --force to replace it")
        }
    }

    private static func checkDirectory(of destination: String) throws {
        let parent = directory(of: destination)
        var mode: UInt32 = 0
        guard kp_file_mode(parent, 1, &mode) == 0, FileType(mode: mode_t(mode)) == .directory else {
            throw OutputError(path: destination, "output directory \(parent) does not exist",
                              hint: "create it first or choose another with -o or --output-dir")
        }
        let code = access(parent, W_OK | X_OK) == 0 ? probeWriting(in: parent) : errno
        guard code == 0 else {
            throw OutputError(path: destination, "cannot write in \(parent): \(String(cString: strerror(code)))",
                              hint: "choose a writable directory with -o or --output-dir")
        }
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

/// What a path is, from `st_mode`.
enum FileType: Equatable {
    case regular, directory, characterDevice, blockDevice, fifo, socket, symbolicLink, other

    init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFIFO: self = .fifo
        case S_IFSOCK: self = .socket
        case S_IFLNK: self = .symbolicLink
        default: self = .other
        }
    }

    /// With its article, for messages: "a FIFO".
    var described: String {
        switch self {
        case .regular: "a regular file"
        case .directory: "a directory"
        case .characterDevice: "a character device"
        case .blockDevice: "a block device"
        case .fifo: "a FIFO"
        case .socket: "a socket"
        case .symbolicLink: "a dangling symbolic link"
        case .other: "a special file"
        }
    }
}
