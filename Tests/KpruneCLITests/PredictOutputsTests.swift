import ArrayIO
import Foundation
import TestSupport
import Testing

/// Where `kprune predict` writes a model's outputs: one file each, all or none, never outside the chosen
/// directory, never over a file the run reads.
@Suite struct PredictOutputsTests {
    /// fixtures/inference/keras2/output_names.h5: an LSTM's three outputs (`return_state`) and a shared Dense
    /// layer's two calls, five model outputs from two layers (tools/make_predict_outputs.py).
    static let model = Fixtures.directory.appendingPathComponent("inference/keras2/output_names.h5").path
    static let predictions = Fixtures.directory.appendingPathComponent("predict")
    static let labels = ["lstm", "lstm_1", "lstm_2", "head", "head_1"]

    static func expected(_ index: Int) -> String {
        predictions.appendingPathComponent("output_names.y.\(index).npy").path
    }

    static func expectClose(_ path: String, to expected: String) throws {
        let written = try ArraySource.open(path)
        let keras = try ArraySource.open(expected)
        #expect(written.shape == keras.shape, "\(path)")
        let worst = zip(try written.readAll(), try keras.readAll()).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 1
        #expect(worst <= 1e-4, "\(path)")
    }

    @Test func outputsOfOneLayerGetNumberedFilesInTheModelsOrder() throws {
        let directory = TemporaryDirectory()
        let data = try directory.copy(Self.predictions.appendingPathComponent("output_names.x.npy").path, as: "x.npy")
        let run = try Run(["predict", Self.model, "--data", data, "-o", directory.file("out.npy"), "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try directory.listing() == (Self.labels.map { "out.\($0).npy" } + ["x.npy"]).sorted())
        for (index, label) in Self.labels.enumerated() {
            try Self.expectClose(directory.file("out.\(label).npy"), to: Self.expected(index))
        }
        #expect(
            run.stdout.contains(
                "\"output_files\":[\"\(directory.file("out.lstm.npy"))\",\"\(directory.file("out.lstm_1.npy"))\""))

        // --output takes a file's label, and writes that output alone to -o.
        let one = try Run([
            "predict", Self.model, "--data", data, "-o", directory.file("state.npy"), "--output", "lstm_2",
        ])
        #expect(one.status == 0, "\(one.stderr)")
        try Self.expectClose(directory.file("state.npy"), to: Self.expected(2))
    }

    @Test func anOutputThatExistsStopsTheRunBeforeAnyIsWritten() throws {
        let directory = TemporaryDirectory()
        let data = try directory.copy(Self.predictions.appendingPathComponent("output_names.x.npy").path, as: "x.npy")
        try Data("theirs".utf8).write(to: URL(fileURLWithPath: directory.file("out.head.npy")))
        let run = try Run(["predict", Self.model, "--data", data, "-o", directory.file("out.npy")])
        #expect(run.status == 1)
        #expect(
            run.stderrLines == [
                "error: \(directory.file("out.head.npy")): output already exists (pass --force to replace it)"
            ])
        #expect(try directory.listing() == ["out.head.npy", "x.npy"])
        #expect(contents(directory.file("out.head.npy")) == Data("theirs".utf8))
    }

    /// hostile_output_name_escape.h5 names an output layer `x/../../escaped`.
    @Test func aNameFromTheFileNeverReachesAnotherDirectory() throws {
        let top = TemporaryDirectory()
        let inner = top.file("a/b")
        try FileManager.default.createDirectory(atPath: inner, withIntermediateDirectories: true)
        writeNPY(inner + "/x.npy", rows: 2, columns: 4, values: [Float](repeating: 0.5, count: 8))
        let model = Fixtures.directory.appendingPathComponent("hostile/hostile_output_name_escape.h5").path
        let run = try Run(["predict", model, "--data", "x.npy", "-o", "out.npy"], in: inner)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: inner).sorted()
                == ["out.plain.npy", "out.x_____escaped.npy", "x.npy"])
        #expect(try top.listing() == ["a"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: top.file("a")) == ["b"])
    }

    /// `-o` naming the data array's file, by its own path, another spelling of it, or a hard link to it.
    @Test(arguments: ["x.npy", "./sub/../x.npy", "link.npy"])
    func anOutputThatIsTheDataIsAUsageError(output: String) throws {
        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.file("sub"), withIntermediateDirectories: true)
        writeNPY(directory.file("x.npy"), rows: 3, columns: 8, values: [Float](repeating: 0.5, count: 24))
        #expect(link(directory.file("x.npy"), directory.file("link.npy")) == 0)
        let before = contents(directory.file("x.npy"))
        let run = try Run(
            [
                "predict", Fixtures.named("keras2/sequential.h5").path, "--data", "x.npy", "-o", output,
                "--force",
            ], in: directory.path)
        #expect(run.status == 64)
        #expect(run.stderrLines == ["error: \(output): the output is the input x.npy (choose another output with -o)"])
        #expect(contents(directory.file("x.npy")) == before)
        #expect(try directory.listing() == ["link.npy", "sub", "x.npy"])
    }

    @Test func noRowsGiveOutputsOfTheModelsShapesWithNoRows() throws {
        let directory = TemporaryDirectory()
        writeNPY(directory.file("x.npy"), descr: "<f4", shape: [0, 5, 3], data: [])
        let run = try Run(["predict", Self.model, "--data", directory.file("x.npy"), "-o", directory.file("out.npy")])
        #expect(run.status == 0, "\(run.stderr)")
        for (label, shape) in zip(Self.labels, [[0, 4], [0, 4], [0, 4], [0, 2], [0, 2]]) {
            #expect(try ArraySource.open(directory.file("out.\(label).npy")).shape == shape)
        }
    }

    /// A disk that fills while the outputs are written: the error names the output, not the descriptor its
    /// content was written through, and no output of the run is left. Needs root to mount a 64 KiB tmpfs.
    @Test(.enabled(if: getuid() == 0)) func aFullDiskNamesTheOutputAndLeavesNone() throws {
        let directory = TemporaryDirectory()
        let disk = directory.file("disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        guard mount("tmpfs", disk, "tmpfs", 0, "size=64k") == 0 else { return }  // no mounts in this container
        defer { umount(disk) }
        let rows = 2048  // 64 bytes of outputs per row: 128 KiB
        writeNPY(
            directory.file("x.npy"), descr: "<f4", shape: [rows, 5, 3],
            data: littleEndian([Float](repeating: 0.25, count: rows * 15).map(\.bitPattern)))
        let run = try Run(["predict", Self.model, "--data", directory.file("x.npy"), "-o", disk + "/out.npy"])
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1)
        #expect(run.stderr.hasPrefix("error: \(disk)/out."), "\(run.stderr)")
        #expect(run.stderr.contains("No space left on device"), "\(run.stderr)")
        #expect(!run.stderr.contains("/proc/self/fd"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: disk).isEmpty)
    }
}
