import FileOutput
import FineTune
import HDF5
import KerasFormat
import Numerics
import Sparsity

/// What `kprune inspect` reports about a file. Keys of its JSON form are stable, snake_case.
public struct InspectionReport: Sendable, Encodable {
    /// One weight of a layer.
    public struct Weight: Sendable, Encodable {
        /// The weight's name in the file.
        public var name: String
        /// Its dataset path.
        public var dataset: String
        /// Its shape.
        public var shape: [Int]
        /// Its stored element type.
        public var dtype: String
        /// Zero elements; nil for non-float weights and for links, which are not followed.
        public var zeros: Int?
        /// `kernel` or `bias`, for the weights kprune recognises.
        public var role: String?
        /// How the name is linked when it is not the dataset itself (`a soft link to /x`).
        public var link: String?
        /// Why the elements are not read: stored outside the file, or declared far larger than stored.
        public var storageProblem: String?
        /// For a kernel: the structures its zeros have, of `Inspector.patterns` (`2:4`, `balanced`, ...); nil
        /// when not examined (not a kernel, or over `Inspector.patternLimit` elements).
        public var patterns: [String]? = nil

        enum CodingKeys: String, CodingKey {
            case name, dataset, shape, dtype, zeros, role, link, patterns
            case storageProblem = "storage_problem"
        }
    }

    /// One layer and its weights.
    public struct Layer: Sendable, Encodable {
        /// The weight's name in the file.
        public var name: String
        /// The layer's class, when the file has a config.
        public var className: String?
        /// Its activation, when its config names one.
        public var activation: String?
        /// Whether it is the layer `convert` prunes by default.
        public var final: Bool
        /// Its weights, in the file's order.
        public var weights: [Weight]

        enum CodingKeys: String, CodingKey {
            case name, activation, final, weights
            case className = "class_name"
        }
    }

    /// The file inspected.
    public var file: String
    /// Its format.
    public var format: String
    /// The Keras version that wrote it, when the file says.
    public var kerasVersion: String?
    /// The final layer's path, when there is one.
    public var finalLayer: String?
    /// Why no final layer is named, when none is.
    public var finalLayerProblem: String?
    /// The order of `layers`: `forward` (from the config), `layer_names` (the file's list of the model's
    /// layers), or `file` (the groups' order in the file, which need not be the model's).
    public var layerOrder: String
    /// Every layer with weights.
    public var layers: [Layer]
    /// How many optimizer weights the file holds.
    public var optimizerWeights: Int

    enum CodingKeys: String, CodingKey {
        case file, format, layers
        case kerasVersion = "keras_version"
        case finalLayer = "final_layer"
        case finalLayerProblem = "final_layer_problem"
        case layerOrder = "layer_order"
        case optimizerWeights = "optimizer_weights"
    }
}

/// Reads a Keras file's structure and counts the zeros of every weight.
public enum Inspector {
    /// Reads `path`'s structure and every weight's zero count.
    /// - Parameter observer: told once the file's structure (format, config, layers, weight locations) has
    ///   been read, before any weight's values are.
    /// - Throws: `KerasFormatError` or `HDF5Error` when the file cannot be read as Keras.
    public static func inspect(_ path: String, observer: (any PruningObserver)? = nil) throws -> InspectionReport {
        let model = try KerasModel.open(path)
        observer?.structureRead()
        let final = model.finalLayer?.path
        let layers = try File.withOpen(model.weightsFile) { file in
            let root = try file.root()
            return try model.layers.map { layer in
                let weights = try layer.weights.enumerated().map { index, weight in
                    let readable = weight.link == nil && weight.storageProblem == nil
                    var report = InspectionReport.Weight(
                        name: weight.name, dataset: weight.dataset, shape: weight.shape,
                        dtype: weight.storedType.description,
                        zeros: readable ? try zeroCount(root.dataset(weight.dataset)) : nil,
                        role: index == layer.kernelIndex ? "kernel" : (weight == layer.bias ? "bias" : nil),
                        link: weight.link, storageProblem: weight.storageProblem)
                    if index == layer.kernelIndex, readable, let zeros = report.zeros, weight.shape.count >= 2,
                        weight.count <= patternLimit
                    {
                        report.patterns = try patterns(
                            of: root.dataset(weight.dataset).readAll(as: Float.self), shape: weight.shape,
                            zeros: zeros)
                    }
                    return report
                }
                return InspectionReport.Layer(
                    name: layer.path.description, className: layer.className,
                    activation: layer.activation, final: layer.path == final,
                    weights: weights)
            }
        }
        return InspectionReport(
            file: path, format: model.format.rawValue, kerasVersion: model.kerasVersion,
            finalLayer: final?.description, finalLayerProblem: model.finalLayerProblem,
            layerOrder: model.layerOrder.rawValue, layers: layers, optimizerWeights: model.optimizerWeights.count)
    }

    /// The structures `inspect` looks for in a kernel's zeros.
    public static let patterns: [KernelRequirements.Structure] = [
        .nOfM(kept: 1, group: 2), .nOfM(kept: 2, group: 4), .nOfM(kept: 1, group: 4), .nOfM(kept: 4, group: 8),
        .balanced,
    ]
    /// The largest kernel whose structures `inspect` examines (read whole): 16M elements.
    public static let patternLimit = 1 << 24

    /// Which of `patterns` a kernel with `zeros` zeros has (balanced only when it has zeros).
    static func patterns(of values: [Float], shape: [Int], zeros: Int) -> [String] {
        guard zeros > 0 else { return [] }
        return patterns.filter { KernelCheck.check(values, shape: shape, $0).0 }.map(\.description)
    }

    /// Counts zero elements of a float dataset in bounded memory; nil for other types.
    static func zeroCount(_ dataset: Dataset) throws -> Int? {
        guard case .float = dataset.storedType else { return nil }
        if dataset.shape.isEmpty {
            return try dataset.readAll(as: Double.self).filter { $0 == 0 }.count
        }
        let segmentation = Segmentation(shape: dataset.shape, layout: try dataset.layout(), storedBytes: 8)
        let store = HDF5Store<Double>(dataset)
        var values = [Double](repeating: 0, count: segmentation.maxSegment)
        var zeros = 0
        for range in segmentation.segments {
            try values.withUnsafeMutableBufferPointer { buffer in
                let segment = UnsafeMutableBufferPointer(rebasing: buffer[0..<range.count])
                try store.read(range, into: segment)
                zeros += MagnitudePruner.countZeros(UnsafeBufferPointer(segment))
            }
        }
        return zeros
    }
}
