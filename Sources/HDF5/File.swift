internal import CHDF5

/// An open HDF5 file.
///
/// Open read-only for inspection; a file opened for writing must be closed with `close()`, which surfaces
/// flush failures. `File.withOpen(_:mode:_:)` is the everyday, scoped form.
public final class File {
    /// How a file is opened.
    public enum Mode: Sendable { case readOnly, readWrite }

    /// The path the file was opened from.
    public let path: String
    /// The file as errors name it: `path`, unless it was opened under another name (an output's temporary
    /// file is named by its destination).
    public let name: String
    /// Whether the file may be written.
    public let mode: Mode
    let handle: Handle

    /// Whether the file at `path` starts with an HDF5 signature.
    ///
    /// - Throws: `HDF5Error` with code `.openFailed` when the file cannot be read at all.
    /// The corresponding C function is `H5Fis_hdf5`.
    public static func isHDF5(_ path: String) throws -> Bool {
        Library.ensureInitialized()
        let result = H5Fis_hdf5(path)
        if result < 0 { throw HDF5Error.current(.openFailed, "H5Fis_hdf5", file: path, object: nil) }
        return result > 0
    }

    /// Opens an existing file.
    ///
    /// - Parameters:
    ///   - path: the file to open.
    ///   - mode: `.readOnly` or `.readWrite`.
    ///   - name: the file as errors name it, when not `path` (an output's temporary file, named by its
    ///     destination); libhdf5's own mentions of `path` are replaced too.
    /// - Throws: `HDF5Error` with code `.notHDF5` when the file has no HDF5 signature, `.openFailed` when
    ///   libhdf5 refuses it (truncated, corrupt), with libhdf5's reason in `stack`.
    /// The corresponding C function is `H5Fopen`.
    public convenience init(path: String, mode: Mode = .readOnly, name: String? = nil) throws {
        let name = name ?? path
        Library.ensureInitialized()
        let signature = H5Fis_hdf5(path)
        if signature < 0 { throw HDF5Error.current(.openFailed, "H5Fis_hdf5", file: name, object: nil, opened: path) }
        guard signature > 0 else {
            throw HDF5Error(code: .notHDF5, operation: "H5Fis_hdf5", file: name, object: nil)
        }
        let flags = mode == .readOnly ? kp_H5F_ACC_RDONLY() : kp_H5F_ACC_RDWR()
        let id = H5Fopen(path, flags, defaultPropertyList)
        guard id >= 0 else { throw HDF5Error.current(.openFailed, "H5Fopen", file: name, object: nil, opened: path) }
        self.init(path: path, name: name, mode: mode, handle: Handle(id, closeName: "H5Fclose", closer: H5Fclose))
    }

    /// Creates a new, empty file opened for writing; close it with `close()`.
    ///
    /// - Throws: `HDF5Error` with code `.openFailed` when the file exists or cannot be created.
    /// The corresponding C function is `H5Fcreate` (with `H5F_ACC_EXCL`: an existing file is never replaced).
    public static func create(_ path: String) throws -> File {
        Library.ensureInitialized()
        let id = H5Fcreate(path, kp_H5F_ACC_EXCL(), defaultPropertyList, defaultPropertyList)
        guard id >= 0 else { throw HDF5Error.current(.openFailed, "H5Fcreate", file: path, object: nil) }
        return File(
            path: path, name: path, mode: .readWrite,
            handle: Handle(id, closeName: "H5Fclose", closer: H5Fclose))
    }

    private init(path: String, name: String, mode: Mode, handle: Handle) {
        self.path = path
        self.name = name
        self.mode = mode
        self.handle = handle
    }

    /// An error from libhdf5's current error stack about `object` in this file, naming the file by `name`.
    func error(_ code: HDF5Error.Code, _ operation: String, object: String?) -> HDF5Error {
        HDF5Error.current(code, operation, file: name, object: object, opened: path)
    }

    /// Closes the file, flushing what was written.
    ///
    /// - Throws: `HDF5Error` with code `.closeFailed` when the flush or close fails.
    /// The corresponding C functions are `H5Fflush` and `H5Fclose`.
    public func close() throws {
        guard handle.isOpen else { return }
        Library.ensureInitialized()
        if mode == .readWrite, H5Fflush(handle.id, H5F_SCOPE_LOCAL) < 0 {
            let error = error(.writeFailed, "H5Fflush", object: nil)
            do { try handle.close(in: self, object: nil) } catch { /* the flush failure is the one to report */  }
            throw error
        }
        try handle.close(in: self, object: nil)
    }

    /// Bytes reserved before the HDF5 data (the user block); addresses in the file count from its end.
    /// The corresponding C functions are `H5Fget_create_plist` and `H5Pget_userblock`.
    public func userBlockSize() throws -> Int {
        let plist = H5Fget_create_plist(handle.id)
        guard plist >= 0 else { throw error(.readFailed, "H5Fget_create_plist", object: nil) }
        defer { H5Pclose(plist) }
        var size: hsize_t = 0
        guard H5Pget_userblock(plist, &size) >= 0 else {
            throw error(.readFailed, "H5Pget_userblock", object: nil)
        }
        return Int(size)
    }

    /// Whether this libhdf5 was built thread-safe, so handles may be used from several threads (one call
    /// at a time, under libhdf5's own lock). The corresponding C function is `H5is_library_threadsafe`.
    public static var libraryIsThreadSafe: Bool {
        Library.ensureInitialized()
        var safe: hbool_t = false
        return H5is_library_threadsafe(&safe) >= 0 && safe
    }

    /// The root group, `/`.
    public func root() throws -> Group { try Group(file: self, path: "/") }

    /// Opens `path`, runs `body`, and closes the file even when `body` throws.
    ///
    /// A close failure after a successful body is thrown; after a failed body, the body's error wins.
    /// - Parameters:
    ///   - path: the file to open.
    ///   - mode: `.readOnly` or `.readWrite`.
    ///   - name: the file as errors name it, when not `path` (see `init(path:mode:name:)`).
    ///   - body: the work on the open file.
    /// - Returns: what `body` returns.
    /// - Throws: `HDF5Error` when the file cannot be opened or closed, or what `body` throws.
    public static func withOpen<R>(
        _ path: String, mode: Mode = .readOnly, name: String? = nil,
        _ body: (File) throws -> R
    ) throws -> R {
        let file = try File(path: path, mode: mode, name: name)
        let result: R
        do {
            result = try body(file)
        } catch {
            do { try file.close() } catch { /* the body's error is the one to report */  }
            throw error
        }
        try file.close()
        return result
    }
}
