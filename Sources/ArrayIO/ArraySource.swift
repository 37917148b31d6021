import Foundation
import HDF5

/// A numeric array in a file, read by rows (its first dimension) as float32, so arrays larger than memory
/// can be streamed a batch at a time.
///
/// Names: `data.npy`; a member of an archive, `data.npz:features`; a dataset of an HDF5 file,
/// `data.h5:/group/features`. A one-dimensional array has one column; more dimensions are flattened into
/// the columns in row-major order.
public final class ArraySource {
    /// The name the user gave.
    public let name: String
    /// The array's full shape.
    public let shape: [Int]
    /// What the stored elements are; every kind is read as float32.
    public let kind: ElementKind
    let backend: any ArrayBackend

    /// Rows: the first dimension.
    public var rows: Int { shape.first ?? 0 }
    /// Columns: the product of the other dimensions (1 for a vector).
    public var columns: Int { shape.dropFirst().reduce(1, *) }

    init(name: String, shape: [Int], kind: ElementKind, backend: any ArrayBackend) {
        self.name = name
        self.shape = shape
        self.kind = kind
        self.backend = backend
    }

    /// Opens `name`: a `.npy` file, `file.npz:member`, or `file.h5:/dataset`.
    ///
    /// - Parameter stagingDirectory: unused, kept for source compatibility: `.npz` members are read in place
    ///   (stored) or decompressed as they are read (deflated), never extracted.
    /// - Throws: `DataError` saying what is missing or unreadable.
    public static func open(_ name: String, stagingDirectory: String? = nil) throws -> ArraySource {
        let (path, member) = split(name)
        try checkRegularFile(path, name: name)
        let lower = path.lowercased()
        let source: ArraySource
        if lower.hasSuffix(".npz") {
            guard let member else {
                throw DataError(
                    .memberRequired, name, "an .npz file holds several arrays",
                    hint: "name one as \(path):NAME; it holds \(try NPZ.memberNames(path).joined(separator: ", "))")
            }
            source = try NPZ.open(path, member: member, name: name)
        } else if lower.hasSuffix(".npy") {
            if member != nil {
                throw DataError(.memberNotAllowed, name, "an .npy file holds one array", hint: "give the file alone")
            }
            source = try NPY.open(path, name: name)
        } else if try File.isHDF5(path) {
            guard let member else {
                throw DataError(
                    .memberRequired, name, "an HDF5 file holds several datasets",
                    hint: "name one as \(path):/PATH")
            }
            source = try HDF5Array.open(path, dataset: member, name: name)
        } else {
            throw DataError(
                .unknownFormat, name, "not an .npy, .npz or HDF5 file", hint: "save the array with numpy.save")
        }
        guard !source.shape.isEmpty else {
            throw DataError(.shapeMismatch, name, "the array is a scalar", hint: "give one row per sample")
        }
        return source
    }

    /// Refuses a path that is missing or is not a regular file (after symbolic links): opening a FIFO blocks
    /// until a writer comes, and a device or directory never ends or cannot be read as an array.
    /// The corresponding C function is `stat`, which neither opens nor blocks.
    static func checkRegularFile(_ path: String, name: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { throw DataError(.noSuchFile, name, "no such file \(path)") }
        let kind: String
        switch info.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: kind = "a directory"
        case S_IFIFO: kind = "a FIFO"
        case S_IFCHR: kind = "a character device"
        case S_IFBLK: kind = "a block device"
        case S_IFSOCK: kind = "a socket"
        default: kind = "a special file"
        }
        throw DataError(
            .notRegularFile, name, "\(path == name ? "" : path + " ")is \(kind), not a regular file",
            hint: "give the array in a file")
    }

    /// The file an array's name lies in: `x.npz` for `x.npz:features`, `d.h5` for `d.h5:/group/x`.
    ///
    /// - Parameter name: an array's name, as `open(_:)` takes it.
    /// - Returns: the file's path.
    public static func file(of name: String) -> String { split(name).path }

    /// Splits `file:member` at the first colon after which the part before names an existing file, since
    /// members may hold colons themselves (`w.h5:/dense/kernel:0`); a name that is a file is taken whole.
    static func split(_ name: String) -> (path: String, member: String?) {
        if FileManager.default.fileExists(atPath: name) { return (name, nil) }
        var index = name.startIndex
        while let colon = name[index...].firstIndex(of: ":") {
            let path = String(name[..<colon])
            if FileManager.default.fileExists(atPath: path) {
                return (path, String(name[name.index(after: colon)...]))
            }
            index = name.index(after: colon)
        }
        guard let colon = name.lastIndex(of: ":") else { return (name, nil) }
        return (String(name[..<colon]), String(name[name.index(after: colon)...]))
    }

    /// Reads rows `range` into `buffer` (row-major, `range.count × columns` floats).
    ///
    /// - Throws: `DataError` when the file cannot be read.
    public func read(rows range: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows outside the array")
        precondition(buffer.count == range.count * columns, "buffer does not fit the rows")
        if range.isEmpty { return }
        try backend.read(rows: range, into: buffer)
    }

    /// Reads every row.
    public func readAll() throws -> [Float] {
        var values = [Float](repeating: 0, count: rows * columns)
        try values.withUnsafeMutableBufferPointer { try read(rows: 0..<rows, into: $0) }
        return values
    }
}

/// How one kind of file delivers rows.
protocol ArrayBackend {
    func read(rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws
}
