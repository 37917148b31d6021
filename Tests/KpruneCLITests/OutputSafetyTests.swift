import Foundation
import TestSupport
import Testing

/// Outputs replace only what they may, appear whole or not at all, and errors name the user's files.
@Suite struct OutputSafetyTests {
    func sequential(in directory: TemporaryDirectory, as name: String? = nil) throws -> String {
        try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: name)
    }

    @Test func refusesADeviceEvenWithForce() throws {
        let directory = TemporaryDirectory()
        let input = try sequential(in: directory)
        let run = try Run(["convert", input, "--sparsity", "0.5", "-o", "/dev/null", "--force"])
        #expect(run.status == 1)
        #expect(
            run.stderrLines == [
                "error: /dev/null: the output exists and is a character device, not a regular "
                    + "file (kprune replaces only regular files, even with --force; choose another output)"
            ])
        #expect(fileType("/dev/null") == S_IFCHR, "/dev/null is still a character device")
        #expect(try directory.listing() == ["sequential.h5"])
    }

    @Test(arguments: ["fifo", "directory", "link to fifo", "socket"])
    func refusesWhatIsNotARegularFile(kind: String) throws {
        let directory = TemporaryDirectory()
        let input = try sequential(in: directory)
        let output = directory.file("out.h5")
        var expectedType = S_IFIFO
        switch kind {
        case "fifo":
            #expect(mkfifo(output, 0o644) == 0)
        case "directory":
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: false)
            expectedType = S_IFDIR
        case "link to fifo":
            #expect(mkfifo(directory.file("pipe"), 0o644) == 0)
            #expect(symlink(directory.file("pipe"), output) == 0)
            expectedType = S_IFLNK
        default:
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                for (index, byte) in output.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            try #require(bound == 0, "a socket path fits in sun_path")
            expectedType = S_IFSOCK
        }
        let before = try directory.listing()
        let run = try Run(["convert", input, "--sparsity", "0.5", "-o", output, "--force"])
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("error: \(output): the output exists and is a"))
        #expect(run.stderr.contains("not a regular file"))
        #expect(fileType(output) == expectedType, "left as it was")
        #expect(try directory.listing() == before, "nothing else written")
    }

    @Test(arguments: ["keras2/sequential.h5", "keras2/gzip_chunked.h5", "keras3/nested.keras"])
    func concurrentRunsNeverReplaceEachOther(fixture: String) throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named(fixture).path)
        let name = (input as NSString).lastPathComponent
        let suffix = name.hasSuffix(".keras") ? ".keras" : ".h5"
        for pair in 0..<20 {
            let output = directory.file("out\(pair)\(suffix)")
            let results = Locked([Run]())
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                do {
                    let run = try Run(["convert", input, "--sparsity", "0.5", "-o", output])
                    results.withLock { $0.append(run) }
                } catch {
                    Issue.record("cannot run kprune: \(error)")
                }
            }
            let runs = results.withLock { $0 }
            #expect(runs.filter { $0.status == 0 }.count == 1, "pair \(pair): exactly one succeeds")
            let failed = runs.filter { $0.status != 0 }
            #expect(failed.count == 1)
            #expect(
                failed.first?.stderrLines == ["error: \(output): output already exists (pass --force to replace it)"])
        }
        let expected = [name] + (0..<20).map { "out\($0)\(suffix)" }
        #expect(try directory.listing() == expected.sorted(), "no temporary or staging file is left")
    }

    @Test func collidingOutputsAreRefusedBeforeAnyWork() throws {
        let directory = TemporaryDirectory()
        let first = try sequential(in: directory)
        let sub = directory.file("sub")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        let second = try directory.copy(first, as: "sub/sequential.h5")
        let outputs = directory.file("out")
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: false)
        let sameName = try Run(["convert", first, second, "--sparsity", "0.5", "--output-dir", outputs])
        #expect(sameName.status == 64)
        #expect(
            sameName.stderrLines == [
                "error: \(outputs)/sequential.pruned.h5: the outputs of \(first) and "
                    + "\(second) are the same file (give each input its own output)"
            ])
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputs).isEmpty, "nothing converted")

        // The first input's output is the second input.
        let other = try directory.copy(first, as: "sequential.pruned.h5")
        let overInput = try Run(["convert", first, other, "--sparsity", "0.5", "--force"])
        #expect(overInput.status == 64)
        #expect(overInput.stderr.contains("the output of \(first) is the input \(other)"))
        #expect(contents(other) == contents(first), "the other input is untouched")

        let twiceInPlace = try Run(["convert", first, first, "--sparsity", "0.5", "--in-place"])
        #expect(twiceInPlace.status == 64)
        #expect(twiceInPlace.stderr.contains("are the same file"))
    }

    @Test func badOutputPathsAreRefusedBeforeAnyWork() throws {
        let directory = TemporaryDirectory()
        let input = try sequential(in: directory)
        let good = try sequential(in: directory, as: "good.h5")
        func refused(_ arguments: [String], _ message: String) throws {
            let run = try Run(["convert"] + arguments + ["--sparsity", "0.5"], in: directory.path)
            #expect(run.status == 1, "\(arguments)")
            #expect(run.stderrLines.count == 1, "\(run.stderr)")
            #expect(run.stderr.contains(message), "\(run.stderr)")
            #expect(try directory.listing() == ["good.h5", "sequential.h5"], "nothing written for \(arguments)")
        }
        try refused([input, "-o", ""], #"error: "": the output name is empty"#)
        try refused([input, "-o", "missing/"], "error: missing/: the output ends in '/', so it names a directory")
        try refused([input, "-o", "missing/out.h5"], "error: missing/out.h5: output directory missing does not exist")
        let long = String(repeating: "m", count: 250)
        _ = try directory.copy(input, as: long + ".h5")
        // The default name, m...m.pruned.h5, is 257 bytes: refused before the first input is converted.
        let run = try Run(["convert", good, long + ".h5", "--sparsity", "0.5"], in: directory.path)
        #expect(run.status == 1)
        #expect(
            run.stderrLines == [
                "error: \(long).pruned.h5: the output's file name is 260 bytes, longer than the "
                    + "255 a file system takes (choose a shorter name with -o)"
            ])
        #expect(try directory.listing() == ["good.h5", long + ".h5", "sequential.h5"], "good.h5 was not converted")
    }

    @Test func errorsNameTheOutputNotATemporaryFile() throws {
        // A write that fails: a file size limit (SIGXFSZ ignored, so the write returns EFBIG).
        let directory = TemporaryDirectory()
        for fixture in ["keras2/sequential.h5", "keras2/gzip_chunked.h5"] {
            let input = try directory.copy(Fixtures.named(fixture).path)
            let output = directory.file("out.h5")
            let run = try Run(
                [
                    "/bin/sh", "-c", "trap '' XFSZ; ulimit -f 20; exec \"$0\" \"$@\"", Run.binary,
                    "convert", input, "--sparsity", "0.5", "-o", output,
                ], executable: "/bin/sh")
            #expect(run.status == 1)
            #expect(run.stderrLines.count == 1, "\(run.stderr)")
            #expect(run.stderr.hasPrefix("error: \(output): "), "\(run.stderr)")
            #expect(!run.stderr.contains("/proc/self") && !run.stderr.contains(".kprune-"), "\(run.stderr)")
            try FileManager.default.removeItem(atPath: input)
            #expect(try directory.listing().isEmpty, "nothing left behind")
        }
    }

    @Test func controlCharactersInNamesAreEscaped() throws {
        let directory = TemporaryDirectory()
        let name = "evil\nname\u{1B}[31m.h5"
        let input = try sequential(in: directory, as: name)
        let run = try Run(["convert", input, "--sparsity", "0.5"])
        #expect(run.status == 0)
        let escaped = directory.file(#"evil\nname\x1b[31m"#)
        #expect(run.stdout.split(separator: "\n").count == 1, "one record, one line")
        #expect(run.stdout.hasPrefix("\(escaped).h5 -> \(escaped).pruned.h5: "))
        #expect(!run.stdout.contains("\u{1B}"))
        let again = try Run(["convert", input, "--sparsity", "0.5"])
        #expect(
            again.stderrLines == ["error: \(escaped).pruned.h5: output already exists (pass --force to replace it)"])
        let inspect = try Run(["inspect", input])
        #expect(inspect.stdout.hasPrefix("\(escaped).h5: keras2-h5"))
        let json = try Run(["convert", input, "--sparsity", "0.5", "--force", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["input"] as? String == input, "JSON carries the name exactly")
    }

    @Test func anInputNamedLikeAnOptionGetsAHint() throws {
        let directory = TemporaryDirectory()
        _ = try sequential(in: directory, as: "-x.h5")
        let run = try Run(["convert", "-x.h5", "--sparsity", "0.5"], in: directory.path)
        #expect(run.status == 64)
        #expect(run.stdout.isEmpty, "no help text")
        #expect(
            run.stderrLines == [
                "error: -x.h5: an input whose name starts with '-' is read as an option "
                    + "(put -- before the inputs: kprune convert --sparsity 0.5 -- -x.h5)"
            ])
        let inspect = try Run(["inspect", "-x.h5"], in: directory.path)
        #expect(inspect.status == 64 && inspect.stdout.isEmpty)
        let fixed = try Run(["convert", "--sparsity", "0.5", "--", "-x.h5"], in: directory.path)
        #expect(fixed.status == 0)
        #expect(try directory.listing() == ["-x.h5", "-x.pruned.h5"])
    }

    static let badNumbers: [(arguments: [String], message: String)] = [
        (["--sparsity", "-0"], "--sparsity -0.0 is outside [0, 1]: it is negative"),
        (["--sparsity", "-0.5"], "--sparsity -0.5 is outside [0, 1]: it is negative"),
        (["--zeros", "-1"], "--zeros -1 is negative"),
        (
            ["--sparsity", "0.5", "--features", "h.npy", "--learning-rate", "1e-300"],
            "--learning-rate 1e-300 is outside"
        ),
        (["--sparsity", "0.5", "--features", "h.npy", "--learning-rate", "1e38"], "--learning-rate 1e+38 is outside"),
        (
            ["--sparsity", "0.5", "--features", "h.npy", "--learning-rate", "-1"],
            "--learning-rate -1.0 must be a positive"
        ),
        (
            ["--sparsity", "0.5", "--features", "h.npy", "--epochs", "9223372036854775807"],
            "--epochs 9223372036854775807 is outside [1, 1000000]"
        ),
        (
            ["--sparsity", "0.5", "--features", "h.npy", "--batch-size", "9223372036854775806"],
            "--batch-size 9223372036854775806 is outside [1, 16777216]"
        ),
        (
            ["--sparsity", "0.5", "--features", "h.npy", "--in-memory-limit", "9007199254740993"],
            "--in-memory-limit 9007199254740993 is outside [0, 1073741824] MiB"
        ),
        (
            ["--sparsity", "0.5", "--features", "h.npy", "--validation-split", "-0"],
            "--validation-split -0.0 must lie in [0, 1)"
        ),
        (["--sparsity", "0.5", "--features", "h.npy", "--seed", "-1"], "'-1' is invalid for '--seed"),
    ]

    @Test(arguments: badNumbers)
    func badNumbersSayWhatIsWrong(_ arguments: [String], _ message: String) throws {
        let run = try Run(["convert", "m.h5"] + arguments)
        #expect(run.status == 64)
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(!run.stderr.contains("Missing value"))
    }
}

/// A value shared between threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}
