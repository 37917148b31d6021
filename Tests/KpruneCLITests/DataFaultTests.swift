import ArrayIO
import Foundation
import TestSupport
import Testing

/// A value of the data the model cannot take is the data's fault: one line naming the data file and the row,
/// exit 1, nothing written, the same through `predict` and `convert --data`.
@Suite struct DataFaultTests {
    static let model = Fixtures.directory.appendingPathComponent("inference/keras3/embedding.keras").path

    @Test(arguments: [(Float.nan, "nan"), (1e30, "1e+30"), (-5, "-5.0"), (Float.infinity, "inf")])
    func anIdOutsideTheTableNamesTheDataAndItsRow(_ id: Float, _ shown: String) throws {
        let directory = TemporaryDirectory()
        var ids = (0..<60).map { Float($0 % 7 + 1) }
        ids[37] = id
        writeNPY(directory.file("ids.npy"), rows: 12, columns: 5, values: ids)
        let predict = try Run([
            "predict", Self.model, "--data", directory.file("ids.npy"), "-o", directory.file("p.npy"),
            "--batch-size", "4",
        ])
        #expect(predict.status == 1)
        #expect(predict.stderrLines.count == 1)
        let line = try #require(predict.stderrLines.first)
        #expect(line.hasPrefix("error: \(directory.file("ids.npy")): layer "), "\(line)")
        #expect(line.contains("(Embedding) has "), "\(line)")
        #expect(line.contains("rows; ids.npy row 7 asks for id \(shown)"), "\(line)")
        #expect(!line.contains("signal"), "\(line)")
        #expect(try directory.listing() == ["ids.npy"])
        guard id.isFinite else { return }
        let convert = try Run([
            "convert", Self.model, "--sparsity", "0.5", "--data", directory.file("ids.npy"),
            "-o", directory.file("out.keras"),
        ])
        #expect(convert.status == 1)
        #expect(convert.stderrLines.count == 1)
        #expect(
            convert.stderrLines.first?.contains("rows; ids.npy row 7 asks for id \(shown)") == true, "\(convert.stderr)"
        )
        #expect(
            convert.stderrLines.first?.hasPrefix("error: \(directory.file("ids.npy")): ") == true, "\(convert.stderr)")
        #expect(try directory.listing() == ["ids.npy"])
    }
}
