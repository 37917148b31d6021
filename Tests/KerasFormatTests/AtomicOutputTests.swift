import Foundation
@testable import KerasFormat
import TestSupport
import Testing

@Suite struct AtomicOutputTests {
    @Test func commitsCompleteFilesAndReplacesAtomically() throws {
        let directory = TemporaryDirectory()
        let destination = directory.file("out.h5")
        try Data("old".utf8).write(to: URL(fileURLWithPath: destination))
        let output = try AtomicOutput(destination: destination)
        #expect(output.temporaryPath.hasPrefix(directory.path), "written beside the destination")
        try Data("new".utf8).write(to: URL(fileURLWithPath: output.temporaryPath))
        #expect(contents(destination) == Data("old".utf8), "nothing shows before the commit")
        try output.commit()
        #expect(contents(destination) == Data("new".utf8))
        #expect(try directory.listing() == ["out.h5"], "the old file is gone, no temporary is left")
    }

    @Test func discardsOnFailureAndOnInterrupt() throws {
        let directory = TemporaryDirectory()
        do {
            let output = try AtomicOutput(destination: directory.file("a.h5"))
            try Data("partial".utf8).write(to: URL(fileURLWithPath: output.temporaryPath))
        }
        #expect(try directory.listing().isEmpty, "an uncommitted output is removed when dropped")

        // What the signal handler runs, on a registry of this test's own: the process-wide one holds other
        // tests' files, which run in parallel.
        let registry = PendingFiles()
        let staging = directory.file("staging")
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        FileManager.default.createFile(atPath: staging + "/member", contents: Data("x".utf8))
        FileManager.default.createFile(atPath: directory.file("b.tmp"), contents: Data("partial".utf8))
        registry.add(staging)
        registry.add(staging + "/member")
        registry.add(directory.file("b.tmp"))
        registry.unlinkAll()
        #expect(try directory.listing().isEmpty)
    }

    @Test func refusesMissingDirectories() throws {
        let directory = TemporaryDirectory()
        let error = try #require(throws: OutputError.self) {
            try AtomicOutput(destination: directory.file("missing/out.h5"))
        }
        #expect(error.message.contains("does not exist"))
    }
}
