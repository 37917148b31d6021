import Foundation
import HDF5
import KerasFormat
import TestSupport
import Testing

@testable import FineTune
@testable import Numerics
@testable import Pipeline
@testable import Sparsity

/// The Keras fixtures whose final layer is a convolution with many input rows, or whose kernel is float64.
let headFixtures = Fixtures.convertible.filter { $0.file.contains("_head.") || $0.file.contains("float64") }
/// The `.h5` ones, which `h5repack` can rewrite chunked or compressed.
let repackableHeadFixtures = headFixtures.filter { $0.file.hasSuffix(".h5") }

@Suite struct ConvHeadTests {
    @Test func theHeadFixturesAreThere() {
        let shapes = Set(headFixtures.compactMap(\.kernelShape))
        for shape in [[1, 1, 240, 256], [1, 1, 8, 256], [3, 3, 128, 7], [1, 8, 256], [3, 3, 3, 8, 32], [2048, 1]] {
            #expect(shapes.contains(shape), "a Keras fixture with kernel \(shape)")
        }
        #expect(headFixtures.filter { $0.kernelDtype == "float64" }.count == 3)
    }

    /// Converts a Keras-made conv-head file as saved, repacked chunked, and repacked chunked with gzip, and
    /// checks the exact count, that only the smallest magnitudes went, and that the layout was kept.
    @Test(arguments: repackableHeadFixtures, KernelLayout.allCases)
    func convertsEveryLayoutExactly(_ fixture: Fixture, _ layout: KernelLayout) throws {
        let directory = TemporaryDirectory()
        let kernel = try #require(fixture.kernelDataset)
        let shape = try #require(fixture.kernelShape)
        var input = try directory.copy(fixture.path, as: "saved.h5")
        if let chunks = layout.chunks(for: shape) {
            let objects = ([kernel] + (fixture.optimizerSlotDatasets ?? [])).joined(separator: ",")
            var arguments = ["-l", "\(objects):CHUNK=\(chunks.map(String.init).joined(separator: "x"))"]
            // h5repack reads a filter's object list up to the first colon, and Keras 2 names end in ":0":
            // compress every dataset.
            if layout == .gzip { arguments += ["-f", "GZIP=6"] }
            let repacked = directory.file("\(layout).h5")
            try runTool("h5repack", arguments + [input, repacked])
            input = repacked
        }
        let output = directory.file("out.h5")
        let report = try Converter.convert(ConversionRequest(input: input, output: output, target: .sparsity(0.8)))
        let target = Int((0.8 * Double(shape.reduce(1, *))).rounded(.toNearestOrAwayFromZero))
        #expect(report.kernelShape == shape)
        #expect(report.zerosAfter == target)
        let before = try File.withOpen(input) { try $0.root().dataset(kernel).readAll(as: Double.self) }
        let after = try File.withOpen(output) { file -> [Double] in
            let dataset = try file.root().dataset(kernel)
            let expected: StorageLayout = layout.chunks(for: shape).map { .chunked($0) } ?? .contiguous
            #expect(try dataset.layout() == expected)
            #expect(try dataset.filterNames().contains { $0.lowercased().contains("deflate") } == (layout == .gzip))
            return try dataset.readAll(as: Double.self)
        }
        #expect(after.filter { $0 == 0 }.count == target)
        #expect(after == expectedPruning(before, target: target))
    }
}
