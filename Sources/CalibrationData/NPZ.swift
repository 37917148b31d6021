import Foundation
import ZIPFoundation

/// numpy's `.npz`: a zip of `.npy` members (stored by `numpy.savez`, deflated by `savez_compressed`). The
/// member asked for is extracted to a private staging file, then read as `.npy`.
enum NPZ {
    static func archive(_ path: String) throws -> Archive {
        do {
            return try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw DataError(path, "not a readable .npz (zip) archive", hint: "save the arrays with numpy.savez")
        }
    }

    /// The array names in the archive, without `.npy`.
    static func memberNames(_ path: String) throws -> [String] {
        try archive(path).map { entry in
            entry.path.hasSuffix(".npy") ? String(entry.path.dropLast(4)) : entry.path
        }
    }

    static func open(_ path: String, member: String, name: String, stagingDirectory: String?) throws -> ArraySource {
        let zip = try archive(path)
        guard let entry = zip[member + ".npy"] ?? zip[member] else {
            throw DataError(name, "no array '\(member)' in \(path)",
                            hint: "it holds \(try memberNames(path).joined(separator: ", "))")
        }
        let parent = URL(fileURLWithPath: stagingDirectory ?? NSTemporaryDirectory())
        let staging = parent.appendingPathComponent(".kprune-\(UUID().uuidString).npz")
        let file = staging.appendingPathComponent("member.npy")
        do {
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false)
            _ = try zip.extract(entry, to: file)
        } catch {
            do { try FileManager.default.removeItem(at: staging) } catch { /* nothing was made */ }
            throw DataError(name, "cannot extract '\(member)' from \(path): \(error)")
        }
        let box: FileHandleBox
        do {
            box = try FileHandleBox(path: file.path, name: name)
        } catch {
            do { try FileManager.default.removeItem(at: staging) } catch { /* best effort */ }
            throw error
        }
        // The open descriptor keeps the data: nothing stays on disk, even if the process dies.
        unlink(file.path)
        rmdir(staging.path)
        return try NPY.open(box: box, name: name)
    }
}
