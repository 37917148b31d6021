import Foundation
import TestSupport
import Testing

/// Files crafted by `tools/make_hostile.py` (h5py and numpy, not Keras): each must be refused with one line
/// naming the input, leave the output unwritten, and never change the files its pointers lead to.
@Suite struct HostileInputTests {
    static let hostile = Fixtures.directory.appendingPathComponent("hostile")

    static func hostilePath(_ name: String) -> String { hostile.appendingPathComponent(name).path }

    struct Case: CustomTestStringConvertible, Sendable {
        let file: String
        let extra: [String]
        let message: String
        var testDescription: String { "\(file) \(extra.joined(separator: " "))" }
    }

    static let modelCases: [Case] = [
        Case(file: "hostile_kernel_external_storage.h5", extra: [], message: "external raw file 'hostile_victim.bin'"),
        Case(file: "hostile_bias_external_storage.h5", extra: [], message: "the bias 'dense_1/bias:0'"),
        Case(
            file: "hostile_slot_external_storage.h5", extra: [], message: "the optimizer slot 'Adam/m/dense_1/kernel:0'"
        ),
        Case(file: "hostile_kernel_virtual.h5", extra: [], message: "is a virtual dataset"),
        Case(file: "hostile_kernel_external_link.h5", extra: [], message: "is an external link to"),
        Case(file: "hostile_layer_group_external_link.h5", extra: [], message: "which kprune does not follow"),
        Case(file: "hostile_kernel_unallocated.h5", extra: [], message: "while the file holds only 0 bytes"),
        Case(file: "hostile_kernel_external_link.keras", extra: [], message: "is an external link to"),
        Case(
            file: "hostile_kernel_external_storage.keras", extra: [], message: "external raw file 'hostile_victim.bin'"),
        // The same refusals when the layer is named rather than found.
        Case(file: "hostile_kernel_external_storage.h5", extra: ["--layer", "dense_1"], message: "external raw file"),
        Case(file: "hostile_bias_external_storage.h5", extra: ["--layer", "dense_1"], message: "the bias"),
    ]

    static let calibrationCases: [Case] = [
        Case(file: "hostile_features.h5:/external_storage", extra: [], message: "external raw file"),
        Case(file: "hostile_features.h5:/virtual", extra: [], message: "virtual dataset"),
        Case(file: "hostile_features.h5:/external_link", extra: [], message: "an external link to hostile_victim.h5"),
        Case(file: "hostile_features.h5:/rows_2e40", extra: [], message: "while the file holds only 0 bytes"),
        Case(
            file: "hostile_features.h5:/count_overflow", extra: [],
            message: "/count_overflow: its element count overflows a 64-bit integer"),
        Case(file: "hostile_header_4gib.npy", extra: [], message: "header claims 4294967295 bytes in a file of 100"),
        Case(file: "hostile_shape_overflow.npy", extra: [], message: "overflows a 64-bit size"),
        Case(
            file: "hostile_npz_duplicate_member.npz:x", extra: [],
            message: "the archive holds the array 'x' twice (members x.npy, x.npy)"),
        Case(file: "hostile_npy_duplicate_key.npy", extra: [], message: "the .npy header gives the key 'descr' twice"),
        Case(
            file: "hostile_features.h5:/ok", extra: ["--labels", "hostile_labels_1e20.npy"],
            message: "is not a class id in 0..<4"),
        Case(
            file: "hostile_features.h5:/ok", extra: ["--labels", "hostile_labels_int64_max.npy"],
            message: "is not a class id in 0..<4"),
        Case(
            file: "hostile_features.h5:/ok", extra: ["--labels", "hostile_labels_uint64_max.npy"],
            message: "is not a class id in 0..<4"),
    ]

    /// Bytes of every file a hostile fixture points at.
    static func victims() -> [Data] {
        ["hostile_victim.bin", "hostile_victim.h5"].map { contents(hostilePath($0)) }
    }

    /// Runs `kprune convert` in a fresh directory holding copies of the hostile files (external raw storage is
    /// found relative to the working directory) and checks the refusal.
    func expectRefused(
        _ arguments: (TemporaryDirectory) throws -> [String], message: String,
        input: String
    ) throws {
        let directory = TemporaryDirectory()
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.hostile.path)
        for name in names { _ = try directory.copy(Self.hostilePath(name)) }
        let commandLine = try arguments(directory)
        let before = try directory.listing()
        let victims = Self.victims()
        let copiedVictims = ["hostile_victim.bin", "hostile_victim.h5"].map { contents(directory.file($0)) }
        let clock = ContinuousClock.now
        let run = try Run(["convert"] + commandLine, in: directory.path)
        #expect(ContinuousClock.now - clock < .seconds(20), "refused quickly")
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderrLines.count == 1, "one line: \(run.stderr)")
        #expect(run.stderrLines.first?.hasPrefix("error: \(input)") == true, "\(run.stderr)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
        let after = try directory.listing()
        #expect(after == before, "nothing written: \(after)")
        #expect(Self.victims() == victims, "the pointed-at files are unchanged")
        #expect(["hostile_victim.bin", "hostile_victim.h5"].map { contents(directory.file($0)) } == copiedVictims)
    }

    @Test(arguments: modelCases)
    func refusesModel(_ testCase: Case) throws {
        let output = testCase.file.hasSuffix(".keras") ? "out.keras" : "out.h5"
        try expectRefused(
            { _ in [testCase.file, "--sparsity", "0.5", "-o", output] + testCase.extra },
            message: testCase.message, input: testCase.file)
    }

    @Test(arguments: calibrationCases)
    func refusesCalibration(_ testCase: Case) throws {
        try expectRefused(
            { directory in
                let model = try directory.copy(Fixtures.named("keras2/trailing_softmax.h5").path, as: "model.h5")
                return [model, "--sparsity", "0.5", "-o", "out.h5", "--features", testCase.file] + testCase.extra
            }, message: testCase.message, input: testCase.extra.isEmpty ? testCase.file : testCase.extra[1])
    }

    /// An array named twice is refused as the model's inputs too, by `predict` and `convert --data`: one line
    /// naming the data, exit 1, nothing written.
    @Test(arguments: [
        ("hostile_npy_duplicate_key.npy", "the .npy header gives the key 'descr' twice"),
        ("hostile_npz_duplicate_member.npz:x", "the archive holds the array 'x' twice"),
    ])
    func refusesDataNamedTwice(_ data: String, _ message: String) throws {
        let directory = TemporaryDirectory()
        let model = try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: "model.h5")
        let input = try directory.copy(Self.hostilePath(String(data.prefix { $0 != ":" })))
        let name = input + data.drop { $0 != ":" }
        let before = try directory.listing()
        for arguments in [
            ["predict", model, "--data", name, "-o", directory.file("p.npy")],
            ["convert", model, "--sparsity", "0.5", "--data", name, "-o", directory.file("out.h5")],
        ] {
            let run = try Run(arguments)
            #expect(run.status == 1, "\(arguments[0])")
            #expect(run.stdout.isEmpty)
            #expect(run.stderrLines.count == 1, "one line: \(run.stderr)")
            #expect(run.stderrLines.first?.hasPrefix("error: \(name): \(message)") == true, "\(run.stderr)")
            #expect(try directory.listing() == before, "nothing written")
        }
    }

    /// `inspect` lists such weights with the reason and reads none of their elements.
    @Test(arguments: [
        "hostile_kernel_external_storage.h5", "hostile_kernel_virtual.h5", "hostile_kernel_unallocated.h5",
    ])
    func inspectsWithoutReadingOutsideStorage(_ file: String) throws {
        let run = try Run(["inspect", "--json", Self.hostilePath(file)])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("\"storage_problem\""), "\(run.stdout)")
    }

    @Test func refusesDeeplyNestedGroupsQuickly() throws {
        let run = try Run(["inspect", Self.hostilePath("hostile_deep_groups.weights.h5")])
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1, "\(run.stderr)")
        #expect(run.stderr.contains("groups nest more than 64 deep"), "\(run.stderr)")
    }

    /// A 0.25 MB `.keras` holding a 256 MiB member of zeros: the member is streamed zip to zip, so the run's
    /// memory stays far below the member's size, and the output keeps every member.
    @Test func streamsLargeArchiveMembers() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Self.hostilePath("hostile_big_asset.keras"))
        let (status, peak) = try Self.peakResidentKiB([
            "convert", input, "--sparsity", "0.5", "-o",
            directory.file("out.keras"),
        ])
        #expect(status == 0)
        #expect(peak < 200 * 1024, "peak RSS of kprune and its child \(peak) KiB")
        #expect(try Self.members(input) == Self.members(directory.file("out.keras")))
    }

    /// A file on which libhdf5 loops for ever reading the structure (found by the fuzz suite) stops every
    /// command that opens a model at the structure deadline, in one line, the input untouched and no output.
    @Test(arguments: ["inspect", "convert", "predict"])
    func stopsReadingALoopingStructure(_ command: String) throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Self.hostilePath("hostile_structure_loop.h5"))
        let before = contents(input)
        let output = directory.file("out." + (command == "predict" ? "npy" : "h5"))
        let arguments: [String] =
            switch command {
            case "inspect": [command, input]
            case "convert": [command, input, "--sparsity", "0.5", "-o", output]
            default:
                [
                    command, input, "--data",
                    Fixtures.directory.appendingPathComponent("predict/inference_keras2_image_h5.x.npy").path, "-o",
                    output,
                ]
            }
        let environment = ProcessInfo.processInfo.environment.merging(["KPRUNE_STRUCTURE_SECONDS": "1"]) { $1 }
        let run = try Run(arguments, environment: environment)
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1)
        #expect(run.stderr.contains("reading its structure took over 1 s"))
        #expect(contents(input) == before)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
                == ["hostile_structure_loop.h5"])
    }

    /// Runs kprune and returns its exit status and the peak resident size, in KiB, of it and its child.
    /// GNU time measures it: a child's `ru_maxrss` counts the resident size of the process it was spawned
    /// from at the moment of spawning, and this test process may hold hundreds of MiB for tests running in
    /// parallel, where `time` holds almost nothing.
    static func peakResidentKiB(_ arguments: [String]) throws -> (status: Int32, peak: Int) {
        let time = "/usr/bin/time"
        try #require(FileManager.default.isExecutableFile(atPath: time), "GNU time (Debian package time) is missing")
        let directory = TemporaryDirectory()
        let report = directory.file("peak")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: time)
        process.arguments = ["-f", "%M", "-o", report, Run.binary] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        // Its last line is the figure (a line before it tells a non-zero exit).
        let text = try String(contentsOfFile: report, encoding: .utf8)
        let peak = try #require(text.split(separator: "\n").last.flatMap { Int($0) })
        return (process.terminationStatus, peak)
    }

    /// Member names and uncompressed sizes, as `unzip -Z` lists them.
    static func members(_ path: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unzip")
        process.arguments = ["-Zl", path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        // Each member line: permissions, version, system, size, ..., name; keep the size and the name.
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 10, fields[0].count == 10, fields[2] == "unx" else { return nil }
            return "\(fields[3]) \(fields[fields.count - 1])"
        }
    }
}
