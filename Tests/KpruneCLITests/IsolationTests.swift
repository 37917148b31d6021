import Foundation
import TestSupport
import Testing

/// Runs the built `kprune` with extra environment variables.
private func runKprune(_ arguments: [String], environment extra: [String: String]) throws -> Run {
    var environment = ProcessInfo.processInfo.environment
    for (key, value) in extra { environment[key] = value }
    return try Run(arguments, environment: environment)
}

/// Each input is worked on in a child process: a crash is that input's one-line error, and the batch goes on.
/// The crash comes from the test hook `KPRUNE_TEST_CRASH_ON` (honoured only with `KPRUNE_TEST_HOOKS=1`), which
/// leaves a temporary output and a staging directory as a conversion killed midway would, then raises SIGSEGV.
@Suite struct IsolationTests {
    static let crash = ["KPRUNE_TEST_HOOKS": "1", "KPRUNE_TEST_CRASH_ON": "crashing.keras"]

    @Test func aCrashIsOneLineAndTheBatchGoesOn() throws {
        let directory = TemporaryDirectory()
        let first = try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: "first.h5")
        let crashing = try directory.copy(Fixtures.named("keras3/nested.keras").path, as: "crashing.keras")
        let last = try directory.copy(Fixtures.named("keras3/nested.keras").path, as: "last.keras")
        let output = TemporaryDirectory()
        let run = try runKprune(
            ["convert", first, crashing, last, "--sparsity", "0.5", "--output-dir", output.path],
            environment: Self.crash)
        #expect(run.status == 1)
        #expect(
            run.stderrLines == [
                "error: \(crashing): kprune stopped on this file (signal 11: Segmentation fault) (the file may be corrupt)"
            ])
        #expect(run.stdout.split(separator: "\n").count == 2)
        #expect(try output.listing() == ["first.pruned.h5", "last.pruned.keras"], "no temporary file is left")
        #expect(try directory.listing() == ["crashing.keras", "first.h5", "last.keras"])
    }

    @Test func aSingleInputCrashIsOneLineToo() throws {
        let directory = TemporaryDirectory()
        let crashing = try directory.copy(Fixtures.named("keras3/nested.keras").path, as: "crashing.keras")
        let run = try runKprune(["convert", crashing, "--zeros", "3", "--json"], environment: Self.crash)
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderrLines.count == 1)
        #expect(run.stderrLines.first?.hasPrefix("error: \(crashing): kprune stopped on this file (signal 11") == true)
        #expect(try directory.listing() == ["crashing.keras"])
    }

    @Test func inspectCrashIsOneLine() throws {
        let directory = TemporaryDirectory()
        let crashing = try directory.copy(Fixtures.named("keras3/nested.keras").path, as: "crashing.keras")
        let run = try runKprune(["inspect", crashing], environment: Self.crash)
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderrLines.count == 1)
        #expect(run.stderrLines.first?.contains("kprune stopped on this file (signal 11") == true)
        #expect(try directory.listing() == ["crashing.keras"])
    }

    @Test func theHookNeedsItsSwitch() throws {
        let directory = TemporaryDirectory()
        let crashing = try directory.copy(Fixtures.named("keras3/nested.keras").path, as: "crashing.keras")
        let run = try runKprune(
            ["convert", crashing, "--zeros", "3"], environment: ["KPRUNE_TEST_CRASH_ON": "crashing.keras"])
        #expect(run.status == 0)
        #expect(try directory.listing() == ["crashing.keras", "crashing.pruned.keras"])
    }

    @Test func inProcessGivesTheSameResults() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        let isolated = try runKprune(
            ["convert", input, "--zeros", "9", "-o", directory.file("a.h5")], environment: [:])
        let inProcess = try runKprune(
            ["convert", input, "--zeros", "9", "-o", directory.file("b.h5")],
            environment: ["KPRUNE_IN_PROCESS": "1"])
        #expect(isolated.status == 0)
        #expect(inProcess.status == 0)
        #expect(contents(directory.file("a.h5")) == contents(directory.file("b.h5")))
    }

    @Test func failuresKeepTheirOwnLineAndStatus() throws {
        let directory = TemporaryDirectory()
        let missing = directory.file("missing.h5")
        let good = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        let run = try runKprune(["convert", missing, good, "--zeros", "2"], environment: [:])
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1)
        #expect(run.stderrLines.first?.hasPrefix("error: \(missing): ") == true)
        #expect(run.stdout.split(separator: "\n").count == 1)
    }

    @Test(.timeLimit(.minutes(1)), arguments: [SIGTERM, SIGINT])
    func aSignalIsForwardedToTheChild(_ signalNumber: Int32) throws {
        let directory = TemporaryDirectory()
        let done = try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: "done.h5")
        let hanging = try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: "hanging.h5")
        let never = try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: "never.h5")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Run.binary)
        process.arguments = ["convert", done, hanging, never, "--zeros", "1"]
        var environment = ProcessInfo.processInfo.environment
        environment["KPRUNE_TEST_HOOKS"] = "1"
        environment["KPRUNE_TEST_HANG_ON"] = "hanging.h5"
        process.environment = environment
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        try process.run()
        // The hanging child has left its temporary files once they are listed.
        let deadline = Date().addingTimeInterval(20)
        while try directory.listing().filter({ $0.hasPrefix(".kprune-") }).count < 2, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(process.processIdentifier, signalNumber)
        // Bounded: a stuck run fails this test instead of hanging the suite.
        let exitDeadline = Date().addingTimeInterval(30)
        while process.isRunning, Date() < exitDeadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(!process.isRunning, "kprune ended within 30 s of the signal")
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 128 + signalNumber)
        #expect(
            try directory.listing() == ["done.h5", "done.pruned.h5", "hanging.h5", "never.h5"],
            "the batch stopped and nothing was left")
    }
}
