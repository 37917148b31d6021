import HDF5
import KerasFormat

/// Every dataset of an HDF5 file with its values, read as float64 (strings and others are skipped).
public func datasetValues(_ path: String) throws -> [String: [Double]] {
    var result: [String: [Double]] = [:]
    try File.withOpen(path) { file in
        func visit(_ group: Group) throws {
            for name in try group.childNames() {
                switch try group.kind(of: name) {
                case .group: try visit(group.group(name))
                case .dataset:
                    let dataset = try group.dataset(name)
                    if case .float = dataset.storedType { result[dataset.path] = try dataset.readAll(as: Double.self) }
                case .other: break
                }
            }
        }
        try visit(file.root())
    }
    return result
}

/// The weights file inside a fixture: the file itself, or a `.keras` archive's extracted weights.
public func withWeights<R>(_ path: String, _ body: (String) throws -> R) throws -> R {
    let model = try KerasModel.open(path)
    return try body(model.weightsFile)
}
