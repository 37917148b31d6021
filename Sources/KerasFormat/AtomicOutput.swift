public import Foundation
import Synchronization

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
    ///   - replacing: whether `commit()` may replace an existing regular file (`--force`, `--in-place`).
    ///   - unnamed: false to use a named temporary file from the start (tests of that fallback).
    /// - Throws: `OutputError` when the directory is missing or not writable.
    public init(destination: String, replacing: Bool = false, unnamed: Bool = true) throws {
        self.destination = destination
        self.replacing = replacing
        directory = OutputPath.directory(of: destination)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw OutputError(path: destination, "output directory \(directory) does not exist",
                              hint: "create it first or choose another with -o or --output-dir")
        }
        if unnamed, let fd = try AtomicOutput.openUnnamed(in: directory, for: destination) {
            descriptor = fd
            temporaryPath = "/proc/self/fd/\(fd)"
        } else {
            temporaryPath = try AtomicOutput.createNamed(in: directory, for: destination)
        }
        TemporaryNames.shared.record(temporaryPath, for: destination)
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
        TemporaryNames.shared.record(name, for: destination)
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
        PendingFiles.shared.remove(temporaryPath)
    }

    deinit { discard() }

    /// Removes every temporary file not yet committed. Only async-signal-safe calls: for signal handlers.
    public static func removeAllPending() { PendingFiles.shared.unlinkAll() }

    /// Replaces, in `text`, every temporary path this process wrote an output through with that output's
    /// destination, so messages name the user's file.
    public static func naming(destinationsIn text: String) -> String {
        TemporaryNames.shared.replacing(in: text)
    }

    private func finish() {
        done = true
        // Only named temporary files are registered; an unnamed one only has its descriptor to close.
        if descriptor >= 0 { closeDescriptor() } else { PendingFiles.shared.remove(temporaryPath) }
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
            throw OutputError(path: destination, "output already exists", hint: "pass --force to replace it")
        }
        throw OutputError(path: destination, "cannot move the output into place: \(String(cString: strerror(code)))")
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
            throw OutputError(path: destination, "cannot write in \(directory): \(String(cString: strerror(code)))",
                              hint: "choose a writable directory with -o or --output-dir")
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
        guard fd >= 0 else {
            throw OutputError(path: destination, "cannot write in \(directory): \(String(cString: strerror(errno)))",
                              hint: "choose a writable directory with -o or --output-dir")
        }
        close(fd)
        let path = String(cString: template)
        PendingFiles.shared.add(path)
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
            PendingFiles.shared.add(name)
            if linkat(atCurrentDirectory, source, atCurrentDirectory, name, atSymlinkFollow) == 0 { return name }
            let code = errno
            PendingFiles.shared.remove(name)
            if code != EEXIST {
                throw OutputError(path: destination, "cannot name the output: \(String(cString: strerror(code)))")
            }
        }
        throw OutputError(path: destination, "cannot name the output: no free temporary name in \(directory)")
    }

    /// Renames `source` to `destination`, failing when anything exists there: `renameat2(RENAME_NOREPLACE)`,
    /// or `link` + `unlink` where the file system lacks it.
    static func moveWithoutReplacing(_ source: String, to destination: String) throws {
        if let renameat2 {
            if renameat2(atCurrentDirectory, source, atCurrentDirectory, destination, renameNoReplace) == 0 { return }
            let code = errno
            if code == EEXIST { throw alreadyExists(destination) }
            guard [EINVAL, ENOSYS, EOPNOTSUPP].contains(code) else { throw cannotMove(destination, code) }
        }
        guard link(source, destination) == 0 else {
            let code = errno
            throw code == EEXIST ? alreadyExists(destination) : cannotMove(destination, code)
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

    private static func alreadyExists(_ destination: String) -> OutputError {
        OutputError(path: destination, "output already exists", hint: "pass --force to replace it")
    }

    private static func cannotMove(_ destination: String, _ code: Int32) -> OutputError {
        OutputError(path: destination, "cannot move the output into place: \(String(cString: strerror(code)))")
    }
}

// MARK: - Registries

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

/// The named temporary files and staging directories of this process not yet committed or removed, kept so a
/// signal handler can unlink them.
///
/// Entries live in a singly linked list of C nodes that only grows: a node's path is swapped in and out
/// atomically, and freed nodes are reused, so the list is as long as the most entries ever held at once and
/// has no fixed capacity. `unlinkAll()` reads it without locking or allocating. A path is freed only after
/// its node is cleared; a handler that loaded the pointer just before may read freed (still mapped) memory
/// and unlink a garbled name, which fails harmlessly.
final class PendingFiles: @unchecked Sendable {
    static let shared = PendingFiles()

    private struct Node: ~Copyable {
        /// The path's `strdup` copy as a bit pattern, or 0 when the node is free.
        let path: Atomic<UInt>
        let next: UnsafeMutablePointer<Node>?
    }

    private let lock = NSLock()
    /// The newest node; nodes are never freed.
    private let head = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: 1)

    /// The process keeps one registry, `shared`; separate ones exist for tests.
    init() { head.initialize(to: Atomic(0)) }

    /// Registers `path` for removal by `unlinkAll()`.
    func add(_ path: String) {
        guard let copy = strdup(path) else { preconditionFailure("out of memory") }
        let bits = UInt(bitPattern: copy)
        lock.withLock {
            var node = firstNode()
            while let current = node {
                if current.pointee.path.compareExchange(expected: 0, desired: bits, ordering: .sequentiallyConsistent)
                    .exchanged
                {
                    return
                }
                node = current.pointee.next
            }
            let fresh = UnsafeMutablePointer<Node>.allocate(capacity: 1)
            fresh.initialize(to: Node(path: Atomic(bits), next: firstNode()))
            head.pointee.store(UInt(bitPattern: fresh), ordering: .sequentiallyConsistent)
        }
        // Outside a signal handler, the walk's metadata is made now, with a path to walk over.
        walk(removing: false, directories: false)
    }

    /// Forgets `path` (it was committed or removed).
    func remove(_ path: String) {
        lock.withLock {
            var node = firstNode()
            while let current = node {
                let bits = current.pointee.path.load(ordering: .sequentiallyConsistent)
                if let stored = UnsafeMutablePointer<CChar>(bitPattern: bits), strcmp(stored, path) == 0 {
                    current.pointee.path.store(0, ordering: .sequentiallyConsistent)
                    free(stored)
                    return
                }
                node = current.pointee.next
            }
        }
    }

    /// How many paths are registered.
    var count: Int {
        lock.withLock {
            var total = 0
            var node = firstNode()
            while let current = node {
                if current.pointee.path.load(ordering: .sequentiallyConsistent) != 0 { total += 1 }
                node = current.pointee.next
            }
            return total
        }
    }

    /// Unlinks registered files, then removes registered (by then empty) directories. Async-signal-safe:
    /// it allocates nothing and takes no lock, provided the walk's type metadata already exists, which
    /// `add` makes sure of by walking the list once itself (a signal handler that asked the Swift runtime
    /// for metadata would call `malloc`, and deadlock if the signal came inside `malloc`).
    func unlinkAll() {
        walk(removing: true, directories: false)
        walk(removing: true, directories: true)
    }

    /// One pass over the registered paths; with `removing` false it only touches each path.
    private func walk(removing: Bool, directories: Bool) {
        var node = firstNode()
        while let current = node {
            if let path = UnsafeMutablePointer<CChar>(
                bitPattern: current.pointee.path.load(ordering: .sequentiallyConsistent)), removing
            {
                if directories { rmdir(path) } else { unlink(path) }
            }
            node = current.pointee.next
        }
    }

    private func firstNode() -> UnsafeMutablePointer<Node>? {
        UnsafeMutablePointer<Node>(bitPattern: head.pointee.load(ordering: .sequentiallyConsistent))
    }
}

/// The start of every temporary file and staging directory name this process makes: `.kprune-PID-`. The pid
/// tells whose an entry is, so a kprune that outlives a crashed child removes that child's entries and never
/// those of another kprune working in the same directory.
public enum TemporaryName {
    /// `.kprune-PID-` for this process.
    public static var prefix: String { prefix(for: getpid()) }

    /// `.kprune-PID-` for process `pid`.
    public static func prefix(for pid: pid_t) -> String { ".kprune-\(pid)-" }
}

/// An output that cannot be written where asked.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    /// The output (or, for a failed read, the input) the error is about, as the user named it.
    public var path: String
    /// What went wrong.
    public var message: String
    /// How to fix it, when there is something to do.
    public var hint: String?

    /// An error about `path`.
    public init(path: String, _ message: String, hint: String? = nil) {
        self.path = path
        self.message = message
        self.hint = hint
    }

    /// The message, with the hint in parentheses.
    public var description: String { hint.map { "\(message) (\($0))" } ?? message }
}
