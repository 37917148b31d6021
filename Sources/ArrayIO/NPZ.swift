import Foundation
import ZIPFoundation
import ZipStreaming

/// numpy's `.npz`: a zip of `.npy` members (stored by `numpy.savez`, deflated by `savez_compressed`). A stored
/// member is read in place; a deflated one is decompressed as it is read. Nothing is extracted.
enum NPZ {
    static func archive(_ path: String) throws -> Archive {
        do {
            return try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw DataError(
                .unknownFormat, path, "not a readable .npz (zip) archive",
                hint: "save the arrays with numpy.savez", cause: error)
        }
    }

    /// The array names in the archive, without `.npy`.
    static func memberNames(_ path: String) throws -> [String] {
        try archive(path).map { entry in
            entry.path.hasSuffix(".npy") ? String(entry.path.dropLast(4)) : entry.path
        }
    }

    /// Refuses an archive holding two members for one array name (`x.npy` twice, or `x` and `x.npy`): zip
    /// allows it, numpy never writes it, and which one a reader takes is arbitrary, so the array is ambiguous.
    ///
    /// - Throws: `DataError` `.malformed` naming the array and its members.
    static func requireUniqueNames(_ zip: Archive, _ path: String, name: String) throws {
        var members: [String: [String]] = [:]
        for entry in zip {
            let array = entry.path.hasSuffix(".npy") ? String(entry.path.dropLast(4)) : entry.path
            members[array, default: []].append(entry.path)
            if let paths = members[array], paths.count > 1 {
                throw DataError(
                    .malformed, name,
                    "the archive holds the array '\(array)' twice (members \(paths.joined(separator: ", ")))",
                    hint: "numpy writes each array once; the archive is corrupt or crafted")
            }
        }
    }

    static func open(_ path: String, member: String, name: String) throws -> ArraySource {
        let zip = try archive(path)
        try requireUniqueNames(zip, path, name: name)
        guard let entry = zip[member + ".npy"] ?? zip[member] else {
            throw DataError(
                .noSuchMember, name, "no array '\(member)' in \(path)",
                hint: "it holds \(try memberNames(path).joined(separator: ", "))")
        }
        do {
            if let range = try StoredMember.dataRange(of: entry.path, in: path) {
                // numpy.savez stores members uncompressed: read them in place.
                let box = try FileHandleBox(path: path, name: name)
                return try NPY.open(
                    bytes: FileBytes(box: box, base: range.lowerBound, size: range.count, name: name),
                    name: name)
            }
            // numpy.savez_compressed deflates them: stream, a bounded buffer at a time.
            let reader = try MemberReader(archivePath: path, memberPath: entry.path)
            let source = try NPY.open(bytes: StreamedBytes(reader: reader, name: name), name: name)
            if let npy = source.backend as? NPY, npy.fortranOrder, npy.columns > 1 {
                throw DataError(
                    .unsupportedType, name, "a compressed .npz member in Fortran order cannot be read by rows",
                    hint: "save it with numpy.savez (uncompressed) or in C order")
            }
            return source
        } catch let error as ZipStreamError {
            throw DataError(.readFailed, name, "cannot read '\(member)' from \(path): \(error)", cause: error)
        }
    }
}
