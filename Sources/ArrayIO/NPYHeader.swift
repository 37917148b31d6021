import Foundation

/// The header of an `.npy` array: the magic string and version, then a Python dict literal giving `descr`,
/// `fortran_order` and `shape`, checked against the bytes that follow.
struct NPYHeader {
    /// The element type.
    let dtype: NPY.DType
    /// Whether the elements are in column-major order.
    let fortranOrder: Bool
    /// The array's shape; empty for a scalar.
    let shape: [Int]
    /// Where the elements start.
    let dataOffset: Int

    /// Reads and checks the header at the start of `bytes`.
    ///
    /// - Parameter name: the array as the user named it, for errors.
    /// - Throws: `DataError` when there is no numpy magic, the header is unreadable or claims more than the
    ///   bytes hold, or the element type is not a number type.
    static func read(from bytes: any ByteSource, name: String) throws -> NPYHeader {
        let (headerStart, headerLength) = try locate(in: bytes, name: name)
        var header = [UInt8](repeating: 0, count: headerLength)
        try header.withUnsafeMutableBytes { try bytes.read(into: $0, at: headerStart) }
        let entries = try dictionary(header, name: name)
        // numpy refuses a header whose keys are not exactly these three; so does kprune, rather than guess.
        if let other = entries.keys.sorted().first(where: { !["descr", "fortran_order", "shape"].contains($0) }) {
            throw DataError(
                .malformed, name, "the .npy header gives the key '\(other)', which numpy does not write",
                hint: "the file is not numpy's .npy, or was crafted")
        }
        guard let descr = entries["descr"].flatMap(unquoted),
            let order = entries["fortran_order"], order == "True" || order == "False",
            let shapeText = entries["shape"], shapeText.hasPrefix("("), shapeText.hasSuffix(")")
        else {
            throw DataError(.malformed, name, "unreadable .npy header", hint: "structured arrays are not supported")
        }
        guard let dtype = NPY.DType(descr) else {
            throw DataError(
                .unsupportedType, name, "unsupported element type \(descr)",
                hint: "use float16/32/64, integers or booleans")
        }
        let shape = try parseShape(String(shapeText.dropFirst().dropLast()), name: name)
        let dataOffset = headerStart + headerLength
        try checkDataSize(shape: shape, elementSize: dtype.size, available: bytes.size - dataOffset, name: name)
        return NPYHeader(dtype: dtype, fortranOrder: order == "True", shape: shape, dataOffset: dataOffset)
    }

    /// Reads the magic string and version: where the header dict starts and how long it is.
    private static func locate(in bytes: any ByteSource, name: String) throws -> (start: Int, length: Int) {
        let fileSize = bytes.size
        var prefix = [UInt8](repeating: 0, count: 12)
        let got = min(fileSize, 12)
        try prefix.withUnsafeMutableBytes { buffer in
            try bytes.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<got]), at: 0)
        }
        guard got >= 10, prefix.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) else {
            throw DataError(
                .unknownFormat, name, "not an .npy file (no NUMPY magic)", hint: "save the array with numpy.save")
        }
        let major = prefix[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(prefix[8]) | Int(prefix[9]) << 8
            headerStart = 10
        case 2, 3:
            guard got >= 12 else { throw DataError(.truncated, name, "truncated .npy header") }
            headerLength = Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24
            headerStart = 12
        default:
            throw DataError(.unknownFormat, name, "unsupported .npy version \(major)")
        }
        guard headerLength <= NPY.maximumHeaderBytes, headerStart + headerLength <= fileSize else {
            throw DataError(
                .malformed, name, "the .npy header claims \(headerLength) bytes in a file of \(fileSize)",
                hint: "headers are at most \(NPY.maximumHeaderBytes) bytes; the file is corrupt or crafted")
        }
        return (headerStart, headerLength)
    }

    /// The dimensions of a shape tuple's text: `3, 4` -> `[3, 4]`; `` -> `[]`.
    private static func parseShape(_ text: String, name: String) throws -> [Int] {
        let dimensions = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        return try dimensions.map { dimension -> Int in
            guard let value = Int(dimension), value >= 0 else {
                throw DataError(.malformed, name, "bad shape (\(text))")
            }
            return value
        }
    }

    /// Refuses a shape whose size overflows, or that needs more bytes than `available`.
    private static func checkDataSize(shape: [Int], elementSize: Int, available: Int, name: String) throws {
        var dataBytes = elementSize
        // Zero extents are skipped so that no partial product (a row's length) can overflow either.
        for dimension in shape where dimension > 0 {
            let (product, overflow) = dataBytes.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw DataError(
                    .malformed, name, "shape \(shape) overflows a 64-bit size",
                    hint: "the header is corrupt or crafted")
            }
            dataBytes = product
        }
        guard shape.contains(0) || available >= dataBytes else {
            throw DataError(
                .truncated, name, "the file is shorter than its header says (shape \(shape))",
                hint: "the file may be truncated")
        }
    }

    /// The entries of the header's dict literal (`{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`):
    /// each key, unquoted, with its value's text as written. Strings are skipped whole, so a quote, colon or comma
    /// inside one is never taken for the dict's own; brackets nest.
    ///
    /// - Throws: `DataError` `.malformed` when a key is given twice (numpy, reading the dict as Python does,
    ///   would take the last where a reader stopping at the first takes another array), or an entry has no key.
    static func dictionary(_ header: [UInt8], name: String) throws -> [String: String] {
        var entries: [String: String] = [:]
        var depth = 0
        var key: String? = nil
        var start = 0
        func text(_ end: Int) -> String {
            String(decoding: header[start..<max(start, min(end, header.count))], as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func finishEntry(at end: Int) throws {
            defer { key = nil }
            guard let key else {
                guard text(end).isEmpty else {
                    throw DataError(
                        .malformed, name, "the .npy header has an entry without a key (\(text(end)))",
                        hint: "the file is corrupt or crafted")
                }
                return
            }
            guard entries[key] == nil else {
                throw DataError(
                    .malformed, name, "the .npy header gives the key '\(key)' twice",
                    hint: "numpy writes each key once; the file is corrupt or crafted")
            }
            entries[key] = text(end)
        }
        var index = 0
        while index < header.count {
            switch header[index] {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                let quote = header[index]
                index += 1
                while index < header.count, header[index] != quote {
                    index += header[index] == UInt8(ascii: "\\") ? 2 : 1
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "("):
                depth += 1
                if depth == 1 { start = index + 1 }
            case UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ")"):
                if depth == 1 { try finishEntry(at: index) }
                depth -= 1
            case UInt8(ascii: ":") where depth == 1 && key == nil:
                guard let quoted = unquoted(text(index)) else {
                    throw DataError(
                        .malformed, name, "the .npy header has a key that is not a string (\(text(index)))",
                        hint: "the file is corrupt or crafted")
                }
                key = quoted
                start = index + 1
            case UInt8(ascii: ",") where depth == 1:
                try finishEntry(at: index)
                start = index + 1
            default: break
            }
            index += 1
        }
        return entries
    }

    /// The text of a Python string literal in single or double quotes; nil for anything else.
    private static func unquoted(_ literal: String) -> String? {
        guard literal.count >= 2, let first = literal.first, first == "'" || first == "\"", literal.last == first else {
            return nil
        }
        return String(literal.dropFirst().dropLast())
    }
}
