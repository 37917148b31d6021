import Foundation
import TestSupport
import Testing

/// A child process that a signal stops or kills, sent to it alone (not through its parent), or that crashes:
/// its input always gets one line saying which signal, and whose fault a crash is.
extension InterruptTests {
    /// Starts `convert first.h5 NAME never.h5` with `hooks`, waits until `ready(child)` holds for the child
    /// working on NAME, sends it `signal` and returns the run's status and error lines.
    func signalChild(
        _ name: String, hooks: [String: String], signal: Int32, in directory: TemporaryDirectory,
        ready: (Int32) throws -> Bool
    ) throws -> (status: Int32, lines: [String]) {
        let inputs = try ["first.h5", name, "never.h5"].map {
            try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: $0)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Run.binary)
        process.arguments = ["convert"] + inputs + ["--zeros", "1"]
        process.environment = ProcessInfo.processInfo.environment.merging(
            hooks.merging(["KPRUNE_TEST_HOOKS": "1"]) { $1 }
        ) { $1 }
        let errors = Pipe()
        process.standardOutput = Pipe()
        process.standardError = errors
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        var child: Int32?
        while child == nil, Date() < deadline {
            // The first input's child is done once its output is there; the next one is NAME's.
            let firstDone = FileManager.default.fileExists(atPath: directory.file("first.pruned.h5"))
            // The children share the parent's arguments; the one for NAME (input 1) says so in its environment.
            // The first input's child may still be exiting, its output already named.
            for pid in processes(mentioning: inputs[1])
            where firstDone && pid != process.processIdentifier && isChild(pid, forInput: 1) {
                if try ready(pid) { child = pid }
            }
            if child == nil { Thread.sleep(forTimeInterval: 0.01) }
        }
        let found = try #require(child, "the child working on \(name) was found")
        kill(found, signal)
        #expect(waitBriefly(process, mentioning: inputs[1]))
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, text.split(separator: "\n").map(String.init))
    }

    /// Whether process `pid` is a kprune child working on input `index` (`KPRUNE_CHILD_INPUT` in its
    /// environment).
    func isChild(_ pid: Int32, forInput index: Int) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
        return data.split(separator: 0).contains {
            String(decoding: $0, as: UTF8.self) == "KPRUNE_CHILD_INPUT=\(index)"
        }
    }

    /// Past its set-up the child removes its output and exits 128 + n; the parent says so and stops the batch.
    @Test(arguments: [SIGTERM, SIGINT])
    func aChildStoppedAloneGetsALineAndStopsTheBatch(signal: Int32) throws {
        let directory = TemporaryDirectory()
        let run = try signalChild(
            "paused.h5", hooks: ["KPRUNE_TEST_PAUSE_ON": "paused.h5"], signal: signal,
            in: directory
        ) { hasUnnamedOutput(pid: $0, in: directory.path) }
        #expect(run.status == 128 + signal)
        let name = signal == SIGTERM ? "signal 15: Terminated" : "signal 2: Interrupt"
        #expect(
            run.lines == [
                "error: \(directory.file("paused.h5")): kprune was stopped on this file (\(name)); nothing was written"
            ])
        #expect(try directory.listing() == ["first.h5", "first.pruned.h5", "never.h5", "paused.h5"])
    }

    /// Before its handler is installed the signal ends the child outright: the same line, and the parent
    /// removes what it left.
    @Test func aChildStoppedBeforeItsHandlerGetsTheSameLine() throws {
        let directory = TemporaryDirectory()
        let run = try signalChild(
            "hanging.h5", hooks: ["KPRUNE_TEST_HANG_ON": "hanging.h5"], signal: SIGTERM,
            in: directory
        ) { _ in try directory.listing().filter { $0.hasPrefix(".kprune-") }.count == 2 }
        #expect(run.status == 128 + SIGTERM)
        #expect(
            run.lines == [
                "error: \(directory.file("hanging.h5")): kprune was stopped on this file (signal 15: Terminated); nothing was written"
            ])
        #expect(try directory.listing() == ["first.h5", "first.pruned.h5", "hanging.h5", "never.h5"])
    }

    /// `SIGKILL` (the out-of-memory killer's) is no crash of kprune's nor the file's: said so, and the batch
    /// goes on.
    @Test func aKilledChildIsOneLineAndTheBatchGoesOn() throws {
        let directory = TemporaryDirectory()
        let run = try signalChild(
            "paused.h5", hooks: ["KPRUNE_TEST_PAUSE_ON": "paused.h5"], signal: SIGKILL,
            in: directory
        ) { hasUnnamedOutput(pid: $0, in: directory.path) }
        #expect(run.status == 1)
        #expect(
            run.lines == [
                "error: \(directory.file("paused.h5")): kprune stopped on this file (signal 9: Killed) "
                    + "(killed from outside, often for lack of memory)"
            ])
        #expect(try directory.listing() == ["first.h5", "first.pruned.h5", "never.h5", "never.pruned.h5", "paused.h5"])
    }

    /// A Swift trap in kprune's own code is a bug to report, not a corrupt file.
    @Test func aTrapInKpruneIsReportedAsABug() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: "trapping.h5")
        let run = try Run(
            ["convert", input, "--zeros", "1"],
            environment: ProcessInfo.processInfo.environment.merging(
                ["KPRUNE_TEST_HOOKS": "1", "KPRUNE_TEST_TRAP_ON": "trapping.h5"]) { $1 })
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1)
        #expect(run.stderr.hasPrefix("error: \(input): kprune stopped on this file (signal "), "\(run.stderr)")
        #expect(
            run.stderr.hasSuffix("(a bug in kprune: please report it, with the file if you can share it)\n"),
            "\(run.stderr)")
        #expect(!run.stderr.contains("corrupt"))
        #expect(try directory.listing() == ["trapping.h5"])
    }
}
