public import Foundation

/// An output file that appears complete or not at all.
///
/// Content is written to a temporary file in the destination's directory (so the final rename stays on one
/// file system) and renamed into place by `commit()`. Until then the temporary file is registered for removal:
/// `discard()` or deinit removes it, and `AtomicOutput.removeAllPending()` is safe to call from a signal
/// handler, so an interrupted run leaves nothing behind.
public final class AtomicOutput {
    /// The final path.
    public let destination: String
    /// The temporary path being written.
    public let temporaryPath: String
    private var done = false

    /// Reserves a temporary file beside `destination`.
    ///
    /// - Throws: `OutputError` when the directory is missing or not writable.
    public init(destination: String) throws {
        self.destination = destination
        let directory = (destination as NSString).deletingLastPathComponent
        let parent = directory.isEmpty ? "." : directory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw OutputError(path: destination, "output directory \(parent) does not exist",
                              hint: "create it first or choose another with --output-dir")
        }
        var template = Array("\(parent)/.kprune-XXXXXX.tmp".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.map { mkstemps($0, 4) } ?? -1
        }
        guard fd >= 0 else {
            throw OutputError(path: destination, "cannot write in \(parent): \(String(cString: strerror(errno)))",
                              hint: "choose a writable directory with -o or --output-dir")
        }
        close(fd)
        temporaryPath = String(cString: template)
        PendingFiles.shared.add(temporaryPath)
    }

    /// Moves the temporary file to the destination, replacing what is there; at every moment the
    /// destination is either the old file or the complete new one.
    ///
    /// An existing destination is swapped out with `renameat2(RENAME_EXCHANGE)` and then removed: a plain
    /// rename over an existing file makes ext4 allocate and start writing back the whole new file inside the
    /// rename call, which costs as much as writing it. Where exchange is not supported, `rename` is used.
    public func commit() throws {
        precondition(!done, "output committed twice")
        if AtomicOutput.exchange(temporaryPath, destination) {
            // The temporary path now holds the old destination.
            unlink(temporaryPath)
            done = true
            PendingFiles.shared.remove(temporaryPath)
            return
        }
        if rename(temporaryPath, destination) != 0 {
            let reason = String(cString: strerror(errno))
            discard()
            throw OutputError(path: destination, "cannot move the output into place: \(reason)")
        }
        done = true
        PendingFiles.shared.remove(temporaryPath)
    }

    typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    /// glibc's `renameat2`, looked up at run time: Swift's Glibc module does not export it.
    private static let renameat2: RenameAt2? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
    }()

    /// Atomically swaps two existing paths; false when either is missing or the system cannot.
    private static func exchange(_ first: String, _ second: String) -> Bool {
        guard let renameat2, access(second, F_OK) == 0 else { return false }
        let atCurrentDirectory: Int32 = -100  // AT_FDCWD
        let renameExchange: UInt32 = 2  // RENAME_EXCHANGE
        return renameat2(atCurrentDirectory, first, atCurrentDirectory, second, renameExchange) == 0
    }

    /// Removes the temporary file; the destination is left as it was.
    public func discard() {
        guard !done else { return }
        done = true
        unlink(temporaryPath)
        PendingFiles.shared.remove(temporaryPath)
    }

    deinit { discard() }

    /// Removes every temporary file not yet committed. Only async-signal-safe calls: for signal handlers.
    public static func removeAllPending() { PendingFiles.shared.unlinkAll() }
}

/// The temporary files of this process not yet committed, kept as C strings so a signal handler can unlink them.
final class PendingFiles: @unchecked Sendable {
    static let shared = PendingFiles()
    private let lock = NSLock()
    private var paths: [String: UnsafeMutablePointer<CChar>] = [:]
    // A fixed table the signal handler reads without locking or allocating.
    private let slots = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 64)

    /// The process keeps one registry, `shared`; separate ones exist for tests.
    init() { slots.initialize(repeating: nil, count: 64) }

    func add(_ path: String) {
        lock.lock(); defer { lock.unlock() }
        guard let copy = strdup(path) else { preconditionFailure("out of memory") }
        paths[path] = copy
        if let free = (0..<64).first(where: { slots[$0] == nil }) { slots[free] = copy }
    }

    func remove(_ path: String) {
        lock.lock(); defer { lock.unlock() }
        guard let copy = paths.removeValue(forKey: path) else { return }
        if let slot = (0..<64).first(where: { slots[$0] == copy }) { slots[slot] = nil }
        free(copy)
    }

    /// Unlinks registered files, then removes registered (by then empty) directories.
    func unlinkAll() {
        for index in 0..<64 { if let path = slots[index] { unlink(path) } }
        for index in 0..<64 { if let path = slots[index] { rmdir(path) } }
    }
}

/// An output that cannot be written where asked.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var hint: String?

    public init(path: String, _ message: String, hint: String? = nil) {
        self.path = path
        self.message = message
        self.hint = hint
    }

    public var description: String { hint.map { "\(message) (\($0))" } ?? message }
}
