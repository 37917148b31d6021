import FileOutput
import Foundation
import HDF5
import TestSupport
import Testing

@testable import KerasFormat

/// A `.keras` input's output session: the staged weights rewritten in place, the archive written from them.
@Suite struct ArchiveOutputTests {
    @Test(arguments: Fixtures.convertible.filter { $0.format != "keras3-keras" })
    func anHDF5InputIsReadInPlaceAndFinishesNothing(_ fixture: Fixture) throws {
        let directory = TemporaryDirectory()
        let model = try KerasModel.open(fixture.path)
        #expect(!model.weightsFileIsStagedCopy)
        #expect(model.weightsFile == fixture.path, "the input itself is read")
        let output = try AtomicOutput(destination: directory.file("out.h5"))
        try model.finishOutput(output)
        #expect(contents(output.temporaryPath).isEmpty, "nothing is written for an HDF5 file")
        output.discard()
    }

    @Test(arguments: ["keras3/sequential.keras", "keras3/nested.keras", "keras3/conv.keras"])
    func writesTheArchiveFromTheStagedWeights(_ file: String) throws {
        let directory = TemporaryDirectory()
        let model = try KerasModel.open(Fixtures.named(file).path, stagingDirectory: directory.path)
        #expect(model.weightsFileIsStagedCopy)
        #expect(model.weightsFile.hasPrefix(directory.path), "staged where it was asked")
        let kernel = try #require(try model.targetLayer(named: nil).kernel)
        // The conversion's part: the staged copy is rewritten in place.
        try File.withOpen(model.weightsFile, mode: .readWrite) { file in
            try file.root().dataset(kernel.dataset).writeAll([Float](repeating: 0, count: kernel.count))
        }
        var written: [Data] = []
        for name in ["a.keras", "b.keras"] {
            let output = try AtomicOutput(destination: directory.file(name))
            try model.finishOutput(output)
            try output.commit()
            written.append(contents(directory.file(name)))
        }
        #expect(written[0] == written[1], "the same inputs give the same bytes")

        let reread = try KerasModel.open(directory.file("a.keras"))
        #expect(reread.format == .keras3Archive)
        #expect(reread.config == model.config)
        #expect(reread.layers.map(\.path) == model.layers.map(\.path))
        let values = try File.withOpen(reread.weightsFile) {
            try $0.root().dataset(kernel.dataset).readAll(as: Float.self)
        }
        #expect(values == [Float](repeating: 0, count: kernel.count), "the archive holds the rewritten weights")
    }

    @Test func removesTheStagedCopyWithTheModel() throws {
        let directory = TemporaryDirectory()
        var staged = ""
        do {
            let model = try KerasModel.open(
                Fixtures.named("keras3/sequential.keras").path, stagingDirectory: directory.path)
            staged = model.weightsFile
            #expect(FileManager.default.fileExists(atPath: staged))
        }
        #expect(!FileManager.default.fileExists(atPath: staged))
        #expect(try directory.listing().isEmpty)
    }

    @Test func refusesAnInputArchiveThatChangedMeanwhile() throws {
        let directory = TemporaryDirectory()
        let input = try directory.copy(Fixtures.named("keras3/sequential.keras").path)
        let model = try KerasModel.open(input, stagingDirectory: directory.path)
        try Data("no longer a zip".utf8).write(to: URL(fileURLWithPath: input))
        let output = try AtomicOutput(destination: directory.file("out.keras"))
        let error = try #require(throws: KerasFormatError.self) { try model.finishOutput(output) }
        #expect(error.file == input)
        #expect(error.code == .malformed)
        #expect(contents(output.temporaryPath).isEmpty, "nothing was written")
        output.discard()
    }

    @Test func refusesAStagingDirectoryThatCannotBeMade() throws {
        let directory = TemporaryDirectory()
        let error = try #require(throws: KerasFormatError.self) {
            try KerasModel.open(
                Fixtures.named("keras3/sequential.keras").path, stagingDirectory: directory.file("absent"))
        }
        #expect(error.code == .stagingFailed)
        #expect(error.cause != nil)
    }
}
