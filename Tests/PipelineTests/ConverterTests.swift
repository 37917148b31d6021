import FileOutput
import Foundation
import HDF5
import KerasFormat
import TestSupport
import Testing

@testable import FineTune
@testable import Numerics
@testable import Pipeline
@testable import Sparsity

@Suite struct ConverterTests {
    static let sparsities = [0.0, 0.3, 0.8, 0.95, 1.0]

    @Test(arguments: Fixtures.convertible, sparsities)
    func reachesTheExactCountAndChangesNothingElse(_ fixture: Fixture, _ sparsity: Double) throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(fixture.path)
        let before = contents(input)
        let output = directory.file("out-" + URL(fileURLWithPath: input).lastPathComponent)
        let report = try Converter.convert(
            ConversionRequest(
                input: input, output: output, target: .sparsity(sparsity),
                layer: fixture.needsLayer == true ? fixture.layerArgument : nil))
        let size = report.size
        let target = Int((sparsity * Double(size)).rounded(.toNearestOrAwayFromZero))
        #expect(report.targetZeros == target)
        #expect(report.zerosAfter == target)
        #expect(contents(input) == before, "the input is never written")
        #expect(try directory.listing().count == 2, "no temporary or staging files are left")

        let original = try withWeights(input) { try datasetValues($0) }
        let pruned = try withWeights(output) { try datasetValues($0) }
        #expect(Set(original.keys) == Set(pruned.keys))
        let kernel = report.kernelDataset
        let slots = try withWeights(input) { _ in
            let model = try KerasModel.open(input)
            let layer = try model.targetLayer(named: fixture.needsLayer == true ? fixture.layerArgument : nil)
            return Set(model.optimizerSlots(for: layer).slots.map(\.dataset))
        }
        for (path, values) in original where path != kernel && !slots.contains(path) {
            #expect(pruned[path] == values, "\(path) unchanged")
        }
        let old = try #require(original[kernel])
        let new = try #require(pruned[kernel])
        #expect(new.filter { $0 == 0 }.count == target)
        var largestPruned = 0.0
        var smallestKept = Double.infinity
        for index in old.indices {
            if new[index] == 0 {
                largestPruned = max(largestPruned, abs(old[index]))
            } else {
                #expect(new[index] == old[index], "kept weights keep their value")
                smallestKept = min(smallestKept, abs(old[index]))
            }
        }
        #expect(largestPruned <= smallestKept, "only the smallest magnitudes are pruned")
        for slot in slots {
            let before = try #require(original[slot])
            let after = try #require(pruned[slot])
            for index in before.indices {
                let newlyPruned = new[index] == 0 && old[index] != 0
                #expect(after[index] == (newlyPruned ? 0 : before[index]))
            }
        }
    }

    /// The streamed selection (sampled bracket) and its histogram fallback find the same cut as the
    /// in-memory one, through libhdf5 and through direct reads, on every fixture kernel and several targets.
    @Test(arguments: Fixtures.convertible)
    func everySelectionPathFindsTheSameCut(_ fixture: Fixture) throws {
        let model = try KerasModel.open(fixture.path)
        let layer = try model.targetLayer(named: fixture.needsLayer == true ? fixture.layerArgument : nil)
        let kernel = try #require(layer.kernel)
        let descriptor = try FileDescriptor(path: model.weightsFile, flags: O_RDONLY)
        try File.withOpen(model.weightsFile) { file in
            let dataset = try file.root().dataset(kernel.dataset)
            let segmentation = Segmentation(
                shape: dataset.shape, layout: try dataset.layout(), storedBytes: 4,
                targetElements: 16)
            var stores: [ElementStore<Float>] = [HDF5Store<Float>(dataset)]
            if let offset = try DirectStore<Float>.directOffset(of: dataset, in: file, descriptor: descriptor) {
                stores.append(DirectStore<Float>(reading: descriptor, writing: descriptor, byteOffset: offset))
            }
            #expect(
                stores.count == 2 || kernel.storedType != .float(bits: 32) || fixture.file.contains("gzip"),
                "contiguous float32 kernels move directly")
            for target in Set([1, kernel.count / 2, kernel.count * 4 / 5, kernel.count - 1, kernel.count]) {
                let reference = try MagnitudeSelector.select(
                    stores[0], segmentation: segmentation, target: target,
                    path: kernel.dataset)
                for store in stores {
                    for limits in [MagnitudeSelector.Limits(inMemory: 0), .init(inMemory: 0, gather: 0)] {
                        let other = try MagnitudeSelector.select(
                            store, segmentation: segmentation, target: target,
                            path: kernel.dataset, limits: limits)
                        #expect(other.threshold == reference.threshold, "target \(target)")
                        #expect(other.zerosBefore == reference.zerosBefore)
                        if limits.gather == 0, reference.threshold != nil {
                            #expect(other.passes > 1, "a zero gather limit forces the histogram")
                        }
                        if let ties = other.tiesPerSegment {
                            #expect(ties.reduce(0, +) == (other.threshold?.ties ?? 0))
                        }
                    }
                }
            }
        }
    }

    /// Equal magnitudes at the cut are pruned lowest flat index first, whichever path selected the cut,
    /// however the kernel is split into segments, and whichever store moved it.
    @Test(arguments: [0, 1 << 30], [0, 1 << 30])
    func breaksTiesByPosition(_ inMemory: Int, _ gather: Int) throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        let kernelPath = "/model_weights/dense_1/dense_1/kernel:0"
        // 64 weights: magnitudes cycle 0.25, 0.5, 1, 0.5 with alternating signs; one existing zero.
        var values = (0..<64).map { index -> Float in
            let magnitude: Float = [0.25, 0.5, 1, 0.5][index % 4]
            return index % 3 == 0 ? -magnitude : magnitude
        }
        values[5] = 0
        try File.withOpen(input, mode: .readWrite) { try $0.root().dataset(kernelPath).writeAll(values) }
        let target = 30  // 1 zero (it replaced a half) + 16 of 0.25 + 13 of the remaining 31 halves
        let halves = values.indices.filter { abs(values[$0]) == 0.5 }
        for direct in [false, true] {
            for segmentElements in [4, 12, 64] {
                let output = directory.file("out-\(direct)-\(segmentElements).h5")
                try FileManager.default.copyItem(atPath: input, toPath: output)
                let reading = try FileDescriptor(path: input, flags: O_RDONLY)
                let writing = try FileDescriptor(path: output, flags: O_RDWR)
                try File.withOpen(input) { source in
                    try File.withOpen(output, mode: .readWrite) { destination in
                        let dataset = try source.root().dataset(kernelPath)
                        let segmentation = Segmentation(
                            shape: dataset.shape, layout: try dataset.layout(),
                            storedBytes: 4, targetElements: segmentElements)
                        let from: ElementStore<Float>
                        let to: ElementStore<Float>
                        if direct {
                            let offset = try #require(
                                try DirectStore<Float>.directOffset(
                                    of: dataset, in: source, descriptor: reading))
                            from = DirectStore(reading: reading, writing: writing, byteOffset: offset)
                            to = from
                        } else {
                            from = HDF5Store(dataset)
                            to = HDF5Store(try destination.root().dataset(kernelPath))
                        }
                        let selection = try MagnitudeSelector.select(
                            from, segmentation: segmentation, target: target,
                            path: kernelPath,
                            limits: .init(inMemory: inMemory, gather: gather))
                        #expect(selection.zerosBefore == 1)
                        #expect(selection.threshold == Threshold(value: 0.5, ties: 13))
                        let zeros = try KernelRewriter.apply(
                            MagnitudePruner.rewrite(selection), source: from,
                            destination: to, slots: [], segmentation: segmentation
                        ).zeros
                        #expect(zeros == target)
                    }
                }
                try writing.close()
                let written = try File.withOpen(output) { try $0.root().dataset(kernelPath).readAll(as: Float.self) }
                #expect(
                    halves.filter { written[$0] == 0 } == Array(halves.prefix(13)),
                    "direct \(direct), segments of \(segmentElements)")
                #expect(written.filter { $0 == 0 }.count == target)
            }
        }
    }

    @Test func refusesToRegrowWithoutData() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        let kernelPath = "/model_weights/dense_1/dense_1/kernel:0"
        let values = (0..<64).map { $0 < 40 ? Float(0) : Float($0) }
        try File.withOpen(input, mode: .readWrite) { try $0.root().dataset(kernelPath).writeAll(values) }
        let error = try #require(throws: PruningError.self) {
            try Converter.convert(
                ConversionRequest(
                    input: input, output: directory.file("out.h5"),
                    target: .sparsity(0.5)))
        }
        #expect(error.code == .tooManyZeros)
        #expect(error.message.contains("40 zeros"))
        #expect(try directory.listing() == ["sequential.h5"])
        // Exactly the zeros already there is no change at all, and succeeds.
        let report = try Converter.convert(
            ConversionRequest(
                input: input, output: directory.file("same.h5"),
                target: .zeros(40)))
        #expect(report.zerosAfter == 40)
    }

    @Test(arguments: ["keras2/sequential.h5", "keras3/nested.keras", "keras2/gzip_chunked.h5", "keras3/float16.keras"])
    func sameInputGivesTheSameBytes(_ name: String) throws {
        let directory = TemporaryDirectory()
        let fixture = Fixtures.named(name)
        let extensionName = name.hasSuffix(".keras") ? "keras" : "h5"
        for run in ["a", "b"] {
            _ = try Converter.convert(
                ConversionRequest(
                    input: fixture.path, output: directory.file("\(run).\(extensionName)"),
                    target: .sparsity(0.6)))
        }
        #expect(contents(directory.file("a.\(extensionName)")) == contents(directory.file("b.\(extensionName)")))
    }

    @Test func namesOutputsBesideTheInput() {
        #expect(Converter.defaultOutputPath(for: "dir/m.h5") == "dir/m.pruned.h5")
        #expect(Converter.defaultOutputPath(for: "m.keras") == "m.pruned.keras")
        #expect(Converter.defaultOutputPath(for: "/a/w.weights.h5") == "/a/w.pruned.weights.h5")
        #expect(Converter.defaultOutputPath(for: "/a/w.weights.h5", directory: "out") == "out/w.pruned.weights.h5")
        #expect(Converter.defaultOutputPath(for: "model") == "model.pruned")
    }
}
