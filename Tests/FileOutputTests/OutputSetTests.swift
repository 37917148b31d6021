import FileOutput
import Foundation
import TestSupport
import Testing

@Suite struct OutputSetTests {
    @Test func commitsEveryOutput() throws {
        let directory = TemporaryDirectory()
        let set = try OutputSet(destinations: [directory.file("a.npy"), directory.file("b.npy")], replacing: false)
        for output in set.outputs {
            try Data(output.destination.utf8).write(to: URL(fileURLWithPath: output.temporaryPath))
        }
        try set.commit()
        #expect(try directory.listing() == ["a.npy", "b.npy"])
        #expect(contents(directory.file("b.npy")) == Data(directory.file("b.npy").utf8))
    }

    /// A file that appears at the second destination during the run: the first output, already named, is
    /// removed again, and what appeared is kept.
    @Test func aFailureToNameALaterOutputRemovesTheEarlierOnes() throws {
        let directory = TemporaryDirectory()
        let set = try OutputSet(
            destinations: [directory.file("a.npy"), directory.file("b.npy"), directory.file("c.npy")],
            replacing: false)
        for output in set.outputs { try Data("new".utf8).write(to: URL(fileURLWithPath: output.temporaryPath)) }
        try Data("theirs".utf8).write(to: URL(fileURLWithPath: directory.file("b.npy")))
        let error = try #require(throws: OutputError.self) { try set.commit() }
        #expect(error.path == directory.file("b.npy"))
        #expect(error.code == .alreadyExists)
        #expect(try directory.listing() == ["b.npy"])
        #expect(contents(directory.file("b.npy")) == Data("theirs".utf8))
    }

    @Test func aReservationThatFailsDiscardsTheOthers() throws {
        let directory = TemporaryDirectory()
        #expect(throws: OutputError.self) {
            _ = try OutputSet(
                destinations: [directory.file("a.npy"), directory.file("missing/b.npy")], replacing: false)
        }
        #expect(try directory.listing().isEmpty)
    }
}
