import Foundation
import TestSupport
import Testing

/// `kprune sweep`: each point is what `convert` gives at that count, shared work or not.
@Suite struct SweepTests {
    static let calibration = EvaluationTests.calibration
    static let x = calibration("digits_raw/x_train.npy"), y = calibration("digits_raw/y_train.npy")

    static func objects(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// The fine-tune's figures without its timings.
    static func figures(_ tune: Any?) throws -> NSDictionary {
        var tune = try #require(tune as? [String: Any])
        tune["train_seconds"] = nil
        return tune as NSDictionary
    }

    /// Every point's fine-tune and evaluation equal those of `convert --sparsity` with the same options, for a
    /// Dense head and a convolutional head in a `.keras` archive.
    @Test(arguments: ["digits/model.h5", "digits_cnn/model.keras"])
    func eachPointIsWhatConvertGives(_ model: String) throws {
        try Self.compareWithConvert(model)
    }

    /// The same for heads whose positions reach the output through a pooling after the layer's own relu (the
    /// loss on the model's output) and through global max pooling.
    @Test(.tags(.slow), .fullTier, arguments: ["digits_squeeze/model.h5", "digits_maxpool/model.keras"])
    func eachPointOfATrailingHeadIsWhatConvertGives(_ model: String) throws {
        try Self.compareWithConvert(model)
    }

    static func compareWithConvert(_ model: String) throws {
        let directory = TemporaryDirectory()
        let name = (model as NSString).lastPathComponent
        let input = try directory.copy(Self.calibration(model), as: name)
        let output = directory.file("out." + (name as NSString).pathExtension)
        let data = [
            "--data", Self.x, "--labels", Self.y, "--eval-data", EvaluationTests.xTest, "--eval-labels",
            EvaluationTests.yTest, "--epochs", "20",
        ]
        let sweep = try Run(["sweep", input, "--sparsities", "0.8,0.95", "--json"] + data)
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let points = try Self.objects(sweep.stdout)
        #expect(points.map { $0["sparsity"] as? Double } == [0.8, 0.95])
        for point in points {
            let sparsity = try #require(point["sparsity"] as? Double)
            let convert = try Run(
                ["convert", input, "--sparsity", "\(sparsity)", "--json", "-o", output, "--force"]
                    + data)
            #expect(convert.status == 0, "\(convert.stderr)")
            let report = try #require(try Self.objects(convert.stdout).first)
            #expect(point["zeros"] as? Int == report["zeros_after"] as? Int)
            #expect(try Self.figures(point["fine_tune"]) == Self.figures(report["fine_tune"]))
            #expect((point["eval"] as? NSDictionary) == (report["eval"] as? NSDictionary))
            #expect(point["chosen"] as? String == (report["fine_tune"] as? [String: Any])?["chosen"] as? String)
        }
        #expect(try directory.listing().sorted() == [name, (output as NSString).lastPathComponent].sorted())
    }

    /// Without data each point is magnitude pruning: the removed share of the squared magnitude grows with the
    /// count, and the evaluation's written and magnitude figures are one.
    @Test func dataFreeSweepReportsTheRemovedMagnitude() throws {
        let input = Self.calibration("digits/model.h5")
        let run = try Run(["sweep", input, "--eval-data", EvaluationTests.xTest, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let points = try Self.objects(run.stdout)
        #expect(points.count == 11)
        #expect(points.map { $0["zeros"] as? Int } == [320, 384, 448, 512, 544, 576, 595, 608, 621, 627, 634])
        let removed = points.compactMap { $0["removed_magnitude"] as? Double }
        #expect(removed.count == 11 && removed == removed.sorted() && removed.allSatisfy { $0 > 0 && $0 < 1 })
        for point in points {
            let eval = try #require(point["eval"] as? [String: Any])
            #expect(eval["agreement"] as? Double == (eval["magnitude"] as? [String: Any])?["agreement"] as? Double)
            #expect(point["fine_tune"] == nil && point["chosen"] as? String == "magnitude")
        }
    }

    /// The table names what the figures are measured on; CSV has a header of keys and a line per point.
    @Test func printsATableOrCSV() throws {
        let input = Self.calibration("digits/model.h5")
        let arguments = ["sweep", input, "--sparsities", "0.5", "0.9", "--data", Self.x, "--epochs", "5"]
        let table = try Run(arguments)
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines.first?.contains("held-out figures on 135 held-out calibration samples") == true)
        #expect(lines.dropFirst().first?.contains("held-out agreement") == true)
        let csv = try Run(arguments + ["--csv"])
        let rows = csv.stdout.split(separator: "\n")
        #expect(rows.first == "input,layer,sparsity,zeros,held_out_loss,held_out_agreement,chosen,seconds")
        #expect(rows.count == 3 && rows.dropFirst().allSatisfy { $0.hasPrefix("\(input),head,") })
    }

    /// `--pick` bisects to the most zeros meeting the rule and writes the file convert writes at that count; a
    /// rule no point meets exits 1 naming the best point, with nothing written.
    @Test func picksTheMostZerosThatMeetTheRule() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Self.calibration("digits/model.h5"), as: "model.h5")
        let data = [
            "--data", Self.x, "--labels", Self.y, "--eval-data", EvaluationTests.xTest, "--eval-labels",
            EvaluationTests.yTest, "--epochs", "10",
        ]
        let picked = directory.file("picked.h5")
        let run = try Run(
            ["sweep", input, "--sparsities", "0.5,0.8,0.9,0.99", "--pick", "accuracy>=0.9", "-o", picked, "--json"]
                + data)
        #expect(run.status == 0, "\(run.stderr)")
        let records = try Self.objects(run.stdout)
        let last = try #require(records.last)
        #expect(last["picked"] as? Bool == true)
        let zeros = try #require(last["zeros"] as? Int)
        let accuracy = try #require((last["eval"] as? [String: Any])?["accuracy"] as? Double)
        #expect(accuracy >= 0.9)
        // Every measured count above the pick fails the rule; bisection was bounded.
        let bisections = records.filter { $0["bisection"] as? Bool == true }
        #expect(!bisections.isEmpty && bisections.count <= 8)
        for record in records.dropLast() where (record["zeros"] as? Int ?? 0) > zeros {
            #expect(((record["eval"] as? [String: Any])?["accuracy"] as? Double ?? 1) < 0.9)
        }
        #expect(zeros >= 576 && zeros < 634)
        let converted = directory.file("converted.h5")
        let convert = try Run(
            ["convert", input, "--zeros", "\(zeros)", "-o", converted] + data.prefix(4) + ["--epochs", "10"])
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(contents(picked) == contents(converted), "the picked file is convert's, byte for byte")

        let none = try Run(
            ["sweep", input, "--sparsities", "0.9,0.99", "--pick", "accuracy>=0.999", "-o", directory.file("none.h5")]
                + data)
        #expect(none.status == 1)
        #expect(none.stderrLines.count == 1, "\(none.stderr)")
        #expect(none.stderr.contains("no point meets accuracy>=0.999; the best is 576 zeros"), "\(none.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("none.h5")))
        let noData = try Run(["sweep", input, "--pick", "accuracy>=0.9"])
        #expect(noData.status == 1 && noData.stderr.contains("needs evaluation data or calibration data"))
    }

    /// Several inputs: one sweep each, every record naming its input and layer; a bad input among them is its
    /// own one-line error and the others are swept.
    @Test func sweepsEachInput() throws {
        let directory = TemporaryDirectory()
        let missing = directory.file("missing.h5")
        let inputs = [Self.calibration("digits/model.h5"), missing, Fixtures.named("keras3/nested.keras").path]
        let run = try Run(["sweep"] + inputs + ["--sparsities", "0.5", "--json"])
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1 && run.stderrLines.first?.hasPrefix("error: \(missing): ") == true)
        let records = try Self.objects(run.stdout)
        #expect(records.map { $0["input"] as? String } == [inputs[0], inputs[2]])
        #expect(records.map { $0["layer"] as? String } == ["head", "nested_model/head"])
    }

    /// Bad usage exits 64 with the option named; a bad input is one line naming it, exit 1.
    @Test func refusesBadUsage() throws {
        let input = Self.calibration("digits/model.h5")
        for (arguments, message) in [
            (["--json", "--csv"], "give --json or --csv, not both"),
            (["--sparsities", "0.5,x"], "'x' is not a number"),
            (["--sparsities", "1.5"], "1.5 is outside [0, 1]"),
        ] {
            let run = try Run(["sweep", input] + arguments)
            #expect(run.status == 64)
            #expect(run.stderr.contains(message), "\(run.stderr)")
        }
        let directory = TemporaryDirectory()
        let missing = directory.file("missing.h5")
        let run = try Run(["sweep", missing])
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1 && run.stderrLines.first?.hasPrefix("error: \(missing): ") == true)
    }
}
