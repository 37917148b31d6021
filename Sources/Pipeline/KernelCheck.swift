import Foundation
import HDF5
import KerasFormat
import Sparsity

/// What `kprune check` asks of a layer's kernel: a gate for pipelines.
public struct KernelRequirements: Sendable {
    /// At least this fraction of zeros.
    public var minSparsity: Double?
    /// At least this many zeros.
    public var minZeros: Int?
    /// A structure the zeros must have: `N:M` (at most N non-zero weights in every group of M consecutive
    /// inputs of each output unit) or balanced (every output unit with the same zeros).
    public var pattern: Structure?

    /// A structure to check.
    public enum Structure: Sendable, Equatable, CustomStringConvertible {
        case nOfM(kept: Int, group: Int)
        case balanced

        public var description: String {
            switch self {
            case .nOfM(let kept, let group): "\(kept):\(group)"
            case .balanced: "balanced"
            }
        }
    }

    public init(minSparsity: Double? = nil, minZeros: Int? = nil, pattern: Structure? = nil) {
        self.minSparsity = minSparsity
        self.minZeros = minZeros
        self.pattern = pattern
    }
}

/// The answer of `kprune check`. Keys of its JSON form are stable.
public struct KernelCheckReport: Sendable, Encodable {
    /// One condition and whether the kernel meets it.
    public struct Condition: Sendable, Encodable {
        /// `sparsity>=0.8`, `zeros>=1000`, `pattern 2:4`, `pattern balanced`.
        public let condition: String
        public let passed: Bool
        /// What was found, in words: `0.7969`, `3 groups hold more than 2 non-zero weights (the first: ...)`.
        public let found: String
    }

    public let input: String
    public let layer: String
    public let kernelShape: [Int]
    public let size: Int
    public let zeros: Int
    public let sparsity: Double
    public let conditions: [Condition]
    public var passed: Bool { conditions.allSatisfy(\.passed) }

    enum CodingKeys: String, CodingKey {
        case input, layer, size, zeros, sparsity, conditions, passed
        case kernelShape = "kernel_shape"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(input, forKey: .input)
        try container.encode(layer, forKey: .layer)
        try container.encode(kernelShape, forKey: .kernelShape)
        try container.encode(size, forKey: .size)
        try container.encode(zeros, forKey: .zeros)
        try container.encode(sparsity, forKey: .sparsity)
        try container.encode(conditions, forKey: .conditions)
        try container.encode(passed, forKey: .passed)
    }
}

/// Checks a layer's kernel against requirements, reading it once.
public enum KernelCheck {
    /// The kernel of `input`'s final layer (or `layer`) against `requirements`.
    /// - Throws: `KerasFormatError` or `HDF5Error` when the file cannot be read as Keras or has no such layer.
    public static func check(_ input: String, layer: String?, requirements: KernelRequirements) throws
        -> KernelCheckReport
    {
        let model = try KerasModel.open(input, stagingDirectory: FileManager.default.temporaryDirectory.path)
        let info = try model.targetLayer(named: layer)
        guard let kernel = info.kernel else { preconditionFailure("target layer without a kernel") }
        let values = try File.withOpen(model.weightsFile) {
            try $0.root().dataset(kernel.dataset).readAll(as: Float.self)
        }
        let zeros = values.count { $0 == 0 }
        let sparsity = values.isEmpty ? 0 : Double(zeros) / Double(values.count)
        var conditions: [KernelCheckReport.Condition] = []
        if let minimum = requirements.minSparsity {
            conditions.append(
                .init(
                    condition: "sparsity>=\(minimum)", passed: sparsity >= minimum,
                    found: String(format: "sparsity %.4f", sparsity)))
        }
        if let minimum = requirements.minZeros {
            conditions.append(.init(condition: "zeros>=\(minimum)", passed: zeros >= minimum, found: "\(zeros) zeros"))
        }
        if let structure = requirements.pattern {
            let (passed, found) = Self.check(values, shape: kernel.shape, structure)
            conditions.append(.init(condition: "pattern \(structure)", passed: passed, found: found))
        }
        return KernelCheckReport(
            input: input, layer: info.path.description, kernelShape: kernel.shape, size: values.count, zeros: zeros,
            sparsity: sparsity, conditions: conditions)
    }

    /// Whether `values` (a kernel of `shape`, its last axis the output units) has `structure`, and what was found.
    public static func check(_ values: [Float], shape: [Int], _ structure: KernelRequirements.Structure) -> (
        Bool, String
    ) {
        let units = max(shape.last ?? 1, 1)
        let rows = values.count / units
        switch structure {
        case .nOfM(let kept, let group):
            guard shape.count >= 2, group > 0, shape[shape.count - 2] % group == 0 else {
                return (
                    false,
                    "the input axis (\(shape.count >= 2 ? shape[shape.count - 2] : 0)) is not a multiple of \(group)"
                )
            }
            var failing = 0
            var first: (group: Int, unit: Int)?
            for start in stride(from: 0, to: rows, by: group) {
                for unit in 0..<units
                where (0..<group).count(where: { values[(start + $0) * units + unit] != 0 }) > kept {
                    failing += 1
                    if first == nil { first = (start / group, unit) }
                }
            }
            guard let first else { return (true, "every group of \(group) holds at most \(kept) non-zero weights") }
            return (
                false,
                "\(failing) group\(failing == 1 ? "" : "s") of \(group) hold more than \(kept) non-zero weights "
                    + "(the first: group \(first.group) of output unit \(first.unit))"
            )
        case .balanced:
            let counts = (0..<units).map { unit in (0..<rows).count { values[$0 * units + unit] == 0 } }
            let low = counts.min() ?? 0, high = counts.max() ?? 0
            return low == high
                ? (true, "every output unit holds \(low) zeros")
                : (false, "output units hold from \(low) to \(high) zeros")
        }
    }
}
