import Foundation
import KerasFormat
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

        let pending = try AtomicOutput(destination: directory.file("b.h5"))
        #expect(try directory.listing().count == 1)
        // What the signal handler calls: only unlink and rmdir on registered paths.
        AtomicOutput.removeAllPending()
        #expect(try directory.listing().isEmpty)
        pending.discard()
    }

    @Test func refusesMissingDirectories() throws {
        let directory = TemporaryDirectory()
        let error = try #require(throws: OutputError.self) {
            try AtomicOutput(destination: directory.file("missing/out.h5"))
        }
        #expect(error.message.contains("does not exist"))
    }
}
