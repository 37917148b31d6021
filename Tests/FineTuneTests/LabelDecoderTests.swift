import ArrayIO
import Foundation
import TestSupport
import Testing

@testable import FineTune
@testable import Numerics
@testable import Pipeline
@testable import Sparsity

/// Label rows of the layer's width: what each activation accepts and what it refuses.
@Suite struct LabelDecoderTests {
    /// Decodes `rows` (each of `units` values) as labels of a layer with that activation.
    func decode(_ rows: [[Float]], activation: Activation, firstRow: Int = 0) throws -> (Tensor, [Int]?) {
        let directory = TemporaryDirectory()
        let units = rows[0].count
        let path = directory.file("y.npy")
        writeNPY(
            path, descr: "<f4", shape: [rows.count, units], data: littleEndian(rows.flatMap { $0 }.map(\.bitPattern)))
        let decoder = try LabelDecoder(
            ArraySource.open(path), samples: rows.count, units: units, activation: activation)
        let decoded = try decoder.decode(rows.flatMap { $0 }, firstRow: firstRow)
        return (decoded.matrix, decoded.classes)
    }

    @Test func acceptsOneHotAndSoftSoftmaxRows() throws {
        let (matrix, classes) = try decode(
            [[0, 1, 0], [0.2, 0.3, 0.5], [0.3333, 0.3333, 0.3334], [1, 0, 0.0005]],
            activation: .softmax)
        #expect(matrix.values.count == 12)
        #expect(classes == [1, 2, 2, 0])
    }

    @Test(arguments: [
        ([[1, 0, 0], [0, -1, 2]] as [[Float]], "row 1"),  // negative, though the row sums to 1
        ([[0, 1, 0], [0.5, 0.6, 0]], "row 1"),  // fractional, sums to 1.1
        ([[1e30, 0, 0], [0, 1, 0]], "row 0"),  // huge
        ([[0, 1, 0], [0, 0, 0]], "row 1"),  // sums to 0
        ([[1, 1, 0], [0, 1, 0]], "row 0"),  // two classes set
        ([[0, 1, 0], [0.5, 0.502, 0]], "row 1"),  // just outside the tolerance
    ])
    func refusesSoftmaxRowsThatAreNotDistributions(_ rows: [[Float]], _ row: String) throws {
        let error = try #require(throws: DataError.self) { try decode(rows, activation: .softmax) }
        #expect(error.source.hasSuffix("y.npy"))
        #expect(error.message.contains(row), "\(error.message)")
        #expect(!error.description.contains("\n"))
    }

    @Test func namesTheRowOfTheWholeArrayNotOfTheBlock() throws {
        let error = try #require(throws: DataError.self) {
            try decode([[0, 1], [2, 0]], activation: .softmax, firstRow: 4096)
        }
        #expect(error.message.contains("row 4097"))
    }

    @Test func sigmoidLabelsLieInTheUnitIntervalPerValue() throws {
        let (_, classes) = try decode([[0, 1, 1], [0.25, 0, 0.5]], activation: .sigmoid)
        #expect(classes?.count == 2, "multi-label rows need not sum to 1")
        for bad: [[Float]] in [[[0, 1, 1], [0, 1.5, 0]], [[0, 1, 1], [0, -0.1, 0]], [[0, 1, 1], [0, 1e9, 0]]] {
            let error = try #require(throws: DataError.self) { try decode(bad, activation: .sigmoid) }
            #expect(error.message.contains("row 1") && error.message.contains("[0, 1]"), "\(error.message)")
        }
        let single = try #require(throws: DataError.self) { try decode([[0], [1], [3]], activation: .sigmoid) }
        #expect(single.message.contains("row 2"))
    }

    @Test func linearTargetsAreTakenAsTheyAre() throws {
        let (matrix, classes) = try decode([[-5, 1e6], [0.5, 0.6]], activation: .linear)
        #expect(matrix.values == [-5, 1e6, 0.5, 0.6])
        #expect(classes == nil)
    }
}
