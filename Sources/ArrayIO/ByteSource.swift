import Foundation
import ZipStreaming

/// Where an array's bytes come from, addressed from the array file's first byte.
protocol ByteSource: Sendable {
    /// The number of bytes.
    var size: Int { get }
    /// Fills `buffer` from byte `offset` on; throws `DataError` when the bytes are not all there.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws
}

/// Bytes of a file read in place with `pread`: a whole `.npy` file, or a stored `.npz` member at `base`.
struct FileBytes: ByteSource {
    let box: FileHandleBox
    let base: Int
    let size: Int
    let name: String

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        guard offset >= 0, buffer.count <= size - offset else {
            throw DataError(
                .truncated, name, "cannot read the array's data: it ends early",
                hint: "the file may be truncated")
        }
        var done = 0
        while done < buffer.count {
            let got = pread(
                box.descriptor, buffer.baseAddress.map { $0 + done }, buffer.count - done,
                off_t(base + offset + done))
            if got < 0, errno == EINTR { continue }
            guard got > 0 else {
                throw DataError(
                    got == 0 ? .truncated : .readFailed, name, "cannot read the array's data",
                    hint: "the file may be truncated")
            }
            done += got
        }
    }
}

/// A compressed `.npz` member's bytes, decompressed as they are read.
struct StreamedBytes: ByteSource {
    let reader: MemberReader
    let name: String
    var size: Int { reader.size }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        guard offset >= 0, buffer.count <= size - offset else {
            throw DataError(
                .truncated, name, "cannot read the array's data: it ends early",
                hint: "the archive may be truncated")
        }
        do {
            try reader.read(into: buffer, at: offset)
        } catch let error as ZipStreamError {
            throw DataError(
                .readFailed, name, "cannot read the array's data: \(error)",
                hint: "the archive may be corrupt", cause: error)
        }
    }
}
