import Foundation
import HDF5
import TestSupport
import Testing

/// Shapes of rank 1 to 5 whose dimensions are not all equal, so a transposed index would show.
let flatRangeShapes: [[Int]] = [[7], [3, 5], [2, 3, 4], [2, 1, 3, 4], [2, 3, 1, 2, 3]]

/// Calls `body` with every flat range `lower..<upper` of `total` elements, empty ones included.
func forEveryRange(_ total: Int, _ body: (Range<Int>) throws -> Void) rethrows {
    for lower in 0...total {
        for upper in lower...total { try body(lower..<upper) }
    }
}

/// The flat, row-major indices a block covers, in row-major order.
func flatIndices(of block: Hyperslab, in shape: [Int]) -> [Int] {
    var indices: [Int] = []
    func visit(_ axis: Int, _ flat: Int) {
        if axis == shape.count {
            indices.append(flat)
            return
        }
        for index in block.start[axis]..<(block.start[axis] + block.count[axis]) {
            visit(axis + 1, flat * shape[axis] + index)
        }
    }
    visit(0, 0)
    return indices
}

@Suite struct HyperslabTests {
    @Test(arguments: flatRangeShapes)
    func blocksTileEveryFlatRangeInOrder(_ shape: [Int]) {
        let total = shape.reduce(1, *)
        forEveryRange(total) { range in
            let blocks = Hyperslab.blocks(covering: range, of: shape)
            #expect(blocks.flatMap { flatIndices(of: $0, in: shape) } == Array(range), "\(range) of \(shape)")
            #expect(blocks.count <= 2 * shape.count - 1)
            #expect(blocks.allSatisfy { $0.elements > 0 && $0.start.count == shape.count })
        }
    }

    @Test func wholeRowsAndSingleLinesAreOneBlock() {
        let shape = [4, 3, 5]
        #expect(Hyperslab.blocks(covering: 15..<45, of: shape) == [Hyperslab(start: [1, 0, 0], count: [2, 3, 5])])
        #expect(Hyperslab.blocks(covering: 15..<60, of: shape) == [Hyperslab(start: [1, 0, 0], count: [3, 3, 5])])
        #expect(Hyperslab.blocks(covering: 21..<24, of: shape) == [Hyperslab(start: [1, 1, 1], count: [1, 1, 3])])
        #expect(Hyperslab.blocks(covering: 20..<30, of: shape) == [Hyperslab(start: [1, 1, 0], count: [1, 2, 5])])
    }

    @Test func aRangeFromMidLineToMidLineClimbsAndDescends() {
        // Element 4 ends line 0; 5..<15 fills plane 0; 15..<45 are planes 1 and 2; 45..<55 two lines of
        // plane 3; 55..<57 the start of its last line.
        let shape = [4, 3, 5]
        let blocks = Hyperslab.blocks(covering: 4..<57, of: shape)
        #expect(
            blocks == [
                Hyperslab(start: [0, 0, 4], count: [1, 1, 1]),
                Hyperslab(start: [0, 1, 0], count: [1, 2, 5]),
                Hyperslab(start: [1, 0, 0], count: [2, 3, 5]),
                Hyperslab(start: [3, 0, 0], count: [1, 2, 5]),
                Hyperslab(start: [3, 2, 0], count: [1, 1, 2]),
            ])
    }

    @Test func scalarsAndEmptyRanges() {
        #expect(Hyperslab.blocks(covering: 0..<1, of: []) == [Hyperslab(start: [], count: [])])
        #expect(Hyperslab.blocks(covering: 3..<3, of: [2, 4]).isEmpty)
        #expect(Hyperslab.blocks(covering: 0..<0, of: [0, 4]).isEmpty)
    }
}

/// How a test dataset is stored.
enum TestLayout: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case contiguous, chunked, gzip

    /// Chunks of about half of each dimension, rounded up, so they do not divide the shape.
    func chunks(for shape: [Int]) -> [Int]? {
        self == .contiguous ? nil : shape.map { max(1, ($0 + 1) / 2) }
    }

    var gzipLevel: Int? { self == .gzip ? 6 : nil }
    var testDescription: String { rawValue }
}

@Suite struct FlatRangeTransferTests {
    /// Creates `/data` of `shape` holding its own flat index as value.
    func makeDataset(_ path: String, shape: [Int], layout: TestLayout, bits: Int) throws {
        let file = try File.create(path)
        let dataset = try file.root().createDataset(
            "data", shape: shape, bits: bits, chunks: layout.chunks(for: shape),
            gzip: layout.gzipLevel)
        try dataset.writeAll((0..<shape.reduce(1, *)).map(Double.init))
        try file.close()
    }

    @Test(arguments: flatRangeShapes, TestLayout.allCases)
    func readsEveryFlatRange(_ shape: [Int], _ layout: TestLayout) throws {
        let directory = TemporaryDirectory()
        let path = directory.file("ranges.h5")
        try makeDataset(path, shape: shape, layout: layout, bits: 32)
        let total = shape.reduce(1, *)
        try File.withOpen(path) { file in
            let dataset = try file.root().dataset("data")
            #expect(dataset.shape == shape)
            if layout != .contiguous { #expect(try dataset.layout() == .chunked(layout.chunks(for: shape) ?? [])) }
            try forEveryRange(total) { range in
                var values = [Float](repeating: -1, count: range.count)
                try values.withUnsafeMutableBufferPointer { try dataset.read(elements: range, into: $0) }
                #expect(values == range.map(Float.init), "\(range)")
            }
        }
    }

    @Test(arguments: flatRangeShapes, TestLayout.allCases)
    func writesEveryFlatRangeAndNothingElse(_ shape: [Int], _ layout: TestLayout) throws {
        let directory = TemporaryDirectory()
        let path = directory.file("ranges.h5")
        try makeDataset(path, shape: shape, layout: layout, bits: 64)
        let total = shape.reduce(1, *)
        let original = (0..<total).map(Double.init)
        try File.withOpen(path, mode: .readWrite) { file in
            let dataset = try file.root().dataset("data")
            try forEveryRange(total) { range in
                let marks = range.map { -Double($0) - 1 }
                try marks.withUnsafeBufferPointer { try dataset.write(elements: range, from: $0) }
                let written = try dataset.readAll(as: Double.self)
                #expect(
                    written == original.indices.map { range.contains($0) ? -Double($0) - 1 : original[$0] }, "\(range)")
                try dataset.writeAll(original)
            }
        }
    }

    @Test func createRefusesAnExistingFile() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("exists.h5")
        try File.create(path).close()
        let error = try #require(throws: HDF5Error.self) { try File.create(path) }
        #expect(error.code == .openFailed)
        #expect(error.operation == "H5Fcreate")
    }
}
