import ArrayIO
import Foundation
import HDF5
import TestSupport
import Testing

@testable import FineTune
@testable import KerasFormat
@testable import Numerics
@testable import Pipeline
@testable import Sparsity

/// The fine-tune's guarantees: results that do not depend on the features' units, never worse than
/// data-free pruning, refused when they diverge, and reported as written.
@Suite struct RobustFineTuneTests {
    /// Rows whose columns have very different scales and means, as real activations do, and a kernel.
    static func problem(rows: Int = 400, inputs: Int = 12, units: Int = 4, seed: UInt64 = 11)
        -> (x: Tensor, kernel: Tensor, bias: [Float])
    {
        var random = SplitMix64(seed: seed)
        func uniform() -> Float { Float(random.next() % 20001) / 10000 - 1 }
        var x = Tensor(zeros: rows, inputs)
        for i in 0..<inputs {
            let (scale, shift) = (Float(1 << (i % 5)), Float(i % 3))
            for r in 0..<rows { x[r, i] = max(0, uniform() * scale + shift) }
        }
        let kernel = Tensor(rows: inputs, columns: units, values: (0..<(inputs * units)).map { _ in uniform() })
        return (x, kernel, (0..<units).map { _ in uniform() / 4 })
    }

    static func tune(
        _ x: Tensor, _ kernel: Tensor, _ bias: [Float], method: PruningMethod, target: Int,
        activation: Activation = .softmax, hasBias: Bool = true, learningRate: Double? = nil,
        in directory: TemporaryDirectory
    ) throws -> FineTuner.Result {
        let path = directory.file("x-\(UUID().uuidString).npy")
        writeNPY(path, rows: x.rows, columns: x.columns, values: x.values)
        let data = try CalibrationRows(
            features: ArraySource.open(path), labels: nil, kernel: kernel, bias: bias,
            activation: activation, validationSplit: 0.2, seed: 3, centred: hasBias,
            retainsBlocks: true)
        let options = FineTuneOptions(method: method, epochs: 40, learningRate: learningRate, seed: 1)
        return try FineTuner(
            data: data, activation: activation, options: options, storedBits: 32,
            units: kernel.columns, hasBias: hasBias, pattern: ExactCount(.zeros(target)),
            kernelShape: [kernel.rows, kernel.columns]
        )
        .run(kernel: kernel, bias: bias, target: target)
    }

    /// Outputs of a kernel and bias on rows `x`.
    static func outputs(_ x: Tensor, _ kernel: Tensor, _ bias: [Float]) -> Tensor {
        var out = Tensor(zeros: x.rows, kernel.columns)
        BLAS(threads: 1).dense(x, kernel, bias, .linear, into: &out)
        return out
    }

    /// Inputs multiplied by `factor` (per column) and the kernel's rows by its inverse: the same layer.
    static func rescaled(_ x: Tensor, _ kernel: Tensor, _ factor: (Int) -> Float) -> (Tensor, Tensor) {
        var (x, kernel) = (x, kernel)
        for i in 0..<x.columns {
            for r in 0..<x.rows { x[r, i] *= factor(i) }
            for j in 0..<kernel.columns { kernel[i, j] /= factor(i) }
        }
        return (x, kernel)
    }

    @Test(arguments: [PruningMethod.mask, .l1])
    func powerOfTwoRescalingChangesNothing(_ method: PruningMethod) throws {
        let directory = TemporaryDirectory()
        let (x, kernel, bias) = Self.problem()
        let base = try Self.tune(x, kernel, bias, method: method, target: 36, in: directory)
        // Powers of two multiply exactly: every step sees the same numbers.
        let (x2, kernel2) = Self.rescaled(x, kernel) { i in [4, 0.25, 64, 1.0 / 32][i % 4] }
        let other = try Self.tune(x2, kernel2, bias, method: method, target: 36, in: directory)
        #expect(base.kernel.values.map { $0 == 0 } == other.kernel.values.map { $0 == 0 })
        #expect(base.report.chosen == other.report.chosen)
        let (a, b) = (Self.outputs(x, base.kernel, base.bias), Self.outputs(x2, other.kernel, other.bias))
        #expect(zip(a.values, b.values).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) })
    }

    @Test(arguments: [PruningMethod.mask, .l1], [Float(50), 0.02])
    func anyPositiveScaleGivesTheSameLayer(_ method: PruningMethod, _ scale: Float) throws {
        let directory = TemporaryDirectory()
        let (x, kernel, bias) = Self.problem()
        let base = try Self.tune(x, kernel, bias, method: method, target: 36, in: directory)
        let (x2, kernel2) = Self.rescaled(x, kernel) { _ in scale }
        let other = try Self.tune(x2, kernel2, bias, method: method, target: 36, in: directory)
        // Float rounding of the scaled rows may move a weight at the margin, nothing more.
        let same = zip(base.kernel.values, other.kernel.values).filter { ($0 == 0) == ($1 == 0) }.count
        #expect(same >= base.kernel.values.count - 2)
        let (a, b) = (Self.outputs(x, base.kernel, base.bias), Self.outputs(x2, other.kernel, other.bias))
        let largest = a.values.map(abs).max() ?? 1
        #expect(zip(a.values, b.values).allSatisfy { abs($0 - $1) <= 2e-2 * max(1, largest) })
    }

    /// A step far too large wrecks the method's result; the data-free kernel is written instead, exactly as
    /// data-free pruning writes it, and the report says so.
    @Test(arguments: ["keras2/sequential.h5", "keras2/float64.h5"])
    func magnitudeIsWrittenWhenTheMethodDoesWorse(_ name: String) throws {
        let fixture = Fixtures.named(name)
        let directory = TemporaryDirectory()
        let fanIn = try #require(fixture.kernelShape?.first)
        var random = SplitMix64(seed: 2)
        let values = (0..<(300 * fanIn)).map { _ in Float(random.next() % 2000) / 1000 }
        writeNPY(directory.file("h.npy"), rows: 300, columns: fanIn, values: values)
        let free = try Converter.convert(
            ConversionRequest(
                input: fixture.path, output: directory.file("free.h5"),
                target: .sparsity(0.75)))
        let report = try Converter.convert(
            ConversionRequest(
                input: fixture.path, output: directory.file("tuned.h5"), target: .sparsity(0.75),
                calibration: Calibration(
                    features: directory.file("h.npy"),
                    options: FineTuneOptions(
                        method: .mask, epochs: 3, learningRate: 40))))
        let tune = try #require(report.fineTune)
        #expect(tune.chosen == "magnitude")
        #expect(tune.candidates.map(\.method) == ["mask", "magnitude"])
        #expect(tune.candidates[1].heldOut.loss < tune.candidates[0].heldOut.loss)
        #expect(tune.after == tune.candidates[1].heldOut)
        #expect(report.notes.contains { $0.contains("wrote the magnitude result") })
        #expect(
            contents(directory.file("free.h5")) == contents(directory.file("tuned.h5")),
            "the kernel and bias are the data-free ones, byte for byte")
        _ = free
    }

    @Test func aDivergingFineTuneIsRefusedAndWritesNothing() throws {
        let fixture = Fixtures.named("keras2/sequential.h5")
        let directory = TemporaryDirectory()
        let fanIn = try #require(fixture.kernelShape?.first)
        writeNPY(
            directory.file("h.npy"), rows: 100, columns: fanIn,
            values: (0..<(100 * fanIn)).map { Float($0 % 7) })
        for method in [PruningMethod.mask, .l1] {
            let error = try #require(throws: PruningError.self) {
                try Converter.convert(
                    ConversionRequest(
                        input: fixture.path, output: directory.file("out.h5"), target: .sparsity(0.5),
                        calibration: Calibration(
                            features: directory.file("h.npy"),
                            options: FineTuneOptions(
                                method: method, epochs: 5, learningRate: 1e30))))
            }
            #expect(error.code == .diverged)
        }
        #expect(try directory.listing() == ["h.npy"])
    }

    /// A layer without a bias trains none, and the reported loss is that of the kernel written.
    @Test(arguments: ["keras2/no_bias.h5", "keras3/no_bias.keras"])
    func aLayerWithoutBiasIsTunedWithoutOne(_ name: String) throws {
        let fixture = Fixtures.named(name)
        let directory = TemporaryDirectory()
        let shape = try #require(fixture.kernelShape)
        var random = SplitMix64(seed: 9)
        let values = (0..<(200 * shape[0])).map { _ in Float(random.next() % 1000) / 250 }
        writeNPY(directory.file("h.npy"), rows: 200, columns: shape[0], values: values)
        let output = directory.file(name.hasSuffix(".keras") ? "out.keras" : "out.h5")
        let report = try Converter.convert(
            ConversionRequest(
                input: fixture.path, output: output, target: .sparsity(0.6),
                calibration: Calibration(
                    features: directory.file("h.npy"),
                    options: FineTuneOptions(method: .mask, epochs: 30, seed: 4))))
        let tune = try #require(report.fineTune)
        #expect(!tune.biasTrained)
        // The written kernel, measured on the same held-out rows, scores what the report says.
        let model = try KerasModel.open(output)
        let written = try File.withOpen(model.weightsFile) {
            try $0.root().dataset(report.kernelDataset).readAll(as: Float.self)
        }
        let original = try KerasModel.open(fixture.path)
        let layer = try original.targetLayer(named: nil)
        #expect(layer.bias == nil)
        let kernel = try File.withOpen(original.weightsFile) {
            try $0.root().dataset(report.kernelDataset).readAll(as: Float.self)
        }
        let zeros = [Float](repeating: 0, count: shape[1])
        let data = try CalibrationRows(
            features: ArraySource.open(directory.file("h.npy")), labels: nil,
            kernel: Tensor(rows: shape[0], columns: shape[1], values: kernel), bias: zeros,
            activation: Activation(keras: layer.activation) ?? .linear, validationSplit: 0.1, seed: 4,
            centred: false, retainsBlocks: true)
        let tuner = try FineTuner(
            data: data, activation: Activation(keras: layer.activation) ?? .linear,
            options: FineTuneOptions(seed: 4), storedBits: 32, units: shape[1], hasBias: false,
            pattern: ExactCount(.zeros(0)), kernelShape: shape)
        let moved = data.standardizer.into(
            kernel: Tensor(rows: shape[0], columns: shape[1], values: written),
            bias: zeros)
        let measured = try tuner.metrics(moved.kernel, moved.bias)
        #expect(abs(measured.loss - tune.after.loss) <= 1e-6 * max(1, tune.after.loss))
    }

    /// Equal magnitudes at the cut: the lowest indices are pruned first, in the fine-tune's masks as in
    /// data-free pruning.
    @Test func keepMaskPrunesTiesLowestIndexFirst() {
        func keepMask(_ scores: [Float], zeros: Int) -> [Bool] {
            ExactCount(.zeros(zeros)).keepMask(scores: scores, shape: [scores.count], zeros: zeros)
        }
        #expect(keepMask([1, -1, 1, 0.5, 2], zeros: 2) == [false, true, true, false, true])
        #expect(keepMask([0.5, 0.5, 0.5, 0.5], zeros: 3) == [false, false, false, true])
        #expect(keepMask([3, 0, 0, 1], zeros: 1) == [true, false, true, true])
        #expect(keepMask([3, 2], zeros: 2) == [false, false])
    }

    /// Each loss's gradient with respect to the pre-activations against central differences.
    @Test(arguments: [Activation.softmax, .sigmoid, .linear, .relu, .tanh])
    func lossGradientsMatchFiniteDifferences(_ activation: Activation) {
        var random = SplitMix64(seed: 21)
        func uniform() -> Double { Double(random.next() % 20001) / 10000 - 1 }
        let (rows, columns) = (5, 4)
        let z = Tensor(rows: rows, columns: columns, values: (0..<(rows * columns)).map { _ in Float(2 * uniform()) })
        var targets = Tensor(zeros: rows, columns)
        for r in 0..<rows {
            let values = (0..<columns).map { _ in abs(uniform()) + 0.05 }
            let sum = values.reduce(0, +)
            for j in 0..<columns {
                targets[r, j] = activation == .softmax ? Float(values[j] / sum) : Float(values[j])
            }
        }
        func loss(_ z: Tensor) -> Double {
            var a = z
            activation.apply(&a)
            var none: Tensor? = nil
            return activation.loss(outputs: a, preActivations: z, targets: targets, gradient: &none)
        }
        var a = z
        activation.apply(&a)
        var gradient: Tensor? = Tensor(zeros: rows, columns)
        _ = activation.loss(outputs: a, preActivations: z, targets: targets, gradient: &gradient)
        guard let analytic = gradient else {
            Issue.record("\(activation): the loss gave no gradient")
            return
        }
        for i in 0..<(rows * columns) where activation != .relu || abs(z.values[i]) > 0.05 {
            let h: Float = 1e-2
            var plus = z, minus = z
            plus.values[i] += h
            minus.values[i] -= h
            let numeric = (loss(plus) - loss(minus)) / Double(2 * h)
            let value = Double(analytic.values[i])
            #expect(abs(numeric - value) <= 2e-3 + 2e-2 * abs(numeric), "\(activation) entry \(i)")
        }
    }
}

/// Convolution heads fine-tune on patch rows, to the exact count, whatever the kernel's rank and layout.
@Suite struct ConvolutionFineTuneTests {
    static let heads = Fixtures.convertible.filter { fixture in
        (fixture.kernelShape?.count ?? 0) > 2
            && ["Conv1D", "Conv2D", "Conv3D"].contains(fixture.finalLayerClass ?? "")
            && fixture.needsLayer != true
    }

    @Test(arguments: heads, [PruningMethod.mask, .l1])
    func reachesTheExactCount(_ fixture: Fixture, _ method: PruningMethod) throws {
        let directory = TemporaryDirectory()
        let shape = try #require(fixture.kernelShape)
        let patch = shape.dropLast().reduce(1, *)
        var random = SplitMix64(seed: 8)
        let rows = 96
        writeNPY(
            directory.file("p.npy"), rows: rows, columns: patch,
            values: (0..<(rows * patch)).map { _ in Float(random.next() % 2000) / 1000 - 1 })
        let output = directory.file("out." + fixture.outputExtension)
        let report = try Converter.convert(
            ConversionRequest(
                input: fixture.path, output: output, target: .sparsity(0.9),
                calibration: Calibration(
                    features: directory.file("p.npy"),
                    options: FineTuneOptions(method: method, epochs: 4))))
        let target = try ZeroTarget.sparsity(0.9).count(forSize: shape.reduce(1, *))
        #expect(report.zerosAfter == target)
        let tune = try #require(report.fineTune)
        #expect(tune.trainSamples + tune.heldOutSamples == rows)
        let model = try KerasModel.open(output)
        let stored = try File.withOpen(model.weightsFile) {
            try $0.root().dataset(report.kernelDataset).readAll(as: Float.self)
        }
        #expect(stored.filter { $0 == 0 }.count == target)
    }
}

/// The fine-tune writes through the same write-back as data-free pruning: slots zeroed where the kernel
/// newly became zero, every other slot value kept at its stored width, bit for bit.
@Suite struct FineTuneWriteBackTests {
    static let withSlots = FineTuneTests.denseFixtures.filter { !($0.optimizerSlotDatasets ?? []).isEmpty }

    @Test(arguments: withSlots)
    func zeroesTheKernelsSlotsWhereItBecameZero(_ fixture: Fixture) throws {
        let directory = TemporaryDirectory()
        let shape = try #require(fixture.kernelShape)
        var random = SplitMix64(seed: 12)
        let values = (0..<(150 * shape[0])).map { _ in Float(random.next() % 1000) / 500 - 1 }
        writeNPY(directory.file("h.npy"), rows: 150, columns: shape[0], values: values)
        let output = directory.file("out." + fixture.outputExtension)
        let report = try Converter.convert(
            ConversionRequest(
                input: fixture.path, output: output, target: .sparsity(0.7),
                layer: fixture.needsLayer == true ? fixture.layerArgument : nil,
                calibration: Calibration(
                    features: directory.file("h.npy"),
                    options: FineTuneOptions(method: .l1, epochs: 10))))
        let slots = try #require(fixture.optimizerSlotDatasets)
        #expect(report.optimizerSlots == slots.count)
        func read(_ path: String, _ datasets: [String]) throws -> [[Double]] {
            let model = try KerasModel.open(path)
            return try File.withOpen(model.weightsFile) { file in
                try datasets.map { try file.root().dataset($0).readAll(as: Double.self) }
            }
        }
        let before = try read(fixture.path, [report.kernelDataset] + slots)
        let after = try read(output, [report.kernelDataset] + slots)
        var zeroed = 0
        for (index, _) in slots.enumerated() {
            let (old, new) = (before[index + 1], after[index + 1])
            for i in old.indices {
                if after[0][i] == 0, before[0][i] != 0 {
                    #expect(new[i] == 0)
                    zeroed += 1
                } else {
                    #expect(new[i].bitPattern == old[i].bitPattern, "slot \(slots[index]) entry \(i)")
                }
            }
        }
        #expect(zeroed > 0)
    }
}
