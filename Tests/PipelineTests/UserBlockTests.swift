import FileOutput
import Foundation
import HDF5
import KerasFormat
import TestSupport
import Testing

@testable import FineTune
@testable import Numerics
@testable import Pipeline
@testable import Sparsity

@Suite struct UserBlockTests {
    /// A Keras file given a user block by `h5jam` converts exactly, by direct reads and writes, and the
    /// output keeps the block.
    @Test(arguments: [512, 1024, 4096])
    func convertsAFileWithAUserBlock(_ blockBytes: Int) throws {
        let directory = TemporaryDirectory()
        let plain = Fixtures.named("keras2/sequential.h5")
        let block = directory.file("block.txt")
        try Data(String(repeating: "u", count: blockBytes - 100).utf8).write(to: URL(fileURLWithPath: block))
        let input = directory.file("jammed.h5")
        try runTool("h5jam", ["-i", plain.path, "-u", block, "-o", input])
        #expect(try File.withOpen(input) { try $0.userBlockSize() } == blockBytes)

        let output = directory.file("out.h5")
        let report = try Converter.convert(ConversionRequest(input: input, output: output, target: .zeros(50)))
        #expect(report.zerosAfter == 50)
        let kernel = try #require(plain.kernelDataset)
        let pruned = try File.withOpen(output) { try $0.root().dataset(kernel).readAll(as: Double.self) }
        let original = try File.withOpen(plain.path) { try $0.root().dataset(kernel).readAll(as: Double.self) }
        #expect(pruned == expectedPruning(original, target: 50))
        #expect(contents(output).prefix(blockBytes) == contents(input).prefix(blockBytes), "the user block is kept")

        let descriptor = try FileDescriptor(path: input, flags: O_RDONLY)
        let offset = try File.withOpen(input) { file in
            try DirectStore<Float>.directOffset(of: try file.root().dataset(kernel), in: file, descriptor: descriptor)
        }
        #expect(offset != nil, "the kernel moves directly past the user block")
    }

    @Test func theUserBlockFixtureConverts() throws {
        let directory = TemporaryDirectory()
        let fixture = Fixtures.named("keras2/user_block.h5")
        let report = try Converter.convert(
            ConversionRequest(
                input: fixture.path, output: directory.file("out.h5"),
                target: .sparsity(0.8)))
        #expect(report.format == "keras2-h5")
        #expect(report.zerosAfter == 51)
    }

    @Test func aSignatureInsideOtherDataIsNotHDF5() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("fake.h5")
        // The signature at 256 is not where a superblock may sit (0, 512, 1024, ...).
        var bytes = [UInt8](repeating: 0x20, count: 1200)
        bytes.replaceSubrange(256..<264, with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A])
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: KerasFormatError.self) { try KerasModel.open(path) }
        #expect(error.code == .notKeras)
    }
}
