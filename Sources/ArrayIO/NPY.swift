import Foundation

/// numpy's `.npy` format: a magic string, a header (a Python dict literal giving `descr`, `fortran_order` and
/// `shape`), then the elements. Rows are read with `pread`, so only the rows asked for are in memory.
struct NPY: ArrayBackend {
    /// An element type numpy writes: byte order, kind and width (`<f4`, `|u1`, `>i8`, `|b1`).
    struct DType: Equatable {
        enum Kind: Equatable { case float, signed, unsigned, boolean }
        let kind: Kind
        let size: Int
        let bigEndian: Bool

        init?(_ descr: String) {
            var text = Substring(descr)
            var big = false
            if let first = text.first, "<>|=".contains(first) {
                big = first == ">"
                text = text.dropFirst()
            }
            guard let code = text.first, let size = Int(text.dropFirst()) else { return nil }
            switch (code, size) {
            case ("f", 2), ("f", 4), ("f", 8): kind = .float
            case ("i", 1), ("i", 2), ("i", 4), ("i", 8): kind = .signed
            case ("u", 1), ("u", 2), ("u", 4), ("u", 8): kind = .unsigned
            case ("b", 1): kind = .boolean
            default: return nil
            }
            self.size = size
            bigEndian = big && size > 1
        }

        var elementKind: ElementKind {
            switch kind {
            case .float: .float
            case .signed, .unsigned: .integer
            case .boolean: .boolean
            }
        }
    }

    let bytes: any ByteSource
    let dataOffset: Int
    let dtype: DType
    let rows: Int
    let columns: Int
    /// The dimensions after the first: a row's elements in C order run over these, last fastest.
    let trailingShape: [Int]
    let fortranOrder: Bool
    let path: String

    /// The longest header read: numpy writes a few hundred bytes; anything near this is not an array header.
    static let maximumHeaderBytes = 1 << 20

    static func open(_ path: String, name: String) throws -> ArraySource {
        let box = try FileHandleBox(path: path, name: name)
        var info = stat()
        guard fstat(box.descriptor, &info) == 0 else {
            throw DataError(name, "cannot read the file: \(String(cString: strerror(errno)))")
        }
        return try open(bytes: FileBytes(box: box, base: 0, size: Int(info.st_size), name: name), name: name)
    }

    /// Reads an array from `bytes`: a whole `.npy` file, a stored `.npz` member in place, or a streamed one.
    static func open(bytes: any ByteSource, name: String) throws -> ArraySource {
        let fileSize = bytes.size
        var prefix = [UInt8](repeating: 0, count: 12)
        let got = min(fileSize, 12)
        try prefix.withUnsafeMutableBytes { buffer in
            try bytes.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<got]), at: 0)
        }
        guard got >= 10, prefix.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) else {
            throw DataError(name, "not an .npy file (no NUMPY magic)", hint: "save the array with numpy.save")
        }
        let major = prefix[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(prefix[8]) | Int(prefix[9]) << 8
            headerStart = 10
        case 2, 3:
            guard got >= 12 else { throw DataError(name, "truncated .npy header") }
            headerLength = Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24
            headerStart = 12
        default:
            throw DataError(name, "unsupported .npy version \(major)")
        }
        guard headerLength <= maximumHeaderBytes, headerStart + headerLength <= fileSize else {
            throw DataError(name, "the .npy header claims \(headerLength) bytes in a file of \(fileSize)",
                            hint: "headers are at most \(maximumHeaderBytes) bytes; the file is corrupt or crafted")
        }
        var header = [UInt8](repeating: 0, count: headerLength)
        try header.withUnsafeMutableBytes { try bytes.read(into: $0, at: headerStart) }
        let text = String(decoding: header, as: UTF8.self)
        guard let descr = field(text, #"'descr'\s*:\s*'([^']*)'"#),
              let order = field(text, #"'fortran_order'\s*:\s*(True|False)"#),
              let shapeText = field(text, #"'shape'\s*:\s*\(([^)]*)\)"#)
        else {
            throw DataError(name, "unreadable .npy header", hint: "structured arrays are not supported")
        }
        guard let dtype = DType(descr) else {
            throw DataError(name, "unsupported element type \(descr)",
                            hint: "use float16/32/64, integers or booleans")
        }
        let dimensions = shapeText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        let shape = try dimensions.map { text -> Int in
            guard let value = Int(text), value >= 0 else { throw DataError(name, "bad shape (\(shapeText))") }
            return value
        }
        let dataOffset = headerStart + headerLength
        var dataBytes = dtype.size
        // Zero extents are skipped so that no partial product (a row's length) can overflow either.
        for dimension in shape where dimension > 0 {
            let (product, overflow) = dataBytes.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw DataError(name, "shape \(shape) overflows a 64-bit size",
                                hint: "the header is corrupt or crafted")
            }
            dataBytes = product
        }
        guard shape.contains(0) || fileSize - dataOffset >= dataBytes else {
            throw DataError(name, "the file is shorter than its header says (shape \(shape))",
                            hint: "the file may be truncated")
        }
        let backend = NPY(bytes: bytes, dataOffset: dataOffset, dtype: dtype, rows: shape.first ?? 1,
                          columns: shape.dropFirst().reduce(1, *), trailingShape: Array(shape.dropFirst()),
                          fortranOrder: order == "True", path: name)
        return ArraySource(name: name, shape: shape, kind: dtype.elementKind, backend: backend)
    }

    private static func field(_ text: String, _ pattern: String) -> String? {
        let regex: NSRegularExpression
        do {
            regex = try NSRegularExpression(pattern: pattern)
        } catch {
            preconditionFailure("invalid constant pattern \(pattern)")
        }
        guard let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
              let range = Range(match.range(at: 1), in: text)
        else { return nil }
        return String(text[range])
    }

    func read(rows range: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        if !fortranOrder || columns == 1 {
            let first = dataOffset + range.lowerBound * columns * dtype.size
            try readConverting(count: range.count * columns, at: first) { index, value in buffer[index] = value }
            return
        }
        // Column-major: element [i, j, k] sits at i + j·d0 + k·d0·d1, so each of the row's elements is a run of
        // contiguous rows. Row element `column` (C order over the trailing dimensions, last fastest) is the
        // run numbered by the same indices taken first fastest.
        for column in 0..<columns {
            let first = dataOffset + (fortranRun(ofColumn: column) * rows + range.lowerBound) * dtype.size
            try readConverting(count: range.count, at: first) { index, value in
                buffer[index * columns + column] = value
            }
        }
    }

    /// For a Fortran-order array, which run of `rows` contiguous elements holds the row element `column`.
    ///
    /// `column` numbers the trailing indices (j, k, ...) in C order; the run number is j + k·d1 + ...
    func fortranRun(ofColumn column: Int) -> Int {
        var remainder = column
        var indices = [Int](repeating: 0, count: trailingShape.count)
        for axis in trailingShape.indices.reversed() {
            indices[axis] = remainder % trailingShape[axis]
            remainder /= trailingShape[axis]
        }
        var run = 0
        var stride = 1
        for axis in trailingShape.indices {
            run += indices[axis] * stride
            stride *= trailingShape[axis]
        }
        return run
    }

    /// Reads `count` elements from byte `offset` in pieces and hands each, as float32, to `store`.
    private func readConverting(count: Int, at offset: Int, _ store: (Int, Float) -> Void) throws {
        let piece = 1 << 16
        var raw = [UInt8](repeating: 0, count: min(count, piece) * dtype.size)
        var done = 0
        while done < count {
            let n = min(piece, count - done)
            let bytes = n * dtype.size
            try raw.withUnsafeMutableBytes { buffer in
                try self.bytes.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<bytes]),
                                    at: offset + done * dtype.size)
            }
            raw.withUnsafeBytes { convert($0, count: n) { store(done + $0, $1) } }
            done += n
        }
    }

    private func convert(_ raw: UnsafeRawBufferPointer, count: Int, _ store: (Int, Float) -> Void) {
        func load<I: FixedWidthInteger>(_ type: I.Type, _ index: Int) -> I {
            let value = raw.loadUnaligned(fromByteOffset: index * MemoryLayout<I>.size, as: I.self)
            return dtype.bigEndian ? I(bigEndian: value) : I(littleEndian: value)
        }
        for index in 0..<count {
            let value: Float
            switch (dtype.kind, dtype.size) {
            case (.float, 2): value = Float(Float16(bitPattern: load(UInt16.self, index)))
            case (.float, 4): value = Float(bitPattern: load(UInt32.self, index))
            case (.float, 8): value = Float(Double(bitPattern: load(UInt64.self, index)))
            case (.signed, 1): value = Float(load(Int8.self, index))
            case (.signed, 2): value = Float(load(Int16.self, index))
            case (.signed, 4): value = Float(load(Int32.self, index))
            case (.signed, 8): value = Float(load(Int64.self, index))
            case (.unsigned, 1), (.boolean, 1): value = Float(load(UInt8.self, index))
            case (.unsigned, 2): value = Float(load(UInt16.self, index))
            case (.unsigned, 4): value = Float(load(UInt32.self, index))
            default: value = Float(load(UInt64.self, index))
            }
            store(index, value)
        }
    }
}

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
            throw DataError(name, "cannot read the array's data: it ends early", hint: "the file may be truncated")
        }
        var done = 0
        while done < buffer.count {
            let got = pread(box.descriptor, buffer.baseAddress.map { $0 + done }, buffer.count - done,
                            off_t(base + offset + done))
            if got < 0, errno == EINTR { continue }
            guard got > 0 else {
                throw DataError(name, "cannot read the array's data", hint: "the file may be truncated")
            }
            done += got
        }
    }
}

/// An open file, closed when the last reader lets go.
final class FileHandleBox: @unchecked Sendable {
    let descriptor: Int32

    init(path: String, name: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DataError(name, "cannot read \(path): \(String(cString: strerror(errno)))") }
        descriptor = fd
    }

    deinit { close(descriptor) }
}
