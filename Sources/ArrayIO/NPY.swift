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

    /// Opens the `.npy` file at `path`, read in place.
    ///
    /// - Parameter name: the array as the user named it, for errors.
    /// - Throws: `DataError` when the file cannot be read or is not an array numpy wrote.
    static func open(_ path: String, name: String) throws -> ArraySource {
        let box = try FileHandleBox(path: path, name: name)
        var info = stat()
        guard fstat(box.descriptor, &info) == 0 else {
            throw DataError(.readFailed, name, "cannot read the file: \(String(cString: strerror(errno)))")
        }
        return try open(bytes: FileBytes(box: box, base: 0, size: Int(info.st_size), name: name), name: name)
    }

    /// Reads an array from `bytes`: a whole `.npy` file, a stored `.npz` member in place, or a streamed one.
    ///
    /// - Throws: `DataError` when the header is not numpy's or promises more bytes than there are.
    static func open(bytes: any ByteSource, name: String) throws -> ArraySource {
        let header = try NPYHeader.read(from: bytes, name: name)
        let backend = NPY(
            bytes: bytes, dataOffset: header.dataOffset, dtype: header.dtype,
            rows: header.shape.first ?? 1, columns: header.shape.dropFirst().reduce(1, *),
            trailingShape: Array(header.shape.dropFirst()), fortranOrder: header.fortranOrder,
            path: name)
        return ArraySource(name: name, shape: header.shape, kind: header.dtype.elementKind, backend: backend)
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
                try self.bytes.read(
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<bytes]),
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
