import Dispatch
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
    /// A rule the picked point meets; nil to pick none.
    public var pick: SweepRule?
    /// Whether every output unit gets the same zeros at each point (`--pattern balanced`); zeros anywhere
    /// otherwise.
    public var balanced = false

    /// The default points.
    public static let defaultSparsities = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99]

    /// A sweep of `input`'s final layer (or `layer`) over `sparsities`.
    public init(
        input: String, layer: String? = nil, sparsities: [Double] = SweepRequest.defaultSparsities,
        calibration: Calibration? = nil, evaluation: EvaluationData? = nil, pick: SweepRule? = nil
    ) {
        self.input = input
        self.layer = layer
        self.sparsities = sparsities
        self.calibration = calibration
        self.evaluation = evaluation
        self.pick = pick
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
    /// Wall time of this point's own work: its fine-tune and its scoring (the work shared by the points is not
    /// counted; points fine-tuned at once overlap).
    public let seconds: Double
    /// True for a count a pick's bisection measured between two points.
    public internal(set) var bisection: Bool? = nil
    /// True for the picked record: the most zeros found that meet the rule.
    public internal(set) var picked: Bool? = nil

    enum CodingKeys: String, CodingKey {
        case input, layer, sparsity, zeros, size, method, chosen, eval, seconds, bisection, picked
        case fineTune = "fine_tune"
        case removedMagnitude = "removed_magnitude"
    }
}

/// Runs sweeps.
public enum Sweep {
    /// Most extra fine-tunes a pick's bisection runs between the last point that meets its rule and the next.
    public static let bisections = 8

    /// Sweeps one input; `point` is told of each point as it is done (bisection points included). With a rule,
    /// the last record is the picked one (`picked`), or the sweep throws `SweepError.noPointMeets`.
    /// - Throws: what a conversion of the input throws, before any point or at the point that fails.
    public static func run(_ request: SweepRequest, point: ((SweepPoint) -> Void)? = nil) throws -> [SweepPoint] {
        let staging = FileManager.default.temporaryDirectory.path
        let model = try KerasModel.open(request.input, stagingDirectory: staging)
        // One pattern serves every point: the masks take their count from each point (see `keepMask`).
        let pattern: any SparsityPattern =
            request.balanced ? BalancedPattern(.zeros(0)) : ExactCount(.zeros(0))
        let conversion = ConversionRequest(
            input: request.input, output: request.input, pattern: pattern, layer: request.layer,
            calibration: request.calibration, evaluation: request.evaluation)
        let plan = try ConversionPlan(request: conversion, model: model)
        let targets = try request.sparsities.map { sparsity throws(PruningError) in
            request.balanced
                ? try BalancedPattern(.sparsity(sparsity)).targetZeros(shape: plan.kernel.shape)
                : try ZeroTarget.sparsity(sparsity).count(forSize: plan.kernel.count)
        }
        if let rule = request.pick, request.evaluation == nil, !conversion.fineTunes {
            throw SweepError(.ruleNeedsData, "--pick \(rule) needs evaluation data or calibration data to measure")
        }
        let blas = BLAS(threads: Workers.available)
        let evaluation = try request.evaluation.map { try Evaluation(plan, data: $0, blas: blas) }
        let prepared =
            try conversion.fineTunes
            ? request.calibration.map { try FineTunedPruning.prepare(plan, calibration: $0, observer: nil) } : nil
        defer { prepared?.discard() }
        // Without a fine-tune: the kernel, for the share of its squared magnitude each count removes.
        let kernel = prepared == nil ? try plan.readKernel() : []
        let total = kernel.reduce(0.0) { $0 + Double($1) * Double($1) }
        func measure(
            sparsity: Double, zeros: Int, bisection: Bool, tuned: (result: FineTuner.Result, seconds: Double)? = nil
        ) throws -> SweepPoint {
            let clock = ContinuousClock.now
            let result = try tuned?.result ?? prepared?.tune(zeros)
            let chosen = result?.report.chosen ?? PruningMethod.magnitude.rawValue
            let written: (kernel: [Float], bias: [Float]?)? =
                result.flatMap { result in
                    chosen == PruningMethod.magnitude.rawValue
                        ? nil : (result.kernel.values, plan.layer.bias == nil ? nil : result.bias)
                }
            let eval = try evaluation?.run(plan, zeros: zeros, written: written, blas: blas)
            var removed: Double? = nil
            if prepared == nil {
                let keep = pattern.keepMask(scores: kernel, shape: plan.kernel.shape, zeros: zeros)
                let pruned = zip(kernel, keep).reduce(0.0) { $0 + ($1.1 ? 0 : Double($1.0) * Double($1.0)) }
                removed = total > 0 ? pruned / total : 0
            }
            var record = SweepPoint(
                input: request.input, layer: plan.layer.path.description, sparsity: sparsity, zeros: zeros,
                size: plan.kernel.count,
                method: request.calibration?.options.method.rawValue ?? PruningMethod.magnitude.rawValue,
                chosen: chosen, fineTune: result?.report, eval: eval, removedMagnitude: removed,
                seconds: (tuned?.seconds ?? 0) + (ContinuousClock.now - clock) / .seconds(1))
            record.bisection = bisection ? true : nil
            return record
        }
        var points: [SweepPoint] = []
        // Points fine-tune in waves, one per worker at once when the rows are in memory, each on a BLAS of its
        // own (so its report counts its own operations); each result is what it would be alone.
        let workers = prepared?.runsConcurrently == true ? max(1, Workers.available) : 1
        let planned = Array(zip(request.sparsities, targets))
        for waveStart in stride(from: 0, to: planned.count, by: workers) {
            let wave = Array(planned[waveStart..<min(waveStart + workers, planned.count)])
            let tuned = try tuneConcurrently(prepared, wave.map(\.1), workers: workers)
            for (index, (sparsity, zeros)) in wave.enumerated() {
                let record = try measure(sparsity: sparsity, zeros: zeros, bisection: false, tuned: tuned[index])
                points.append(record)
                point?(record)
            }
        }
        guard let rule = request.pick else { return points }
        // The point with the most zeros that meets the rule; then, up to the next count, which fails, bisection.
        let byZeros = points.sorted { ($0.zeros, $0.sparsity) < ($1.zeros, $1.sparsity) }
        guard var best = byZeros.last(where: { rule.holds(for: $0) }) else {
            let closest = byZeros.max {
                (rule.value(of: $0) ?? -.infinity) * rule.sign < (rule.value(of: $1) ?? -.infinity) * rule.sign
            }
            throw SweepError(
                .noPointMeets,
                "no point meets \(rule)"
                    + (closest.map { point in
                        "; the best is \(point.zeros) zeros (sparsity \(point.sparsity)) with \(rule.metric.rawValue) "
                            + (rule.value(of: point).map { String(format: "%.4f", $0) } ?? "unknown")
                    } ?? ""),
                hint: "loosen the rule or sweep lower sparsities")
        }
        if var failing = byZeros.first(where: { $0.zeros > best.zeros })?.zeros {
            // Balanced counts move a zero per output unit at a time.
            let step = request.balanced ? max(plan.kernel.shape.last ?? 1, 1) : 1
            for _ in 0..<bisections where failing - best.zeros > step {
                let middle = best.zeros + (failing - best.zeros) / step / 2 * step
                let record = try measure(
                    sparsity: Double(middle) / Double(max(plan.kernel.count, 1)), zeros: middle, bisection: true)
                points.append(record)
                point?(record)
                if rule.holds(for: record) { best = record } else { failing = middle }
            }
        }
        best.picked = true
        points.append(best)
        point?(best)
        return points
    }

    /// Each count's fine-tune result (nil without a fine-tune), run on up to `workers` threads.
    private static func tuneConcurrently(
        _ prepared: FineTunedPruning.Prepared?, _ counts: [Int], workers: Int
    ) throws -> [(result: FineTuner.Result, seconds: Double)?] {
        guard let prepared else { return counts.map { _ in nil } }
        func timed(_ count: Int, blas: BLAS?) throws -> (result: FineTuner.Result, seconds: Double) {
            let clock = ContinuousClock.now
            let result = try prepared.tune(count, blas: blas)
            return (result, (ContinuousClock.now - clock) / .seconds(1))
        }
        guard workers > 1, counts.count > 1 else { return try counts.map { try timed($0, blas: nil) } }
        let results = ConcurrentResults(count: counts.count)
        let shared = UncheckedBox(timed)
        DispatchQueue.concurrentPerform(iterations: counts.count) { index in
            results.set(index, Result { try shared.value(counts[index], BLAS(threads: 1)) })
        }
        return try results.values.map { try $0?.get() }
    }
}

/// A pick's rule: `accuracy>=0.97`, `agreement>=0.99`, `loss<=0.1`. Measured on the evaluation data when the
/// sweep has it, else on the held-out calibration rows.
public struct SweepRule: Sendable, CustomStringConvertible {
    /// What is measured.
    public enum Metric: String, Sendable { case accuracy, agreement, loss }
    public let metric: Metric
    /// True for `>=`, false for `<=`.
    public let atLeast: Bool
    public let bound: Double

    /// Parses `METRIC>=X` or `METRIC<=X`; nil for anything else.
    public init?(_ text: String) {
        let compact = text.filter { !$0.isWhitespace }
        for (symbol, atLeast) in [(">=", true), ("<=", false)] {
            guard let range = compact.range(of: symbol) else { continue }
            guard let metric = Metric(rawValue: String(compact[..<range.lowerBound]).lowercased()),
                let bound = Double(compact[range.upperBound...]), bound.isFinite
            else { return nil }
            self.metric = metric
            self.atLeast = atLeast
            self.bound = bound
            return
        }
        return nil
    }

    public var description: String { "\(metric.rawValue)\(atLeast ? ">=" : "<=")\(bound)" }

    /// +1 when larger values are better, −1 when smaller are.
    var sign: Double { atLeast ? 1 : -1 }

    /// The point's figure: on the evaluation data when it has it, else on the held-out calibration rows.
    func value(of point: SweepPoint) -> Double? {
        if let eval = point.eval {
            switch metric {
            case .accuracy: return eval.accuracy
            case .agreement: return eval.agreement
            case .loss: return eval.loss
            }
        }
        guard let after = point.fineTune?.after else { return nil }
        switch metric {
        case .accuracy: return after.accuracy
        case .agreement: return after.agreement
        case .loss: return after.loss
        }
    }

    /// Whether the point meets the rule (a figure that does not apply never does).
    func holds(for point: SweepPoint) -> Bool {
        guard let value = value(of: point) else { return false }
        return atLeast ? value >= bound : value <= bound
    }
}

/// A sweep that cannot answer.
public struct SweepError: Error, CustomStringConvertible {
    public enum Code: String, Sendable { case noPointMeets, ruleNeedsData }
    public let code: Code
    public let message: String
    public let hint: String?

    init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    public var description: String { message }
}

/// Results written by concurrent workers, one slot each.
private final class ConcurrentResults: @unchecked Sendable {
    typealias Timed = (result: FineTuner.Result, seconds: Double)
    private let lock = NSLock()
    private var slots: [Result<Timed, any Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<Timed, any Error>) { lock.withLock { slots[index] = result } }

    var values: [Result<Timed, any Error>?] { lock.withLock { slots } }
}

/// A value shared read-only with concurrent workers.
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
