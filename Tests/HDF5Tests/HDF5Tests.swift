import Foundation
import HDF5
import TestSupport
import Testing

@Suite struct FileTests {
    @Test func refusesAFileWithoutHDF5Signature() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("notes.h5")
        try Data("just text, not HDF5\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try File.isHDF5(path) == false)
        let error = try #require(throws: HDF5Error.self) { try File(path: path) }
        #expect(error.code == .notHDF5)
        #expect(error.file == path)
    }

    @Test func reportsLibhdf5sReasonForATruncatedFile() throws {
        let directory = TemporaryDirectory()
        let path = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 4096)
        try handle.close()
        let error = try #require(throws: HDF5Error.self) {
            try File.withOpen(path) { file in
                _ = try file.root().group("model_weights").dataset("dense_1/dense_1/kernel:0").readAll(as: Float.self)
            }
        }
        #expect(error.file == path)
        #expect(!error.stack.isEmpty, "libhdf5's error stack is carried, not printed")
    }

    /// A file opened under another name (an output's temporary file) is named so in every error, libhdf5's
    /// own stack text included.
    @Test(arguments: [100, 4096])
    func errorsNameTheFileAsItWasNamed(truncatedAt size: UInt64) throws {
        let directory = TemporaryDirectory()
        let path = try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: ".kprune-1-x.tmp")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: size)
        try handle.close()
        let error = try #require(throws: HDF5Error.self) {
            try File.withOpen(path, name: "out.h5") { file in
                #expect(file.path == path && file.name == "out.h5")
                _ = try file.root().group("model_weights").dataset("dense_1/dense_1/kernel:0").readAll(as: Float.self)
            }
        }
        #expect(error.file == "out.h5")
        #expect(!error.stack.isEmpty)
        #expect(!error.stack.joined().contains(".kprune-"), "\(error.stack)")
    }

    /// libhdf5 names a file it cannot open in its own stack text; that mention is replaced too.
    @Test func libhdf5sOwnMentionsOfThePathAreReplaced() throws {
        let directory = TemporaryDirectory()
        let path = directory.file(".kprune-1-gone.tmp")
        let error = try #require(throws: HDF5Error.self) { try File(path: path, mode: .readWrite, name: "out.h5") }
        #expect(error.file == "out.h5")
        #expect(error.stack.joined().contains("out.h5"), "\(error.stack)")
        #expect(!error.stack.joined().contains(".kprune-"), "\(error.stack)")
    }

    /// `message` says what failed in words, with libhdf5's innermost reason but not its function names.
    @Test func messagesAreInTheUsersTerms() throws {
        let directory = TemporaryDirectory()
        let path = try directory.copy(Fixtures.named("keras2/sequential.h5").path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 4096)
        try handle.close()
        let truncated = try #require(throws: HDF5Error.self) { try File(path: path) }
        #expect(truncated.message.hasPrefix("cannot open the file: truncated file"), "\(truncated.message)")
        #expect(!truncated.message.contains("(H5"), "\(truncated.message)")
        #expect(truncated.description.contains("H5Fopen"), "the technical form keeps the operation")
        try File.withOpen(Fixtures.named("keras2/sequential.h5").path) { file in
            let missing = try #require(throws: HDF5Error.self) { try file.root().dataset("model_weights/nope") }
            #expect(missing.message == "'/model_weights/nope' is not in the file")
        }
    }

    @Test func missingObjectsAreNotFoundWithTheirPath() throws {
        try File.withOpen(Fixtures.named("keras2/sequential.h5").path) { file in
            let root = try file.root()
            #expect(try root.contains("model_weights/dense_1"))
            #expect(try !root.contains("model_weights/nope/deeper"))
            let error = try #require(throws: HDF5Error.self) { try root.dataset("model_weights/nope") }
            #expect(error.code == .notFound)
            #expect(error.object == "/model_weights/nope")
            let attributeError = try #require(throws: HDF5Error.self) { try root.attribute("no_such_attribute") }
            #expect(attributeError.code == .notFound)
        }
    }
}

@Suite struct AttributeTests {
    @Test func readsVariableLengthStringArraysAndScalars() throws {
        try File.withOpen(Fixtures.named("keras2/sequential.h5").path) { file in
            let root = try file.root()
            let config = try root.attribute("model_config").string()
            #expect(config.hasPrefix("{"))
            let weights = try root.group("model_weights")
            #expect(try weights.attribute("layer_names").strings() == ["dense", "dense_1"])
            #expect(
                try weights.group("dense_1").attribute("weight_names").strings()
                    == ["dense_1/kernel:0", "dense_1/bias:0"])
        }
    }

    @Test func readsEmptyNameListsAsNoStrings() throws {
        try File.withOpen(Fixtures.named("keras3/sequential.h5").path) { file in
            let group = try file.root().group("model_weights/top_level_model_weights")
            #expect(try group.attribute("weight_names").strings() == [])
        }
    }
}

@Suite struct DatasetTests {
    @Test func readsShapeTypeAndLayout() throws {
        try File.withOpen(Fixtures.named("keras2/gzip_chunked.h5").path) { file in
            let kernel = try file.root().dataset("model_weights/dense_1/dense_1/kernel:0")
            #expect(kernel.shape == [16, 4])
            #expect(kernel.storedType == .float(bits: 32))
            guard case .chunked(let chunk) = try kernel.layout() else {
                Issue.record("expected a chunked layout")
                return
            }
            #expect(chunk.count == 2)
            #expect(try kernel.filterNames().contains { $0.lowercased().contains("deflate") })
        }
        try File.withOpen(Fixtures.named("keras2/float16.h5").path) { file in
            let kernel = try file.root().dataset("model_weights/dense_1/dense_1/kernel:0")
            #expect(kernel.storedType == .float(bits: 16))
            #expect(try kernel.layout() == .contiguous)
        }
    }

    @Test(arguments: ["keras2/sequential.h5", "keras2/gzip_chunked.h5", "keras2/float16.h5"])
    func hyperslabWritesLandWhereAsked(_ name: String) throws {
        let directory = TemporaryDirectory()
        let path = try directory.copy(Fixtures.named(name).path)
        let kernelPath = "model_weights/dense_1/dense_1/kernel:0"
        let original = try File.withOpen(path) { try $0.root().dataset(kernelPath).readAll(as: Float.self) }
        try File.withOpen(path, mode: .readWrite) { file in
            let kernel = try file.root().dataset(kernelPath)
            let rows = [Float](repeating: 0.5, count: 2 * 4)
            try rows.withUnsafeBufferPointer { try kernel.write(start: [3, 0], count: [2, 4], from: $0) }
        }
        let changed = try File.withOpen(path) { try $0.root().dataset(kernelPath).readAll(as: Float.self) }
        for index in original.indices {
            let row = index / 4
            #expect(changed[index] == ((3...4).contains(row) ? 0.5 : original[index]))
        }
        var slab = [Float](repeating: 0, count: 4)
        try File.withOpen(path) { file in
            try slab.withUnsafeMutableBufferPointer {
                try file.root().dataset(kernelPath).read(start: [7, 0], count: [1, 4], into: $0)
            }
        }
        #expect(slab == Array(original[28..<32]))
    }
}

/// Datasets whose bytes are not inside the file, and sizes the file does not hold, from
/// `fixtures/hostile/hostile_features.h5` (written by tools/make_hostile.py).
@Suite struct StorageCheckTests {
    static let path = Fixtures.directory.appendingPathComponent("hostile/hostile_features.h5").path

    @Test(arguments: ["external_storage", "virtual"])
    func neverReadsStorageOutsideTheFile(_ name: String) throws {
        try File.withOpen(Self.path) { file in
            let dataset = try file.root().dataset(name)
            #expect(dataset.outsideStorage != nil)
            let error = try #require(throws: HDF5Error.self) { _ = try dataset.readAll(as: Float.self) }
            #expect(error.code == .outsideFile)
        }
    }

    @Test func readsAnOrdinaryDataset() throws {
        try File.withOpen(Self.path) { file in
            let dataset = try file.root().dataset("ok")
            #expect(dataset.outsideStorage == nil)
            #expect(try dataset.allocationProblem() == nil)
            #expect(try dataset.readAll(as: Float.self) == (0..<64).map(Float.init))
        }
    }

    @Test func neverFollowsAnExternalLink() throws {
        try File.withOpen(Self.path) { file in
            let root = try file.root()
            #expect(try root.kind(of: "external_link") == .other)
            let error = try #require(throws: HDF5Error.self) { _ = try root.dataset("external_link") }
            #expect(error.code == .outsideFile)
            let through = try #require(throws: HDF5Error.self) { _ = try root.contains("external_link/x") }
            #expect(through.code == .outsideFile)
        }
    }

    @Test func flagsADeclaredSizeTheFileDoesNotHold() throws {
        try File.withOpen(Self.path) { file in
            let dataset = try file.root().dataset("rows_2e40")
            #expect(dataset.count == (1 << 40) * 16)
            let problem = try #require(try dataset.allocationProblem())
            #expect(problem.contains("while the file holds only 0 bytes"))
        }
    }

    @Test func refusesPathsOfTooManyComponents() throws {
        try File.withOpen(Self.path) { file in
            let path = Array(repeating: "a", count: Group.maximumPathComponents + 1).joined(separator: "/")
            let error = try #require(throws: HDF5Error.self) { _ = try file.root().contains(path) }
            #expect(error.code == .tooLarge)
        }
    }
}
