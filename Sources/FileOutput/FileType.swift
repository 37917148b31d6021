internal import CProcess
import Foundation

/// What a path is, from `st_mode`.
public enum FileType: Equatable, Sendable {
    case regular, directory, characterDevice, blockDevice, fifo, socket, symbolicLink, other

    /// What `path` names, following symbolic links; nil when nothing is there (or a link dangles). Neither
    /// opens nor blocks, whatever the path is. The corresponding C function is `stat`.
    ///
    /// - Parameter path: any path.
    public init?(at path: String) {
        var mode: UInt32 = 0
        guard kp_file_mode(path, 1, &mode) == 0 else { return nil }
        self.init(mode: mode_t(mode))
    }

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
    public var described: String {
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
