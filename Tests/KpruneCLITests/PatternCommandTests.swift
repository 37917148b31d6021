import Foundation
import TestSupport
import Testing

/// `convert --pattern`: every group of the written kernel holds exactly its zeros, data-free and fine-tuned,
/// for a Dense head and a convolutional head in a `.keras` archive.
@Suite struct PatternCommandTests {
    static let calibration = EvaluationTests.calibration
    static let data = [
        "--data", calibration("digits_raw/x_train.npy"), "--labels", calibration("digits_raw/y_train.npy"),
        "--epochs", "10",
    ]

    /// The written kernel, read back from the output, with its shape.
    static func kernel(_ output: String, dataset: String) throws -> [Double] {
        try withWeights(output) { try #require(datasetValues($0)[dataset]) }
    }

    static func report(_ run: Run) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    }

    @Test(arguments: ["digits/model.h5", "digits_cnn/model.keras"], [false, true])
    func everyGroupKeepsTwoOfFour(_ model: String, _ tuned: Bool) throws {
        let directory = TemporaryDirectory()
        let name = (model as NSString).lastPathComponent
        let input = try directory.copy(Self.calibration(model), as: name)
        let output = directory.file("out." + (name as NSString).pathExtension)
        let run = try Run(["convert", input, "--pattern", "2:4", "--json", "-o", output] + (tuned ? Self.data : []))
        #expect(run.status == 0, "\(run.stderr)")
        let report = try Self.report(run)
        let shape = try #require(report["kernel_shape"] as? [Int])
        let pattern = try #require(report["pattern"] as? [String: Any])
        #expect(pattern["kind"] as? String == "n:m")
        #expect(pattern["kept_per_group"] as? Int == 2 && pattern["zeros_per_group"] as? Int == 2)
        #expect(report["zeros_after"] as? Int == shape.reduce(1, *) / 2)
        let values = try Self.kernel(output, dataset: try #require(report["kernel_dataset"] as? String))
        let units = shape[shape.count - 1], rows = values.count / units
        for group in 0..<(rows / 4) {
            for unit in 0..<units {
                let zeros = (0..<4).count { values[(group * 4 + $0) * units + unit] == 0 }
                #expect(zeros == 2, "group \(group) of unit \(unit)")
            }
        }
        if tuned { #expect((report["fine_tune"] as? [String: Any])?["chosen"] != nil) }
    }

    /// Balanced: every unit keeps round-half-away(fan-in × (1 − S)); the report says what the same sparsity
    /// anywhere gives.
    @Test(arguments: [false, true])
    func everyUnitKeepsTheSameCount(_ tuned: Bool) throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Self.calibration("digits/model.h5"), as: "model.h5")
        let output = directory.file("out.h5")
        let run = try Run(
            ["convert", input, "--pattern", "balanced", "--sparsity", "0.8", "--json", "-o", output]
                + (tuned ? Self.data : []))
        #expect(run.status == 0, "\(run.stderr)")
        let report = try Self.report(run)
        let pattern = try #require(report["pattern"] as? [String: Any])
        #expect(pattern["zeros_per_unit"] as? Int == 51 && pattern["kept_per_unit"] as? Int == 13)
        #expect(pattern["unstructured_zeros"] as? Int == 512)
        #expect(report["zeros_after"] as? Int == 510)
        let values = try Self.kernel(output, dataset: try #require(report["kernel_dataset"] as? String))
        for unit in 0..<10 { #expect((0..<64).count { values[$0 * 10 + unit] != 0 } == 13, "unit \(unit)") }
    }

    /// A balanced sweep's point is the balanced convert at that sparsity; its picked file is the balanced
    /// convert at the picked count, byte for byte. An N:M sweep is refused: the pattern has one count.
    @Test func sweepsBalancedPoints() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Self.calibration("digits/model.h5"), as: "model.h5")
        let picked = directory.file("picked.h5")
        let sweep = try Run(
            [
                "sweep", input, "--pattern", "balanced", "--sparsities", "0.8,0.95", "--pick", "agreement>=0.97", "-o",
                picked, "--json",
            ] + Self.data)
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let records = try sweep.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let convert = try Run(
            ["convert", input, "--pattern", "balanced", "--sparsity", "0.8", "--json", "-o", directory.file("c.h5")]
                + Self.data)
        let report = try Self.report(convert)
        #expect(records.first?["zeros"] as? Int == 510 && report["zeros_after"] as? Int == 510)
        #expect(
            try SweepTests.figures(records.first?["fine_tune"]) == SweepTests.figures(report["fine_tune"]))
        let zeros = try #require(records.last?["zeros"] as? Int)
        #expect(zeros % 10 == 0)
        let again = directory.file("again.h5")
        #expect(
            try Run(["convert", input, "--pattern", "balanced", "--zeros", "\(zeros)", "-o", again] + Self.data).status
                == 0)
        #expect(contents(picked) == contents(again))
        let nOfM = try Run(["sweep", input, "--pattern", "2:4"])
        #expect(nOfM.status == 64 && nOfM.stderr.contains("has one count"))
    }

    /// `check` passes a kernel that has what is asked (exit 0) and names what a kernel lacks (exit 1), in text
    /// and JSON; it writes nothing.
    @Test func checkGatesOnZerosAndPatterns() throws {
        let directory = TemporaryDirectory()
        let dense = try directory.copy(Self.calibration("digits/model.h5"), as: "model.h5")
        let pruned = directory.file("pruned.h5")
        #expect(try Run(["convert", dense, "--pattern", "2:4", "-o", pruned, "--quiet"]).status == 0)
        let passes = try Run(["check", pruned, "--pattern", "2:4", "--min-sparsity", "0.5"])
        #expect(passes.status == 0, "\(passes.stderr)")
        #expect(
            passes.stdout
                == "\(pruned): head passes: sparsity>=0.5 met (sparsity 0.5000); pattern 2:4 met (every group of 4 "
                + "holds at most 2 non-zero weights)\n")
        let fails = try Run(["check", pruned, "--pattern", "1:4", "--min-zeros", "400", "--json"])
        #expect(fails.status == 1)
        let report = try Self.report(fails)
        #expect(report["passed"] as? Bool == false && report["zeros"] as? Int == 320)
        let conditions = try #require(report["conditions"] as? [[String: Any]])
        #expect(conditions.map { $0["passed"] as? Bool } == [false, false])
        #expect(
            conditions.last?["found"] as? String
                == "160 groups of 4 hold more than 1 non-zero weights (the first: group 0 of output unit 0)")
        #expect(try Run(["check", pruned, "--pattern", "balanced"]).status == 0)
        let unstructured = directory.file("unstructured.h5")
        #expect(try Run(["convert", dense, "--sparsity", "0.8", "-o", unstructured, "--quiet"]).status == 0)
        let unbalanced = try Run(["check", unstructured, "--pattern", "balanced"])
        #expect(unbalanced.status == 1)
        #expect(unbalanced.stdout.contains("pattern balanced not met (output units hold from "), "\(unbalanced.stdout)")
        #expect(try Run(["check", dense]).status == 64)
        #expect(try Run(["check", dense, "--min-sparsity", "1.5"]).status == 64)
        let missing = directory.file("missing.h5")
        let gone = try Run(["check", missing, "--min-zeros", "1"])
        #expect(gone.status == 1 && gone.stderrLines.count == 1)
        #expect(gone.stderrLines.first?.hasPrefix("error: \(missing): ") == true)
        // inspect shows each kernel's zero fraction and the structures its zeros have.
        let inspect = try Run(["inspect", pruned])
        #expect(
            inspect.stdout.contains(
                "head/kernel:0 (64, 10) float32 zeros=320 (50.0%) patterns=2:4,4:8,balanced [kernel]"))
        #expect(inspect.stdout.contains("hidden/kernel:0 (64, 64) float32 zeros=0 (0.0%) [kernel]"))
        let json = try Self.report(try Run(["inspect", pruned, "--json"]))
        let layers = try #require(json["layers"] as? [[String: Any]])
        let head = try #require(layers.first { $0["name"] as? String == "head" }?["weights"] as? [[String: Any]])
        #expect(head.first?["patterns"] as? [String] == ["2:4", "4:8", "balanced"])
        #expect(try directory.listing() == ["model.h5", "pruned.h5", "unstructured.h5"])
    }

    /// Refusals before any work, in one line or as bad usage; nothing is written.
    @Test func refusesWhatDoesNotFit() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Self.calibration("digits/model.h5"), as: "model.h5")
        let notMultiple = try Run(["convert", input, "--pattern", "2:5"])
        #expect(notMultiple.status == 1)
        #expect(
            notMultiple.stderrLines == [
                "error: \(input): the kernel's input axis has 64 weights, which is not a multiple of 5 (pattern 2:5) "
                    + "(M must divide 64: 2, 4, 8, 16, 32, 64)"
            ])
        let uneven = try Run(["convert", input, "--pattern", "balanced", "--zeros", "505"])
        #expect(uneven.status == 1)
        #expect(uneven.stderr.contains("505 zeros do not split evenly over 10 output units"))
        for (arguments, message) in [
            (["--pattern", "2:4", "--sparsity", "0.5"], "sets the count itself"),
            (["--pattern", "balanced"], "give exactly one of --sparsity F or --zeros N"),
            (["--pattern", "two"], "give N:M (such as 2:4) or balanced"),
            (["--pattern", "5:4"], "keep N of every M"),
        ] {
            let run = try Run(["convert", input] + arguments)
            #expect(run.status == 64, "\(arguments)")
            #expect(run.stderr.contains(message), "\(run.stderr)")
        }
        #expect(try directory.listing() == ["model.h5"])
    }
}
