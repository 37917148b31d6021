import Foundation

/// Writes `.npy` files of little-endian float32 in C order (format version 1.0), a batch of rows at a time.
public struct NPYWriter {
    private let handle: FileHandle
    /// The file written.
    public let path: String
    /// The file as messages name it: an output's destination, never the `/proc/self/fd/N` path its content is
    /// written through.
    public let name: String

    /// Starts the file at `path` (which must exist, empty: an output reserved for it) with the header of an
    /// array of `shape`.
    /// - Parameters:
    ///   - path: the file to write.
    ///   - shape: the array's shape, rows first.
    ///   - name: the file as errors name it, when not `path` (an output's destination).
    /// - Throws: `DataError` naming `name` when the file cannot be written.
    public init(path: String, shape: [Int], name: String? = nil) throws {
        self.path = path
        self.name = name ?? path
        do {
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            // Reserved outputs are empty; anything else is emptied (a device such as /dev/full cannot be).
            if try handle.seekToEnd() != 0 { try handle.truncate(atOffset: 0) }
            try handle.write(contentsOf: Self.header(shape: shape))
        } catch {
            throw DataError(.writeFailed, self.name, "cannot write the array: \(Self.reason(error))", cause: error)
        }
    }

    /// The version-1.0 header: magic, version, length, then the dict padded with spaces to a multiple of 64.
    static func header(shape: [Int]) -> Data {
        let dimensions = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dimensions)), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(dict.utf8.count)
        bytes.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        bytes.append(contentsOf: Array(dict.utf8))
        return bytes
    }

    /// Appends `values` (whole rows, row-major).
    public func append(_ values: [Float]) throws {
        let data = values.withUnsafeBufferPointer { Data(buffer: $0) }
        do {
            try handle.write(contentsOf: data)
        } catch {
            throw DataError(.writeFailed, name, "cannot write the array: \(Self.reason(error))", cause: error)
        }
    }

    /// Finishes the file.
    public func close() throws {
        do { try handle.close() } catch {
            throw DataError(.writeFailed, name, "cannot finish the array: \(Self.reason(error))", cause: error)
        }
    }

    /// The system's reason for a failed write (`No space left on device`), else Foundation's description.
    static func reason(_ error: any Error) -> String {
        let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
        if let underlying, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return error.localizedDescription
    }
}
