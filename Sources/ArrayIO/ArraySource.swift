public import Foundation
import HDF5

/// What an array's elements are.
public enum ElementKind: Sendable, Equatable {
    case float, integer, boolean
}

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
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw DataError(name, "no such file \(path)")
        }
        let lower = path.lowercased()
        let source: ArraySource
        if lower.hasSuffix(".npz") {
            guard let member else {
                throw DataError(name, "an .npz file holds several arrays",
                                hint: "name one as \(path):NAME; it holds \(try NPZ.memberNames(path).joined(separator: ", "))")
            }
            source = try NPZ.open(path, member: member, name: name)
        } else if lower.hasSuffix(".npy") {
            if member != nil { throw DataError(name, "an .npy file holds one array", hint: "give the file alone") }
            source = try NPY.open(path, name: name)
        } else if try File.isHDF5(path) {
            guard let member else {
                throw DataError(name, "an HDF5 file holds several datasets", hint: "name one as \(path):/PATH")
            }
            source = try HDF5Array.open(path, dataset: member, name: name)
        } else {
            throw DataError(name, "not an .npy, .npz or HDF5 file", hint: "save the array with numpy.save")
        }
        guard !source.shape.isEmpty else {
            throw DataError(name, "the array is a scalar", hint: "give one row per sample")
        }
        return source
    }

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

/// An HDF5 dataset, read by hyperslabs with libhdf5 converting to float32.
struct HDF5Array: ArrayBackend {
    let file: File
    let dataset: Dataset

    static func open(_ path: String, dataset name: String, name display: String) throws -> ArraySource {
        do {
            let file = try File(path: path)
            let root = try file.root()
            guard try root.contains(name) else { throw DataError(display, "no dataset \(name) in \(path)") }
            if let link = try Self.linkDescription(root.linkKind(of: name)) {
                throw DataError(display, "\(name) in \(path) is \(link), which kprune does not follow",
                                hint: "store the array in the file itself")
            }
            guard try root.kind(of: name) == .dataset else { throw DataError(display, "no dataset \(name) in \(path)") }
            let dataset = try root.dataset(name)
            if let outside = dataset.outsideStorage {
                throw DataError(display, "dataset \(name) is \(outside); kprune reads only bytes inside the file",
                                hint: "store the array in the file itself")
            }
            if let problem = try dataset.allocationProblem() {
                throw DataError(display, "dataset \(name) is \(problem)",
                                hint: "the file may be truncated or crafted; write the data with h5py or numpy")
            }
            let kind: ElementKind
            switch dataset.storedType {
            case .float: kind = .float
            case .integer: kind = .integer
            case .other(let type):
                throw DataError(display, "dataset \(name) holds \(type), not numbers")
            }
            return ArraySource(name: display, shape: dataset.shape, kind: kind,
                               backend: HDF5Array(file: file, dataset: dataset))
        } catch let error as HDF5Error where error.code == .tooLarge || error.code == .outsideFile {
            // Refusals of kprune's own, in its own words rather than libhdf5's.
            throw DataError(display, "\(error.object ?? name): \(error.stack.last ?? error.code.description)",
                            hint: "the file is corrupt or crafted; write the data with h5py or numpy")
        } catch let error as HDF5Error {
            throw DataError(display, "cannot read \(path): \(error)")
        }
    }

    /// Words for a link that is not the object itself; nil for an ordinary link.
    private static func linkDescription(_ kind: Group.LinkKind) -> String? {
        switch kind {
        case .hard: nil
        case .soft(let target): "a soft link to \(target)"
        case .external(let file, let path): "an external link to \(file):\(path)"
        case .other: "a user-defined link"
        }
    }

    func read(rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        var start = [Int](repeating: 0, count: dataset.shape.count)
        var count = dataset.shape
        start[0] = rows.lowerBound
        count[0] = rows.count
        do {
            try dataset.read(start: start, count: count, into: buffer)
        } catch let error as HDF5Error {
            throw DataError("\(file.path):\(dataset.path)", "cannot read rows \(rows): \(error)")
        }
    }
}
