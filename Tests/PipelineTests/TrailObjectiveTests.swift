import ArrayIO
import Foundation
import KerasFormat
import Sparsity
import TestSupport
import Testing

@testable import FineTune
@testable import Numerics
@testable import Pipeline

/// Convolutional final layers whose positions reach the model's output through a pooling that the rows
/// cannot stand for one by one (global max pooling; global average pooling after the layer's own relu): the
/// loss is taken on the model's output per sample, with the sample's patches as a group.
@Suite(.tags(.slow), .fullTier) struct TrailObjectiveTests {
    static let models = [
        "digits_squeeze/model.h5", "digits_squeeze/model.keras", "digits_maxpool/model.h5",
        "digits_maxpool/model.keras",
    ]

    /// Both methods reach the exact count with and without labels; the loss follows the softmax after the
    /// pooling (no per-position note) and the held-out agreement stays high.
    @Test(arguments: models, [(PruningMethod.mask, true), (.mask, false), (.l1, true)])
    func fineTunesOnTheModelsOutput(_ model: String, _ setting: (PruningMethod, Bool)) throws {
        let (method, labelled) = setting
        let directory = TemporaryDirectory()
        let output = directory.file("out." + (model as NSString).pathExtension)
        let report = try ModelInputsTests.convert(
            model, 0.8, method: method,
            labels: labelled ? ModelInputsTests.y : nil, output: output)
        #expect(report.zerosAfter == Int((0.8 * Double(report.size)).rounded(.toNearestOrAwayFromZero)))
        let tune = try #require(report.fineTune)
        #expect(tune.activation == "softmax")
        #expect(tune.activationLayer == "probabilities")
        #expect(tune.objective == "cross-entropy")
        #expect(tune.after.agreement >= 0.95)
        #expect((tune.after.accuracy != nil) == labelled)
        // Samples, not positions, are split.
        #expect(tune.trainSamples + tune.heldOutSamples == 1347)
        #expect(report.notes.contains { $0.contains("the loss taken per sample on the model's output") })
        #expect(!report.notes.contains { $0.contains("at each output position") })
        // The per-position objective competes on the same held-out samples; the lowest loss is written.
        let methods = tune.candidates.map(\.method)
        #expect(methods.prefix(2) == [method.rawValue, "\(method.rawValue) per position"])
        let lowest = try #require(tune.candidates.min { $0.heldOut.loss < $1.heldOut.loss })
        #expect(tune.chosen == lowest.method)
        #expect(tune.after == lowest.heldOut)
    }

    /// A convolution flattened into one softmax (a fully convolutional classifier's `Reshape((10,))`, a
    /// spatial softmax over 16 positions after `Flatten`): the loss is cross-entropy over each sample's
    /// whole output, labels included (the spatial model's own, one of 16 positions per sample).
    @Test(arguments: [
        "digits_fcn/model.h5", "digits_fcn/model.keras", "digits_spatial/model.h5",
        "digits_spatial/model.keras",
    ])
    func flattenedOutputsTakeOneSoftmax(_ model: String) throws {
        let directory = TemporaryDirectory()
        let spatial = model.hasPrefix("digits_spatial")
        let labels = spatial ? ModelInputsTests.path("digits_spatial/y_train.npy") : ModelInputsTests.y
        let report = try ModelInputsTests.convert(
            model, 0.8, labels: labels,
            output: directory.file("out." + (model as NSString).pathExtension))
        #expect(report.zerosAfter == Int((0.8 * Double(report.size)).rounded(.toNearestOrAwayFromZero)))
        let tune = try #require(report.fineTune)
        #expect(tune.activation == "softmax" && tune.objective == "cross-entropy")
        #expect(tune.activationLayer == "probabilities")
        #expect(tune.trainSamples + tune.heldOutSamples == 1347)
        #expect(tune.after.accuracy != nil)
        #expect(tune.after.agreement >= (spatial ? 0.85 : 0.95))
        #expect(report.notes.contains { $0.contains("the loss taken per sample on the model's output") })
        #expect(!report.notes.contains { $0.contains("at each output position") })
    }

    /// A `Reshape((16, 10))` keeps each position's 10 outputs together, so the softmax after it is taken
    /// at each position: the per-position loss is cross-entropy through it, not the layer's linear
    /// outputs. Labels, one row per sample, are refused there.
    @Test func aReshapeKeepingPositionsLeavesTheSoftmaxPerPosition() throws {
        let directory = TemporaryDirectory()
        let report = try ModelInputsTests.convert(
            "digits_segment/model.h5", 0.8, labels: nil,
            output: directory.file("out.h5"))
        let tune = try #require(report.fineTune)
        #expect(tune.activation == "softmax" && tune.objective == "cross-entropy")
        #expect(tune.activationLayer == "probabilities")
        #expect(report.notes.contains { $0.contains("16 patches each, one per output position)") })
        #expect(!report.notes.contains { $0.contains("combines positions") })
        #expect(tune.after.agreement >= 0.9)
        #expect {
            try ModelInputsTests.convert("digits_segment/model.h5", 0.8, output: directory.file("labelled.h5"))
        } throws: { error in
            (error as? DataError)?.message.contains("rows per sample") == true
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("labelled.h5")))
    }

    /// Which reshapes the loss follows: a `Reshape` whose last dimension is the units keeps positions
    /// apart (only for channels-last layers); `Flatten` and a one-axis `Reshape` make one vector.
    @Test func reshapesThatKeepOrMergePositions() {
        func step(_ className: String, _ config: JSONValue) -> TrailingLayer {
            TrailingLayer(
                path: LayerPath(models: [], name: className.lowercased()), className: className,
                effect: .reshape, config: config)
        }
        let keeps = step("Reshape", .object(["target_shape": .array([.number(16), .number(10)])]))
        let other = step("Reshape", .object(["target_shape": .array([.number(8), .number(20)])]))
        let flat = step("Reshape", .object(["target_shape": .array([.number(160)])]))
        let trail = OutputTrail.through([keeps, other])
        guard case .through(let kept) = FineTunedPruning.positionPreserving(trail, units: 10, layerConfig: nil) else {
            Issue.record("the trail is no longer through its layers")
            return
        }
        #expect(kept.map(\.effect) == [.none, .reshape])
        let channelsFirst = JSONValue.object(["data_format": .string("channels_first")])
        #expect(FineTunedPruning.positionPreserving(trail, units: 10, layerConfig: channelsFirst) == trail)
        #expect(FineTunedPruning.flattensWhole(flat))
        #expect(FineTunedPruning.flattensWhole(step("Flatten", .null)))
        #expect(!FineTunedPruning.flattensWhole(keeps))
        #expect(FineTunedPruning.isChannelsLast(.object(["data_format": .string("channels_last")])))
        #expect(!FineTunedPruning.isChannelsLast(channelsFirst))
    }

    /// The full-batch sample of a row group holds at most 65,536 positions' rows, and at least 64 samples.
    @Test func boundsTheGroupedSample() {
        #expect(FineTuner.sampleLimit(nil) == 1024)
        #expect(FineTuner.sampleLimit(RowGroup(rows: 16, inner: .relu, pooling: .mean)) == 1024)
        #expect(FineTuner.sampleLimit(RowGroup(rows: 169, inner: .relu, pooling: .mean)) == 387)
        #expect(FineTuner.sampleLimit(RowGroup(rows: 65536, inner: .linear, pooling: .flatten)) == 64)
    }

    /// The same input and seed give the same output bytes.
    @Test func isDeterministic() throws {
        let directory = TemporaryDirectory()
        _ = try ModelInputsTests.convert("digits_squeeze/model.h5", 0.9, output: directory.file("a.h5"))
        _ = try ModelInputsTests.convert("digits_squeeze/model.h5", 0.9, output: directory.file("b.h5"))
        #expect(contents(directory.file("a.h5")) == contents(directory.file("b.h5")))
    }

    /// The grouped gradient (back through the outer softmax, the pooling and the layer's own activation,
    /// summed over each sample's positions) matches central differences of the grouped loss.
    @Test(arguments: [
        (Activation.relu, RowGroup.Pooling.mean), (.relu, .max), (.tanh, .mean), (.linear, .max),
        (.relu, .flatten),
    ])
    func groupedGradientMatchesFiniteDifferences(_ inner: Activation, _ pooling: RowGroup.Pooling) throws {
        let (samples, positions, inputs, units) = (12, 3, 4, 3)
        var random = SplitMix64(seed: 11)
        func uniform() -> Float { Float(random.next() % 2000) / 1000 - 1 }
        let group = RowGroup(rows: positions, inner: inner, pooling: pooling)
        let kernel = Tensor(rows: inputs, columns: units, values: (0..<(inputs * units)).map { _ in uniform() })
        let bias = (0..<units).map { _ in 0.3 * uniform() }
        let directory = TemporaryDirectory()
        let x = (0..<(samples * positions * inputs)).map { _ in uniform() }
        writeNPY(directory.file("x.npy"), rows: samples, columns: positions * inputs, values: x)
        let data = try CalibrationRows(
            features: ArraySource.open(directory.file("x.npy")), labels: nil,
            kernel: kernel, bias: bias, activation: .softmax, validationSplit: 0,
            seed: 0, centred: true, retainsBlocks: true, group: group)
        let tuner = try FineTuner(
            data: data, activation: .softmax, options: FineTuneOptions(), storedBits: 32,
            units: units, pattern: ExactCount(.zeros(0)), kernelShape: [inputs, units],
            group: group, start: (kernel, bias))
        // Targets away from the layer's own outputs, so the gradient is not zero.
        let outputs = group.outputs(units: units)
        let targets = Tensor(
            rows: samples, columns: outputs,
            values: (0..<(samples * outputs)).map { i in
                i % outputs == (i / outputs) % outputs ? 1 : 0
            })
        let start = data.standardizer.into(kernel: kernel, bias: bias)
        let rows = tuner.sample.x
        func loss(_ w: Tensor, _ b: [Float]) -> Double {
            let forward = group.forward(rows, w, b, outer: .softmax, blas: tuner.blas)
            var none: Tensor? = nil
            return Activation.softmax.loss(
                outputs: forward.outputs, preActivations: forward.pooled,
                targets: targets, gradient: &none)
        }
        let (gradKernel, gradBias) = tuner.gradient(start.kernel, start.bias, mask: nil, x: rows, targets: targets)
        let h: Float = 1e-3
        for i in 0..<start.kernel.values.count {
            var (up, down) = (start.kernel, start.kernel)
            up.values[i] += h
            down.values[i] -= h
            let numeric = (loss(up, start.bias) - loss(down, start.bias)) / Double(2 * h)
            #expect(abs(numeric - Double(gradKernel.values[i])) <= 2e-3 + 2e-2 * abs(numeric), "weight \(i)")
        }
        for j in 0..<units {
            var (up, down) = (start.bias, start.bias)
            up[j] += h
            down[j] -= h
            let numeric = (loss(start.kernel, up) - loss(start.kernel, down)) / Double(2 * h)
            #expect(abs(numeric - Double(gradBias[j])) <= 2e-3 + 2e-2 * abs(numeric), "bias \(j)")
        }
        #expect(gradKernel.values.contains { abs($0) > 1e-3 })
    }

    /// Samples with positions, a layer and a row group over them, for the curvature tests.
    private static func groupedSetting(_ inner: Activation, _ pooling: RowGroup.Pooling, seed: UInt64)
        -> (group: RowGroup, x: Tensor, kernel: Tensor, bias: [Float])
    {
        let (samples, positions, inputs, units) = (40, 5, 6, 4)
        var random = SplitMix64(seed: seed)
        func uniform() -> Float { Float(random.next() % 2000) / 1000 - 1 }
        let kernel = Tensor(rows: inputs, columns: units, values: (0..<(inputs * units)).map { _ in uniform() })
        let x = Tensor(
            rows: samples, columns: positions * inputs,
            values: (0..<(samples * positions * inputs)).map { _ in uniform() })
        return (
            RowGroup(rows: positions, inner: inner, pooling: pooling), x, kernel,
            (0..<units).map { _ in 0.3 * uniform() }
        )
    }

    /// The Jacobian of the pooled values applied to a direction matches central differences of the
    /// pooled values along it.
    @Test(arguments: [
        (Activation.relu, RowGroup.Pooling.mean), (.relu, .max), (.tanh, .mean), (.linear, .max),
        (.relu, .flatten),
    ])
    func tangentMatchesFiniteDifferences(_ inner: Activation, _ pooling: RowGroup.Pooling) {
        let (group, x, kernel, bias) = Self.groupedSetting(inner, pooling, seed: 5)
        let blas = BLAS(threads: 1)
        var random = SplitMix64(seed: 6)
        let direction = Tensor(
            rows: kernel.rows, columns: kernel.columns,
            values: kernel.values.map { _ in Float(random.next() % 2000) / 1000 - 1 })
        let directionBias = bias.map { _ in Float(random.next() % 2000) / 1000 - 1 }
        let forward = group.forward(x, kernel, bias, outer: .linear, blas: blas)
        let tangent = group.tangent(x, direction, directionBias, at: forward, blas: blas)
        let h: Float = 1e-3
        func moved(_ sign: Float) -> Tensor {
            var k = kernel
            for i in k.values.indices { k.values[i] += sign * h * direction.values[i] }
            let b = bias.indices.map { bias[$0] + sign * h * directionBias[$0] }
            return group.forward(x, k, b, outer: .linear, blas: blas).pooled
        }
        let (up, down) = (moved(1), moved(-1))
        var close = 0
        for i in tangent.values.indices {
            let numeric = (up.values[i] - down.values[i]) / (2 * h)
            if abs(numeric - tangent.values[i]) <= 1e-2 + 1e-2 * abs(numeric) { close += 1 }
        }
        // Relu kinks and max pooling's switches may fall inside the step for a few values.
        #expect(close >= tangent.values.count * 98 / 100)
        #expect(tangent.values.contains { abs($0) > 1e-2 })
    }

    /// The grouped curvature is at least the loss's second derivative along any direction at the weights
    /// it was taken at (measured by central differences), and far below the per-position bound that
    /// scaled the steps before.
    @Test(arguments: [(Activation.relu, RowGroup.Pooling.mean), (.linear, .max), (.relu, .max), (.linear, .flatten)])
    func groupedCurvatureBoundsTheLoss(_ inner: Activation, _ pooling: RowGroup.Pooling) {
        let (group, x, kernel, bias) = Self.groupedSetting(inner, pooling, seed: 9)
        let blas = BLAS(threads: 1)
        let bound = FineTuner.groupedLipschitz(
            x, kernel: kernel, bias: bias, hasBias: true, group: group,
            activation: .softmax, blas: blas)
        let teacher = group.forward(x, kernel, bias, outer: .softmax, blas: blas).outputs
        var targets = teacher
        for n in 0..<targets.rows {
            for j in 0..<targets.columns { targets[n, j] = j == n % targets.columns ? 1 : 0 }
        }
        func loss(_ k: Tensor, _ b: [Float]) -> Double {
            let forward = group.forward(x, k, b, outer: .softmax, blas: blas)
            var none: Tensor? = nil
            return Activation.softmax.loss(
                outputs: forward.outputs, preActivations: forward.pooled,
                targets: targets, gradient: &none)
        }
        var random = SplitMix64(seed: 10)
        let h: Float = 1e-2
        var largest = 0.0
        for _ in 0..<30 {
            var direction = kernel.values.map { _ in Float(random.next() % 2000) / 1000 - 1 }
            var directionBias = bias.map { _ in Float(random.next() % 2000) / 1000 - 1 }
            let norm = (direction.reduce(0) { $0 + $1 * $1 } + directionBias.reduce(0) { $0 + $1 * $1 }).squareRoot()
            direction = direction.map { $0 / norm }
            directionBias = directionBias.map { $0 / norm }
            func at(_ t: Float) -> Double {
                var k = kernel
                for i in k.values.indices { k.values[i] += t * direction[i] }
                return loss(k, bias.indices.map { bias[$0] + t * directionBias[$0] })
            }
            let second = (at(h) - 2 * at(0) + at(-h)) / Double(h * h)
            largest = max(largest, second)
            #expect(second <= Double(bound) * 1.01, "second derivative \(second) above the bound \(bound)")
        }
        #expect(largest > 0)
        let rows = group.positions(x)
        let perPosition =
            FineTuner.rowEigenvalue(rows, bias: true, blas: blas)
            * Activation.softmax.preActivationCurvature(units: kernel.columns)
            * (pooling == .max ? Float(group.rows) : 1)
        // Flattened, the positions' sum is the curvature itself; pooled, the positions' rows overstate it.
        if pooling != .flatten { #expect(bound < perPosition) }
    }
}
