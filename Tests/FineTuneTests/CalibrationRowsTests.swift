import ArrayIO
import Foundation
import HDF5
import TestSupport
import Testing

@testable import FineTune
@testable import Numerics
@testable import Pipeline
@testable import Sparsity

/// Calibration data taken in blocks, streamed from its files or kept in memory, on the digits calibration
/// fixture (a tf_keras MLP's head and its inputs, fixtures/calibration/digits) and on data made here.
@Suite struct CalibrationRowsTests {
    static let digits = Fixtures.directory.appendingPathComponent("calibration/digits").path

    func request(
        _ output: String, method: PruningMethod, limit: Int, features: String? = nil,
        labels: String? = "\(digits)/y_train.npy", seed: UInt64 = 0
    ) -> ConversionRequest {
        ConversionRequest(
            input: "\(Self.digits)/model.h5", output: output, target: .sparsity(0.9),
            calibration: Calibration(
                features: features ?? "\(Self.digits)/h_train.npy", labels: labels,
                options: FineTuneOptions(
                    method: method, epochs: 30, seed: seed,
                    inMemoryLimit: limit)))
    }

    /// The memory limit decides only whether rows are read again from the file: the split, the batches and
    /// so the output file are the same.
    @Test(arguments: [PruningMethod.mask, .l1])
    func streamedAndInMemoryWriteTheSameFile(_ method: PruningMethod) throws {
        let directory = TemporaryDirectory()
        let streamed = try Converter.convert(request(directory.file("s.h5"), method: method, limit: 0))
        let whole = try Converter.convert(request(directory.file("m.h5"), method: method, limit: 1 << 30))
        let streamedTune = try #require(streamed.fineTune)
        let wholeTune = try #require(whole.fineTune)
        #expect(streamedTune.streamed)
        #expect(!wholeTune.streamed)
        #expect(streamed.zerosAfter == 576)
        #expect(streamedTune.trainSamples + streamedTune.heldOutSamples == 1347)
        #expect(streamedTune.heldOutSamples == 135)
        #expect(streamedTune.after == wholeTune.after && streamedTune.before == wholeTune.before)
        // Far better than where it starts from (magnitude pruning leaves about 0.6 on this head).
        let accuracy = try #require(streamedTune.after.accuracy)
        #expect(accuracy > 0.9)
        let bytes = { (name: String) in FileManager.default.contents(atPath: directory.file(name)) }
        #expect(bytes("s.h5") != nil && bytes("s.h5") == bytes("m.h5"))
    }

    @Test func sameSeedSameBytesWhenStreamed() throws {
        let directory = TemporaryDirectory()
        for (name, seed) in [("a", UInt64(4)), ("b", 4), ("c", 5)] {
            _ = try Converter.convert(request(directory.file("\(name).h5"), method: .mask, limit: 0, seed: seed))
        }
        let bytes = { (name: String) in FileManager.default.contents(atPath: directory.file("\(name).h5")) }
        #expect(bytes("a") == bytes("b"))
        #expect(bytes("a") != bytes("c"))
    }

    /// Blocks of a few rows, so that the shuffle window, the carried rows and the last partial batch are all
    /// exercised; every training row is seen once per epoch, and no held-out row ever.
    @Test func everyTrainingRowOncePerEpoch() throws {
        let directory = TemporaryDirectory()
        let rows = 1000
        // Column 0 holds the row number.
        let values = (0..<(rows * 2)).map { Float($0 % 2 == 0 ? $0 / 2 : 1) }
        writeNPY(directory.file("h.npy"), rows: rows, columns: 2, values: values)
        let source = try ArraySource.open(directory.file("h.npy"))
        let data = try CalibrationRows(
            features: source, labels: nil,
            kernel: Tensor(rows: 2, columns: 1, values: [0.01, 0.02]), bias: [0],
            activation: .linear, validationSplit: 0.2, seed: 9, centred: true,
            blockBytes: 8 * 7)
        #expect(data.blockRows == 7)
        #expect(data.trainCount + data.heldOutCount == rows)
        // Rows arrive standardized: column 0 is mapped back to the row number.
        let (mean, scale) = (data.standardizer.means[0], data.standardizer.scales[0])
        func number(_ x: Tensor, _ row: Int) -> Int { Int((x[row, 0] * scale + mean).rounded()) }
        var held = Set<Int>()
        try data.forEachHeldOut { block in
            for row in 0..<block.x.rows { held.insert(number(block.x, row)) }
        }
        #expect(held.count == data.heldOutCount)
        var epochs: [[Int]] = []
        var seen: [Int] = []
        var sizes: [Int] = []
        try data.forEachBatch(
            epochs: 2, batchSize: 32, seed: 1,
            { x, targets in
                #expect(targets.rows == x.rows)
                sizes.append(x.rows)
                for row in 0..<x.rows { seen.append(number(x, row)) }
            },
            epochEnded: { _ in
                epochs.append(seen)
                seen = []
            })
        #expect(epochs.count == 2)
        for epoch in epochs {
            #expect(epoch.count == data.trainCount)
            #expect(Set(epoch).count == data.trainCount)
            #expect(Set(epoch).isDisjoint(with: held))
        }
        #expect(epochs[0] != epochs[1])
        #expect(epochs[0] != epochs[0].sorted())
        // Every batch is full but each epoch's last.
        #expect(sizes.filter { $0 != 32 }.count <= 2)
    }

    @Test func nanInALateBlockIsFoundBeforeTraining() throws {
        let directory = TemporaryDirectory()
        let source = try ArraySource.open("\(Self.digits)/h_train.npy")
        var values = try source.readAll()
        values[1300 * source.columns + 5] = .nan
        let features = directory.file("nan.npy")
        writeNPY(features, rows: source.rows, columns: source.columns, values: values)
        let output = directory.file("out.h5")
        #expect {
            try Converter.convert(request(output, method: .mask, limit: 0, features: features))
        } throws: { error in
            "\(error)".contains("row 1300") && "\(error)".contains("NaN")
        }
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func labelOutOfRangeInALateBlockIsRefused() throws {
        let directory = TemporaryDirectory()
        let source = try ArraySource.open("\(Self.digits)/y_train.npy")
        var values = try source.readAll()
        values[1200] = 10
        let labels = directory.file("y.npy")
        writeNPY(labels, rows: source.rows, columns: 1, values: values)
        #expect {
            try Converter.convert(request(directory.file("out.h5"), method: .l1, limit: 0, labels: labels))
        } throws: { error in
            "\(error)".contains("row 1200") && "\(error)".contains("class id")
        }
    }
}
