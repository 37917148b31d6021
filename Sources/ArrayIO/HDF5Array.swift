import HDF5

/// An HDF5 dataset, read by hyperslabs with libhdf5 converting to float32.
struct HDF5Array: ArrayBackend {
    let file: File
    let dataset: Dataset

    /// Opens dataset `name` of the HDF5 file at `path`, refusing what is not a numeric array stored in the file.
    ///
    /// - Parameter display: the array as the user named it (`file.h5:/path`), for errors.
    /// - Throws: `DataError`, with libhdf5's error as the cause where there is one.
    static func open(_ path: String, dataset name: String, name display: String) throws -> ArraySource {
        do {
            let file = try File(path: path)
            let dataset = try storedDataset(name, in: file.root(), path: path, display: display)
            let kind: ElementKind
            switch dataset.storedType {
            case .float: kind = .float
            case .integer: kind = .integer
            case .other(let type):
                throw DataError(.unsupportedType, display, "dataset \(name) holds \(type), not numbers")
            }
            return ArraySource(
                name: display, shape: dataset.shape, kind: kind,
                backend: HDF5Array(file: file, dataset: dataset))
        } catch let error as HDF5Error where error.code == .tooLarge || error.code == .outsideFile {
            // Refusals of kprune's own, in its own words rather than libhdf5's.
            throw DataError(
                error.code == .outsideFile ? .notStoredInside : .malformed, display,
                "\(error.object ?? name): \(error.stack.last ?? error.code.description)",
                hint: "the file is corrupt or crafted; write the data with h5py or numpy", cause: error)
        } catch let error as HDF5Error {
            // libhdf5's own words (its function names, its error stack) are the CLI's to show on request.
            throw DataError(
                .readFailed, display,
                "cannot read dataset \(name) in \(path)"
                    + (error.code == .notHDF5 ? ": not an HDF5 file" : ""),
                hint: "the file may be truncated or corrupt", cause: error)
        }
    }

    /// The dataset `name` below `root`, when it is one whose elements all lie in the file.
    private static func storedDataset(_ name: String, in root: Group, path: String, display: String) throws -> Dataset {
        let hint = "name a dataset as \(path):/GROUP/DATASET"
        guard name.contains(where: { $0 != "/" }) else {
            throw DataError(.noSuchMember, display, "'\(name)' is the file's root group, not a dataset", hint: hint)
        }
        let exists: Bool
        do {
            exists = try root.contains(name)
        } catch is HDF5Error {
            exists = false  // a path through a dataset (`/x/kernel/more`) names nothing
        }
        guard exists else { throw DataError(.noSuchMember, display, "no dataset \(name) in \(path)") }
        if let link = try linkDescription(root.linkKind(of: name)) {
            throw DataError(
                .notStoredInside, display, "\(name) in \(path) is \(link), which kprune does not follow",
                hint: "store the array in the file itself")
        }
        switch try root.kind(of: name) {
        case .dataset: break
        case .group: throw DataError(.noSuchMember, display, "\(name) in \(path) is a group, not a dataset", hint: hint)
        case .other: throw DataError(.noSuchMember, display, "\(name) in \(path) is not a dataset", hint: hint)
        }
        let dataset = try root.dataset(name)
        if let outside = dataset.outsideStorage {
            throw DataError(
                .notStoredInside, display,
                "dataset \(name) is \(outside); kprune reads only bytes inside the file",
                hint: "store the array in the file itself")
        }
        if let problem = try dataset.allocationProblem() {
            throw DataError(
                .malformed, display, "dataset \(name) is \(problem)",
                hint: "the file may be truncated or crafted; write the data with h5py or numpy")
        }
        return dataset
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

    /// Reads rows `rows` into `buffer`, converted to float32 by libhdf5.
    func read(rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        var start = [Int](repeating: 0, count: dataset.shape.count)
        var count = dataset.shape
        start[0] = rows.lowerBound
        count[0] = rows.count
        do {
            try dataset.read(start: start, count: count, into: buffer)
        } catch let error as HDF5Error {
            throw DataError(
                .readFailed, "\(file.path):\(dataset.path)", "cannot read rows \(rows)",
                hint: "the file may be truncated or corrupt", cause: error)
        }
    }
}
