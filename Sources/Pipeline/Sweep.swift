import FileOutput
public import FineTune
import Foundation
import HDF5
import KerasFormat
import Numerics
import Sparsity

/// How far a layer can be pruned: one input's layer at several zero counts, each point's result exactly what a
/// conversion to that count gives, with the work that does not depend on the count (reading the model, the
/// forward pass over the calibration and evaluation data, the survey of the rows) done once.
public struct SweepRequest: Sendable {
    /// The Keras file to read (never written).
    public var input: String
    /// A layer name or nested path; nil for the final layer.
    public var layer: String?
    /// The points, as fractions of the kernel.
    public var sparsities: [Double]
    /// Calibration data for a fine-tune at each point; nil for a data-free sweep of magnitude pruning.
    public var calibration: Calibration?
    /// Data each point is scored on; nil for none.
    public var evaluation: EvaluationData?

    /// The default points.
    public static let defaultSparsities = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99]

    /// A sweep of `input`'s final layer (or `layer`) over `sparsities`.
    public init(
        input: String, layer: String? = nil, sparsities: [Double] = SweepRequest.defaultSparsities,
        calibration: Calibration? = nil, evaluation: EvaluationData? = nil
    ) {
        self.input = input
        self.layer = layer
        self.sparsities = sparsities
        self.calibration = calibration
        self.evaluation = evaluation
    }
}

/// One point of a sweep. Keys of its JSON form are stable, snake_case; a key that does not apply is absent.
public struct SweepPoint: Sendable, Encodable {
    /// The input, as named in the request.
    public let input: String
    /// The layer's path.
    public let layer: String
    /// The point's fraction, as asked.
    public let sparsity: Double
    /// Zeros at this point: what `convert --sparsity` gives for the fraction.
    public let zeros: Int
    /// The kernel's element count.
    public let size: Int
    /// The method asked for.
    public let method: String
    /// The candidate a conversion to this count writes (`mask`, `l1`, `magnitude`, ...).
    public let chosen: String
    /// Before and after on the held-out calibration rows, when fine-tuned.
    public let fineTune: FineTuneReport?
    /// Scores on the evaluation data, when given.
    public let eval: EvaluationReport?
    /// Without data: the share of the kernel's squared magnitude that magnitude pruning removes at this count,
    /// a proxy for the damage, not a measure of it.
    public let removedMagnitude: Double?
    /// Wall time of this point (the shared work is counted in the first point's).
    public let seconds: Double

    enum CodingKeys: String, CodingKey {
        case input, layer, sparsity, zeros, size, method, chosen, eval, seconds
        case fineTune = "fine_tune"
        case removedMagnitude = "removed_magnitude"
    }
}

/// Runs sweeps.
public enum Sweep {
    /// Sweeps one input; `point` is told of each point as it is done.
    /// - Throws: what a conversion of the input throws, before any point or at the point that fails.
    public static func run(_ request: SweepRequest, point: ((SweepPoint) -> Void)? = nil) throws -> [SweepPoint] {
        var clock = ContinuousClock.now
        let staging = FileManager.default.temporaryDirectory.path
        let model = try KerasModel.open(request.input, stagingDirectory: staging)
        let conversion = ConversionRequest(
            input: request.input, output: request.input, target: .zeros(0), layer: request.layer,
            calibration: request.calibration, evaluation: request.evaluation)
        let plan = try ConversionPlan(request: conversion, model: model)
        let targets = try request.sparsities.map { try ZeroTarget.sparsity($0).count(forSize: plan.kernel.count) }
        let blas = BLAS(threads: Workers.available)
        let evaluation = try request.evaluation.map { try Evaluation(plan, data: $0, blas: blas) }
        let prepared =
            try conversion.fineTunes
            ? request.calibration.map { try FineTunedPruning.prepare(plan, calibration: $0, observer: nil) } : nil
        defer { prepared?.discard() }
        // Without a fine-tune: the squared magnitudes in increasing order, for the share each count removes.
        let squares = prepared == nil ? try sortedSquares(plan) : []
        let total = squares.reduce(0, +)
        var points: [SweepPoint] = []
        for (sparsity, zeros) in zip(request.sparsities, targets) {
            let result = try prepared?.tune(zeros)
            let chosen = result?.report.chosen ?? PruningMethod.magnitude.rawValue
            let written: (kernel: [Float], bias: [Float]?)? =
                result.flatMap { result in
                    chosen == PruningMethod.magnitude.rawValue
                        ? nil : (result.kernel.values, plan.layer.bias == nil ? nil : result.bias)
                }
            let eval = try evaluation?.run(plan, zeros: zeros, written: written, blas: blas)
            let removed =
                prepared == nil ? (total > 0 ? squares.prefix(zeros).reduce(0, +) / total : 0) : nil
            let now = ContinuousClock.now
            let record = SweepPoint(
                input: request.input, layer: plan.layer.path.description, sparsity: sparsity, zeros: zeros,
                size: plan.kernel.count,
                method: request.calibration?.options.method.rawValue ?? PruningMethod.magnitude.rawValue,
                chosen: chosen, fineTune: result?.report, eval: eval, removedMagnitude: removed,
                seconds: (now - clock) / .seconds(1))
            clock = now
            points.append(record)
            point?(record)
        }
        return points
    }

    /// The kernel's squared values in increasing order (as float64).
    private static func sortedSquares(_ plan: ConversionPlan) throws -> [Double] {
        let values = try File.withOpen(plan.model.weightsFile) { file in
            try file.root().dataset(plan.kernel.dataset).readAll(as: Float.self)
        }
        return values.map { Double($0) * Double($0) }.sorted()
    }
}
