import FileOutput
import Foundation

/// A private directory, `.kprune-PID-UUID.staging`, holding the files extracted from an input; it and the
/// files registered in it are removed when this object goes away, and by a signal handler before that
/// (`CleanupRegistry.shared`).
final class StagingDirectory {
    /// The directory.
    let url: URL
    /// The registered paths: the files in it, then the directory itself.
    private var registered: [String]

    /// Creates the directory in `parent` (the system's temporary directory when nil).
    ///
    /// - Parameter input: the file being staged, named by the error.
    /// - Throws: `KerasFormatError` `.stagingFailed` when the directory cannot be created.
    init(in parent: String?, for input: String) throws {
        let parentURL = URL(fileURLWithPath: parent ?? NSTemporaryDirectory())
        url = parentURL.appendingPathComponent("\(TemporaryName.prefix)\(UUID().uuidString).staging")
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        } catch {
            throw KerasFormatError(
                .stagingFailed, file: input,
                "cannot create a staging directory in \(parentURL.path)",
                hint: "check that the directory exists and is writable", cause: error)
        }
        registered = [url.path]
        CleanupRegistry.shared.add(url.path)
    }

    /// The path of a file named `name` in the directory, registered for removal before anything creates it,
    /// so an interrupted run removes it too.
    func file(named name: String) -> String {
        let path = url.appendingPathComponent(name).path
        CleanupRegistry.shared.add(path)
        registered.insert(path, at: 0)
        return path
    }

    deinit {
        do { try FileManager.default.removeItem(at: url) } catch { /* already gone */  }
        for path in registered { CleanupRegistry.shared.remove(path) }
    }
}
