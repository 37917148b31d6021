import Foundation
import TestSupport
import Testing

/// Interrupted runs leave nothing behind: an unnamed output even on SIGKILL, named temporaries and staging
/// directories on SIGINT, SIGTERM and SIGHUP, for `convert` and `inspect` alike.
@Suite(.tags(.slow), .fullTier, .timeLimit(.minutes(2))) struct InterruptTests {
    /// Starts kprune with `arguments`, waits until `ready` holds, sends `signal` and returns the exit status.
    func interrupt(
        _ arguments: [String], environment: [String: String] = [:], signal: Int32,
        when ready: () throws -> Bool
    ) throws -> (status: Int32, uncaught: Bool) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Run.binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while try !ready(), process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(process.isRunning, "kprune was still at work when signalled")
        kill(process.processIdentifier, signal)
        let exited = waitBriefly(process, mentioning: arguments.last ?? "")
        #expect(exited, "kprune ended within 30 s of the signal")
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
    }

    /// Waits up to 30 s for `process` to end; past that, kills it and every process whose command line
    /// mentions `text` (its child), so a stuck run fails its test instead of hanging the suite.
    func waitBriefly(_ process: Process, mentioning text: String) -> Bool {
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        guard process.isRunning else { return true }
        for pid in processes(mentioning: text) where !text.isEmpty { kill(pid, SIGKILL) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return false
    }

    /// The process's open descriptor that names a deleted file in `directory`: the unnamed output.
    func hasUnnamedOutput(pid: Int32, in directory: String) -> Bool {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return fds.contains { fd in
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")) ?? ""
            return target.hasPrefix(directory + "/#")
        }
    }

    /// Every output format is written unnamed: `.h5` and `.keras` alike (the zip writer opens the unnamed
    /// file by its `/proc/self/fd` path). What a `.keras` input stages for libhdf5 is named, and registered.
    @Test(arguments: ["keras2/sequential.h5", "keras3/nested.keras"])
    func sigkillLeavesNoOutputBehind(_ fixture: String) throws {
        // The test hook KPRUNE_TEST_PAUSE_ON makes the run wait once its output is reserved.
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named(fixture).path)
        let name = (fixture as NSString).lastPathComponent
        let features = directory.file("h.npy")
        #expect(FileManager.default.createFile(atPath: features, contents: Data()))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Run.binary)
        process.arguments = ["convert", input, "--sparsity", "0.5", "--features", features]
        // The process holding the unnamed output is the one killed: no child process in between.
        var environment = ProcessInfo.processInfo.environment
        environment["KPRUNE_IN_PROCESS"] = "1"
        environment["KPRUNE_TEST_HOOKS"] = "1"
        environment["KPRUNE_TEST_PAUSE_ON"] = name
        process.environment = environment
        process.standardError = Pipe()
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while !hasUnnamedOutput(pid: process.processIdentifier, in: directory.path), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(hasUnnamedOutput(pid: process.processIdentifier, in: directory.path), "the output is unnamed")
        #expect(try directory.listing().filter { $0.hasSuffix(".tmp") }.isEmpty, "no named temporary output")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let left = try directory.listing().filter { !$0.hasSuffix(".staging") }.sorted()
        #expect(left == ["h.npy", name].sorted(), "no output to clean up after SIGKILL")
        for staging in try directory.listing() where staging.hasSuffix(".staging") {
            try FileManager.default.removeItem(atPath: directory.file(staging))
        }
    }

    /// Processes whose command line mentions `text`.
    func processes(mentioning text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).contains(text)
        }
    }

    /// A crashed child's leftovers are removed by its parent, and nothing of another kprune working in the
    /// same directory (its entries carry its own pid).
    @Test func aCrashRemovesOnlyTheChildsOwnEntries() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: "hanging.h5")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Run.binary)
        process.arguments = ["convert", input, "--zeros", "1"]
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["KPRUNE_TEST_HOOKS": "1", "KPRUNE_TEST_HANG_ON": "hanging.h5"]) { $1 }
        process.standardError = Pipe()
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while try directory.listing().filter({ $0.hasPrefix(".kprune-") }).count < 2, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        let foreign = ".kprune-\(getpid())-foreign.staging"
        try FileManager.default.createDirectory(atPath: directory.file(foreign), withIntermediateDirectories: false)
        for pid in processes(mentioning: input) where pid != process.processIdentifier { kill(pid, SIGSEGV) }
        #expect(waitBriefly(process, mentioning: input))
        #expect(process.terminationStatus == 1)
        #expect(try directory.listing().sorted() == [foreign, "hanging.h5"].sorted())
    }

    /// The parent killed outright: its child working on the input is told (`SIGTERM`), removes its
    /// unfinished output and ends, instead of working on orphaned.
    @Test func aChildEndsWithItsParent() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras3/nested.keras").path)
        let features = directory.file("h.npy")
        #expect(FileManager.default.createFile(atPath: features, contents: Data()))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Run.binary)
        process.arguments = ["convert", input, "--sparsity", "0.5", "--features", features]
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["KPRUNE_TEST_HOOKS": "1", "KPRUNE_TEST_PAUSE_ON": "nested.keras"]) { $1 }
        process.standardError = Pipe()
        try process.run()
        var deadline = Date().addingTimeInterval(20)
        while processes(mentioning: directory.path).count < 2, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(processes(mentioning: directory.path).count == 2, "the parent and its child")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        deadline = Date().addingTimeInterval(20)
        while !processes(mentioning: directory.path).isEmpty, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(processes(mentioning: directory.path).isEmpty, "no orphaned child")
        #expect(try directory.listing() == ["h.npy", "nested.keras"])
    }

    @Test(arguments: [SIGINT, SIGTERM, SIGHUP])
    func aSignalRemovesTheArchivesTemporaryAndStaging(signal: Int32) throws {
        // A .keras output is written through a named temporary file, and its weights are staged beside it.
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras3/nested.keras").path)
        let features = directory.file("h.npy")
        #expect(FileManager.default.createFile(atPath: features, contents: Data()))
        let run = try interrupt(
            ["convert", input, "--sparsity", "0.5", "--features", features],
            environment: ["KPRUNE_TEST_HOOKS": "1", "KPRUNE_TEST_PAUSE_ON": "nested.keras"],
            signal: signal
        ) {
            try directory.listing().contains { $0.hasSuffix(".tmp") }
        }
        #expect(run.status == 128 + signal && !run.uncaught)
        #expect(try directory.listing() == ["h.npy", "nested.keras"])
    }

    @Test func inspectRemovesItsStagingOnASignal() throws {
        // An archive whose weights member unpacks to 512 MiB (the HDF5 file padded with zeros) keeps
        // `inspect` staging long enough to be interrupted.
        let directory = TemporaryDirectory()
        let staging = directory.file("tmp")
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        let archive = directory.file("big.keras")
        try runTool(
            "python3",
            [
                "-c",
                """
                import sys, zipfile
                source, target = sys.argv[1], sys.argv[2]
                with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
                    for item in old.infolist():
                        data = old.read(item)
                        if item.filename == "model.weights.h5":
                            data += bytes(512 << 20)
                        new.writestr(item, data, zipfile.ZIP_DEFLATED)
                """, Fixtures.named("keras3/nested.keras").path, archive,
            ])
        let run = try interrupt(["inspect", archive], environment: ["TMPDIR": staging], signal: SIGTERM) {
            try !FileManager.default.contentsOfDirectory(atPath: staging).isEmpty
        }
        #expect(run.status == 128 + SIGTERM && !run.uncaught, "the handler ran")
        #expect(try FileManager.default.contentsOfDirectory(atPath: staging).isEmpty, "the staging is gone")
    }
}
