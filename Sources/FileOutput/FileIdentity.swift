import Foundation

/// A file's device and inode: which file a path names, whatever the path's spelling.
public struct FileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64

    /// The identity of the file at `path`, following symbolic links; nil when nothing is there. The
    /// corresponding C function is `stat`.
    ///
    /// - Parameter path: any path.
    public init?(of path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
