import ArrayIO
import Foundation
import HDF5
import TestSupport
import Testing
import ZIPFoundation

@testable import FineTune
@testable import KerasFormat
@testable import Numerics
@testable import Pipeline
@testable import Sparsity

/// Fine-tunes with calibration data made here: seeded random inputs for the fixture's final layer.
@Suite struct FineTuneTests {
    /// Fixtures whose final layer is a Dense kernel with an activation kprune fine-tunes through.
    static let denseFixtures = Fixtures.convertible.filter { fixture in
        guard (fixture.kernelShape?.count ?? 0) == 2 else { return false }
        guard let model = try? KerasModel.open(fixture.path),
            let layer = try? model.targetLayer(named: fixture.needsLayer == true ? fixture.layerArgument : nil)
        else { return false }
        let followed = try? FineTunedPruning.lossActivation(
            own: layer.activation, of: layer.path,
            trail: model.outputTrail(of: layer),
            hasConfig: model.config != nil)
        return followed != nil && (layer.className ?? "Dense") == "Dense"
    }

    func features(_ directory: TemporaryDirectory, rows: Int, columns: Int, seed: UInt64) -> String {
        var random = SplitMix64(seed: seed)
        let values = (0..<(rows * columns)).map { _ in Float(random.next() % 2000) / 1000 - 1 }
        let path = directory.file("h-\(seed).npy")
        writeNPY(path, rows: rows, columns: columns, values: values)
        return path
    }

    func convert(
        _ fixture: Fixture, _ directory: TemporaryDirectory, sparsity: Double, features: String,
        labels: String? = nil, seed: UInt64 = 0, output: String? = nil, method: PruningMethod = .mask
    )
        throws -> ConversionReport
    {
        return try Converter.convert(
            ConversionRequest(
                input: fixture.path,
                output: output ?? directory.file("out-\(sparsity)-\(seed).\(fixture.outputExtension)"),
                target: .sparsity(sparsity), layer: fixture.needsLayer == true ? fixture.layerArgument : nil,
                calibration: Calibration(
                    features: features, labels: labels,
                    options: FineTuneOptions(method: method, epochs: 20, seed: seed))))
    }

    @Test(arguments: denseFixtures, [(0.5, PruningMethod.mask), (0.95, .mask), (0.5, .l1), (0.95, .l1)])
    func reachesTheExactCountOnDisk(_ fixture: Fixture, _ setting: (Double, PruningMethod)) throws {
        let (sparsity, method) = setting
        let directory = TemporaryDirectory()
        let fanIn = try #require(fixture.kernelShape?.first)
        let h = features(directory, rows: 200, columns: fanIn, seed: 1)
        let report = try convert(fixture, directory, sparsity: sparsity, features: h, method: method)
        let target = try ZeroTarget.sparsity(sparsity).count(forSize: report.size)
        #expect(report.zerosAfter == target)
        #expect(report.method == method.rawValue)
        let tune = try #require(report.fineTune)
        #expect(tune.trainSamples + tune.heldOutSamples == 200)
        #expect(tune.heldOutSamples == 20)
        // Counted again from the file itself.
        let model = try KerasModel.open(report.output)
        let stored = try File.withOpen(model.weightsFile) {
            try $0.root().dataset(report.kernelDataset).readAll(as: Float.self)
        }
        #expect(stored.filter { $0 == 0 }.count == target)
        // The optimizer slots change only where the kernel was newly pruned, exactly, whatever their width.
        let read = { (path: String, dataset: String) in
            try withWeights(path) { weights in
                try File.withOpen(weights) { try $0.root().dataset(dataset).readAll(as: Double.self) }
            }
        }
        let originalKernel = try read(fixture.path, report.kernelDataset)
        for slot in fixture.optimizerSlotDatasets ?? [] {
            let before = try read(fixture.path, slot)
            let after = try read(report.output, slot)
            let moved = before.indices.filter {
                after[$0] != (stored[$0] == 0 && originalKernel[$0] != 0 ? 0 : before[$0])
            }
            #expect(moved.count == 0, "\(slot): entries changed where the kernel was kept")
        }
    }

    /// A linear Dense followed by a softmax layer is fine-tuned with cross-entropy, so class ids are labels.
    @Test(arguments: Fixtures.convertible.filter { $0.outputActivation != nil })
    func followsTheActivationAfterTheFinalLayer(_ fixture: Fixture) throws {
        let directory = TemporaryDirectory()
        let fanIn = try #require(fixture.kernelShape?.first)
        let units = try #require(fixture.kernelShape?.last)
        let h = features(directory, rows: 200, columns: fanIn, seed: 6)
        writeNPY(directory.file("y.npy"), rows: 200, columns: 1, values: (0..<200).map { Float($0 % units) })
        let report = try convert(fixture, directory, sparsity: 0.5, features: h, labels: directory.file("y.npy"))
        let tune = try #require(report.fineTune)
        #expect(tune.activation == fixture.outputActivation)
        #expect(tune.objective == "cross-entropy")
        #expect(tune.activationLayer != nil && tune.activationLayer != report.layer)
        #expect(tune.after.accuracy != nil, "class ids are read as labels of a classifier")
        #expect(!report.notes.contains { $0.contains("unclear") || $0.contains("config") })
    }

    @Test(arguments: Fixtures.convertible.filter { $0.unfollowableLayer != nil })
    func refusesALayerAfterTheFinalOneItCannotFollow(_ fixture: Fixture) throws {
        let directory = TemporaryDirectory()
        let h = features(directory, rows: 50, columns: try #require(fixture.kernelShape?.first), seed: 7)
        for method in [PruningMethod.mask, .l1] {
            let error = try #require(throws: PruningError.self) {
                try convert(fixture, directory, sparsity: 0.5, features: h, method: method)
            }
            #expect(error.message.contains(try #require(fixture.unfollowableLayer)))
            #expect(error.code == .notFineTunable)
        }
        #expect(try directory.listing().allSatisfy { $0.hasSuffix(".npy") }, "no output left behind")
        let report = try convert(fixture, directory, sparsity: 0.5, features: h, method: .magnitude)
        #expect(report.fineTune == nil && report.zerosAfter == 32)
    }

    @Test func composesTheLayersOnTheWayToTheOutput() throws {
        let head = LayerPath(models: [], name: "head")
        func step(_ name: String, _ className: String, _ effect: InferenceEffect) -> TrailingLayer {
            TrailingLayer(path: LayerPath(models: [], name: name), className: className, effect: effect)
        }
        func follow(_ own: String?, _ steps: [TrailingLayer]) throws -> (Activation, String, String?) {
            try FineTunedPruning.lossActivation(own: own, of: head, trail: .through(steps), hasConfig: true)
        }
        let dropout = step("drop", "Dropout", .none)
        let softmax = step("probs", "Softmax", .activation("softmax"))
        let linear = step("same", "Activation", .activation("linear"))
        #expect(try follow("linear", []) == (.linear, "head", nil))
        #expect(try follow("linear", [dropout, softmax, linear]) == (.softmax, "probs", nil))
        #expect(try follow("sigmoid", [dropout, linear]) == (.sigmoid, "head", nil))
        #expect(
            try follow(nil, [step("flat", "Flatten", .reshape), step("r", "ReLU", .activation("relu"))])
                == (.relu, "r", nil))

        let refusals: [(String?, [TrailingLayer], String)] = [
            ("relu", [softmax], "on top of head's relu"),
            ("linear", [step("act", "Activation", .activation("gelu"))], "act (Activation gelu)"),
            ("linear", [step("flat", "Reshape", .reshape), softmax], "reshaped"),
            ("linear", [dropout, step("scale", "Rescaling", .unknown)], "scale (Rescaling)"),
        ]
        for (own, steps, expected) in refusals {
            let error = try #require(throws: PruningError.self) { try follow(own, steps) }
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(error.code == .notFineTunable)
        }

        // A convolution trained position by position keeps to its own outputs once positions are combined,
        // by global max pooling as by average pooling.
        for combining in [step("gmp", "GlobalMaxPooling2D", .unknown), step("gap", "GlobalAveragePooling2D", .pool)] {
            let perPosition = try FineTunedPruning.lossActivation(
                own: "linear", of: head,
                trail: .through([combining, softmax]),
                hasConfig: true, perPosition: true)
            #expect(perPosition.activation == .linear && perPosition.source == "head")
            #expect(perPosition.note?.contains("each output position") == true)
        }

        #expect(
            try FineTunedPruning.lossActivation(own: "tanh", of: head, trail: .hidden, hasConfig: true)
                == (.tanh, "head", nil))
        let unclear = try FineTunedPruning.lossActivation(
            own: "linear", of: head, trail: .unclear("add merges 2 inputs"),
            hasConfig: true)
        #expect(unclear.activation == .linear)
        #expect(unclear.note?.contains("add merges 2 inputs") == true)
        #expect(
            try FineTunedPruning.lossActivation(own: nil, of: head, trail: .unclear("no config"), hasConfig: false).note
                == nil)
    }

    @Test(arguments: [PruningMethod.mask, .l1])
    func regrowsAKernelWithTooManyZeros(_ method: PruningMethod) throws {
        let fixture = Fixtures.named("keras2/sequential.h5")
        let directory = TemporaryDirectory()
        let input = try directory.copy(fixture.path)
        let kernelPath = try #require(fixture.kernelDataset)
        try File.withOpen(input, mode: .readWrite) { file in
            let dataset = try file.root().dataset(kernelPath)
            var values = try dataset.readAll(as: Float.self)
            for i in values.indices where i % 10 != 0 { values[i] = 0 }  // 57 of 64 zero
            try dataset.writeAll(values)
        }
        let h = features(directory, rows: 300, columns: 16, seed: 2)
        let report = try Converter.convert(
            ConversionRequest(
                input: input, output: directory.file("out.h5"), target: .sparsity(0.5),
                calibration: Calibration(features: h, options: FineTuneOptions(method: method, epochs: 30))))
        #expect(report.zerosBefore == 57)
        #expect(report.zerosAfter == 32)
    }

    @Test func sameSeedSameBytes() throws {
        let fixture = Fixtures.named("keras3/nested.keras")
        let directory = TemporaryDirectory()
        let h = features(directory, rows: 150, columns: try #require(fixture.kernelShape?.first), seed: 3)
        _ = try convert(fixture, directory, sparsity: 0.8, features: h, seed: 7, output: directory.file("a.keras"))
        _ = try convert(fixture, directory, sparsity: 0.8, features: h, seed: 7, output: directory.file("b.keras"))
        _ = try convert(fixture, directory, sparsity: 0.8, features: h, seed: 8, output: directory.file("c.keras"))
        #expect(contents(directory.file("a.keras")) == contents(directory.file("b.keras")))
        #expect(contents(directory.file("a.keras")) != contents(directory.file("c.keras")))
        // Nothing in the archive comes from the clock: every member keeps the input's name, order and time.
        func members(_ path: String) throws -> [String] {
            let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
            return archive.map { "\($0.path) \($0.fileAttributes[.modificationDate].map { "\($0)" } ?? "none")" }
        }
        #expect(try members(directory.file("a.keras")) == members(fixture.path))
    }

    /// With inputs of very different scales, ranking by |w| alone prunes the weights that matter; the mask
    /// method ranks by |w| times the input's scale, and fine-tunes, so it keeps the layer's decisions better.
    @Test func beatsMagnitudePruningWhenInputScalesDiffer() throws {
        var random = SplitMix64(seed: 5)
        func uniform() -> Float { Float(random.next() % 2000) / 1000 - 1 }
        let (inputs, units, rows) = (12, 3, 600)
        var kernel = Tensor(rows: inputs, columns: units, values: (0..<(inputs * units)).map { _ in uniform() })
        var x = Tensor(rows: rows, columns: inputs, values: (0..<(rows * inputs)).map { _ in uniform() })
        for i in 0..<4 {  // four inputs 50 times larger, with weights 50 times smaller
            for j in 0..<units { kernel[i, j] /= 50 }
            for r in 0..<rows { x[r, i] *= 50 }
        }
        let bias = [Float](repeating: 0, count: units)
        let directory = TemporaryDirectory()
        writeNPY(directory.file("x.npy"), rows: rows, columns: inputs, values: x.values)
        let data = try CalibrationRows(
            features: ArraySource.open(directory.file("x.npy")), labels: nil,
            kernel: kernel, bias: bias, activation: .softmax, validationSplit: 0.2,
            seed: 0, centred: true, retainsBlocks: true)
        let target = 24  // of 36
        let pattern = ExactCount(.zeros(target))
        let mask = try FineTuner(
            data: data, activation: .softmax, options: FineTuneOptions(), storedBits: 32,
            units: units, pattern: pattern, kernelShape: [kernel.rows, units]
        )
        .run(kernel: kernel, bias: bias, target: target)
        let magnitude = try FineTuner(
            data: data, activation: .softmax, options: FineTuneOptions(method: .magnitude),
            storedBits: 32, units: units, pattern: pattern,
            kernelShape: [kernel.rows, units]
        )
        .run(kernel: kernel, bias: bias, target: target)
        #expect(mask.kernel.values.filter { $0 == 0 }.count == target)
        #expect(magnitude.kernel.values.filter { $0 == 0 }.count == target)
        #expect(mask.report.after.agreement > magnitude.report.after.agreement)
        #expect(mask.report.after.loss < magnitude.report.after.loss)
    }

    @Test func refusesDataThatDoesNotFit() throws {
        let fixture = Fixtures.named("keras2/sequential.h5")
        let directory = TemporaryDirectory()
        let wrongWidth = features(directory, rows: 50, columns: 15, seed: 4)
        let width = try #require(throws: DataError.self) {
            try convert(fixture, directory, sparsity: 0.5, features: wrongWidth)
        }
        #expect(width.message.contains("15 columns"))

        var values = [Float](repeating: 0.5, count: 50 * 16)
        values[17] = .nan
        writeNPY(directory.file("nan.npy"), rows: 50, columns: 16, values: values)
        let nan = try #require(throws: DataError.self) {
            try convert(fixture, directory, sparsity: 0.5, features: directory.file("nan.npy"))
        }
        #expect(nan.message.contains("NaN"))

        let h = features(directory, rows: 50, columns: 16, seed: 5)
        writeNPY(directory.file("few.npy"), rows: 49, columns: 1, values: [Float](repeating: 1, count: 49))
        #expect(throws: DataError.self) {
            try convert(fixture, directory, sparsity: 0.5, features: h, labels: directory.file("few.npy"))
        }
        writeNPY(directory.file("range.npy"), rows: 50, columns: 1, values: [Float](repeating: 9, count: 50))
        let range = try #require(throws: DataError.self) {
            try convert(fixture, directory, sparsity: 0.5, features: h, labels: directory.file("range.npy"))
        }
        #expect(range.message.contains("class id") || range.message.contains("columns"))

        // A convolution takes patch rows (kernel positions times input channels): 16 columns do not fit.
        let patches = try #require(throws: DataError.self) {
            try convert(Fixtures.named("keras2/conv.h5"), directory, sparsity: 0.5, features: h)
        }
        #expect(patches.message.contains("columns"))
        let einsum = try #require(throws: PruningError.self) {
            try convert(Fixtures.named("keras3/einsum.keras"), directory, sparsity: 0.5, features: h)
        }
        #expect(einsum.message.contains("Dense"))
        #expect(try directory.listing().allSatisfy { $0.hasSuffix(".npy") }, "no output left behind")
    }
}
