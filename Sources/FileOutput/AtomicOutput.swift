import Foundation

/// An output file that appears complete or not at all, and replaces only what it was allowed to.
///
/// Where the file system allows, the content is written to an unnamed file in the destination's directory
/// (`open(dir, O_TMPFILE)`), reached by path as `/proc/self/fd/N`, and given its name by `commit()`: until
/// then it has no name, so not even `SIGKILL` leaves anything behind. Where unnamed files are not supported,
/// or the writer needs a file it can resolve by name (libhdf5 cannot open `/proc/self/fd/N`), the content goes to
/// a named temporary file, `.kprune-PID-XXXXXX.tmp`, registered for removal: `discard()` or deinit removes it,
/// and `AtomicOutput.removeAllPending()` is safe to call from a signal handler.
///
/// `commit()` never replaces anything unless `replacing` is set: the name is given with `linkat` or
/// `renameat2(RENAME_NOREPLACE)`, which fail when a file appeared meanwhile. With `replacing`, an existing
/// regular file is swapped out with `renameat2(RENAME_EXCHANGE)`; anything that is not a regular file is
/// refused.
///
/// Errors name `destination`, never the temporary path: writers reach the content through
/// `openForWriting()`, `copyContents(of:excluding:)`, or `namedTemporaryPath()` with the destination as the
/// name their own errors give (libhdf5's `File(path:mode:name:)`).
public final class AtomicOutput {
    /// The final path, as the user gave it.
    public let destination: String
    /// The path the content is written through: `/proc/self/fd/N` for an unnamed file, else the named
    /// temporary file beside the destination.
    public private(set) var temporaryPath: String
    /// Whether the content is still in an unnamed file (nothing to clean up if the process dies).
    public var isUnnamed: Bool { descriptor >= 0 && !named }
    /// Whether `commit()` may replace an existing regular file.
    public let replacing: Bool

    private let directory: String
    /// The unnamed file's descriptor, or -1.
    private var descriptor: Int32 = -1
    /// Whether the unnamed file was also given a temporary name (see `namedTemporaryPath()`).
    private var named = false
    private var done = false

    /// Reserves an output beside `destination`: an unnamed file when `unnamed` and the file system allows,
    /// else a named temporary file.
    ///
    /// - Parameters:
    ///   - destination: the final path.
    ///   - replacing: whether `commit()` may replace an existing regular file.
    ///   - unnamed: false to use a named temporary file from the start (tests of that fallback).
    /// - Throws: `OutputError` `.directoryMissing` or `.directoryNotWritable`.
    public init(destination: String, replacing: Bool = false, unnamed: Bool = true) throws {
        self.destination = destination
        self.replacing = replacing
        directory = PathComponents.directory(of: destination)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw OutputPath.directoryMissing(destination, directory)
        }
        if unnamed, let fd = try AtomicOutput.openUnnamed(in: directory, for: destination) {
            descriptor = fd
            temporaryPath = "/proc/self/fd/\(fd)"
        } else {
            temporaryPath = try AtomicOutput.createNamed(in: directory, for: destination)
        }
    }

    /// Opens the content for reading and writing; the descriptor's errors name `destination`.
    ///
    /// - Returns: a descriptor on the content, to close with `close()` once written.
    /// - Throws: `OutputError` when it cannot be opened.
    public func openForWriting() throws -> FileDescriptor {
        try FileDescriptor(path: temporaryPath, flags: O_RDWR, name: destination)
    }

    /// Makes the content a copy of `source`, leaving out the bytes in `excluded` (a hole of the same size,
    /// for the caller to fill); see `FileCopy.copy(from:to:excluding:destinationName:)`.
    ///
    /// - Throws: `InputError` naming `source` when it cannot be read, `OutputError` naming `destination`
    ///   when the content cannot be written.
    public func copyContents(of source: String, excluding excluded: Range<Int>? = nil) throws {
        try FileCopy.copy(from: source, to: temporaryPath, excluding: excluded, destinationName: destination)
    }

    /// A name for the content that libraries which resolve the path they open (libhdf5 resolves
    /// `/proc/self/fd/N` with `realpath`, which fails for an unnamed file) can use. For an unnamed file this
    /// links it to a named temporary file, registered for removal like any other; later writes through either
    /// path reach the same file.
    ///
    /// - Returns: a path to the content that is a regular file's name.
    /// - Throws: `OutputError` when the link cannot be made.
    public func namedTemporaryPath() throws -> String {
        guard isUnnamed else { return temporaryPath }
        let name = try AtomicOutput.linkToTemporaryName(temporaryPath, in: directory, for: destination)
        named = true
        closeDescriptor()
        temporaryPath = name
        return name
    }

    /// Gives the content its final name; at every moment the destination is either what it was or the
    /// complete new file.
    ///
    /// Without `replacing`, fails when anything exists at the destination, even a file that appeared after
    /// the run started. With `replacing`, an existing regular file is swapped out atomically with
    /// `renameat2(RENAME_EXCHANGE)` and then removed (a plain rename over an existing file makes ext4 start
    /// writing back the whole new file inside the rename call). A destination that is not a regular file is
    /// refused either way.
    ///
    /// - Throws: `OutputError`; the temporary content is then removed and the destination left as it was.
    public func commit() throws {
        precondition(!done, "output committed twice")
        do {
            if replacing {
                try OutputPath.checkExisting(destination, replacing: true)
                if isUnnamed, try linkUnnamed(allowExisting: true) { return finish() }
                _ = try namedTemporaryPath()
                try AtomicOutput.replace(destination, with: temporaryPath)
            } else if isUnnamed {
                _ = try linkUnnamed(allowExisting: false)
            } else {
                try AtomicOutput.moveWithoutReplacing(temporaryPath, to: destination)
            }
        } catch {
            discard()
            throw error
        }
        finish()
    }

    /// Removes the temporary content; the destination is left as it was.
    public func discard() {
        guard !done else { return }
        done = true
        if descriptor >= 0, !named {
            closeDescriptor()
            return
        }
        unlink(temporaryPath)
        CleanupRegistry.shared.remove(temporaryPath)
    }

    deinit { discard() }

    /// Removes every temporary file not yet committed. Only async-signal-safe calls: for signal handlers.
    public static func removeAllPending() { CleanupRegistry.shared.unlinkAll() }

    private func finish() {
        done = true
        // Only named temporary files are registered; an unnamed one only has its descriptor to close.
        if descriptor >= 0 { closeDescriptor() } else { CleanupRegistry.shared.remove(temporaryPath) }
    }

    private func closeDescriptor() {
        close(descriptor)
        descriptor = -1
    }

    /// Links the unnamed file to the destination; false when something exists there and `allowExisting`.
    private func linkUnnamed(allowExisting: Bool) throws -> Bool {
        if linkat(atCurrentDirectory, temporaryPath, atCurrentDirectory, destination, atSymlinkFollow) == 0 {
            return true
        }
        let code = errno
        if code == EEXIST {
            if allowExisting { return false }
            throw OutputPath.alreadyExists(destination)
        }
        throw AtomicOutput.cannotMove(destination, code)
    }
}

// MARK: - System calls

private let atCurrentDirectory: Int32 = -100  // AT_FDCWD
private let atSymlinkFollow: Int32 = 0x400  // AT_SYMLINK_FOLLOW
private let openTemporaryFile: Int32 = 0o20000000 | O_DIRECTORY  // O_TMPFILE: Swift's Glibc does not export it
private let renameNoReplace: UInt32 = 1  // RENAME_NOREPLACE
private let renameExchange: UInt32 = 2  // RENAME_EXCHANGE

extension AtomicOutput {
    typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    /// glibc's `renameat2`, looked up at run time: Swift's Glibc module does not export it.
    private static let renameat2: RenameAt2? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
    }()

    /// An unnamed file in `directory`, or nil when the file system (or `/proc`) cannot give one.
    private static func openUnnamed(in directory: String, for destination: String) throws -> Int32? {
        let fd = open(directory, openTemporaryFile | O_RDWR | O_CLOEXEC, mode_t(0o666))
        guard fd >= 0 else {
            let code = errno
            // Not supported here (old kernel, file system without O_TMPFILE): use a named file.
            if [EOPNOTSUPP, EISDIR, EINVAL, ENOENT].contains(code) { return nil }
            throw OutputPath.directoryNotWritable(destination, directory, code)
        }
        // Writers reach the file as /proc/self/fd/N; without /proc they cannot.
        guard access("/proc/self/fd/\(fd)", F_OK) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// A new, empty, registered temporary file in `directory`.
    private static func createNamed(in directory: String, for destination: String) throws -> String {
        var template = Array("\(directory)/\(TemporaryName.prefix)XXXXXX.tmp".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.map { mkstemps($0, 4) } ?? -1
        }
        guard fd >= 0 else { throw OutputPath.directoryNotWritable(destination, directory, errno) }
        close(fd)
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        CleanupRegistry.shared.add(path)
        return path
    }

    /// Links `source` (a `/proc/self/fd/N` path) to a fresh, registered temporary name in `directory`.
    private static func linkToTemporaryName(_ source: String, in directory: String, for destination: String) throws
        -> String
    {
        for _ in 0..<100 {
            let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
            let name = "\(directory)/\(TemporaryName.prefix)\(suffix).tmp"
            // Registered first: a signal between the link and the registration would leave it.
            CleanupRegistry.shared.add(name)
            if linkat(atCurrentDirectory, source, atCurrentDirectory, name, atSymlinkFollow) == 0 { return name }
            let code = errno
            CleanupRegistry.shared.remove(name)
            if code != EEXIST {
                throw OutputError(
                    .placeFailed, path: destination,
                    "cannot name the output: \(String(cString: strerror(code)))")
            }
        }
        throw OutputError(
            .placeFailed, path: destination, "cannot name the output: no free temporary name in \(directory)")
    }

    /// Renames `source` to `destination`, failing when anything exists there: `renameat2(RENAME_NOREPLACE)`,
    /// or `link` + `unlink` where the file system lacks it.
    static func moveWithoutReplacing(_ source: String, to destination: String) throws {
        if let renameat2 {
            if renameat2(atCurrentDirectory, source, atCurrentDirectory, destination, renameNoReplace) == 0 { return }
            let code = errno
            if code == EEXIST { throw OutputPath.alreadyExists(destination) }
            guard [EINVAL, ENOSYS, EOPNOTSUPP].contains(code) else { throw cannotMove(destination, code) }
        }
        guard link(source, destination) == 0 else {
            let code = errno
            throw code == EEXIST ? OutputPath.alreadyExists(destination) : cannotMove(destination, code)
        }
        unlink(source)
    }

    /// Puts `source` at `destination`, swapping out a regular file there atomically.
    private static func replace(_ destination: String, with source: String) throws {
        if let renameat2, OutputPath.kind(at: destination) != nil,
            renameat2(atCurrentDirectory, source, atCurrentDirectory, destination, renameExchange) == 0
        {
            // `source` now names the old destination.
            unlink(source)
            return
        }
        guard rename(source, destination) == 0 else { throw cannotMove(destination, errno) }
    }

    /// The failure to give the content its final name, with the system's reason.
    private static func cannotMove(_ destination: String, _ code: Int32) -> OutputError {
        OutputError(
            .placeFailed, path: destination,
            "cannot move the output into place: \(String(cString: strerror(code)))")
    }
}
