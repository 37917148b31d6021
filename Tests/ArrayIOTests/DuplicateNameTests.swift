import ArrayIO
import Foundation
import TestSupport
import Testing
import ZIPFoundation

/// An array named twice is ambiguous: numpy reads an `.npy` header as a Python dict (the last of a key wins),
/// and a zip reader may take either of two members of one name. kprune refuses both instead of guessing.
@Suite struct DuplicateNameTests {
    /// Writes an `.npy` file whose header dict is `dict` as given, padded as numpy pads it, then `data`.
    static func writeRawNPY(_ path: String, dict: String, data: [UInt8]) {
        var header = dict
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        let length = header.utf8.count
        let bytes =
            [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8) + data
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    /// 2 × 3 float64 values: enough bytes for every reading of the crafted headers below, so only the
    /// duplicate can be at fault.
    static let data = littleEndian((0..<6).map { Double($0).bitPattern })

    @Test(arguments: [
        ("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", "descr"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'shape': (3, 2), }", "shape"),
        ("{'descr': '<f8', 'fortran_order': False, 'fortran_order': True, 'shape': (2, 3), }", "fortran_order"),
        // Python takes either quote: the same key, spelled another way, is still a duplicate.
        ("{'descr': '<f4', \"descr\": '<f8', 'fortran_order': False, 'shape': (2, 3), }", "descr"),
    ])
    func refusesAnNPYHeaderGivingAKeyTwice(_ dict: String, _ key: String) throws {
        let directory = TemporaryDirectory()
        let path = directory.file("twice.npy")
        Self.writeRawNPY(path, dict: dict, data: Self.data)
        let error = try #require(throws: DataError.self) { try ArraySource.open(path) }
        #expect(error.code == .malformed)
        #expect(error.source == path)
        #expect(error.message == "the .npy header gives the key '\(key)' twice", "\(error)")
        #expect(!"\(error)".contains("\n"))
    }

    /// A key numpy does not write is refused, as numpy refuses it.
    @Test func refusesAnNPYHeaderWithAnotherKey() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("other.npy")
        Self.writeRawNPY(
            path, dict: "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'extra': 1, }",
            data: Self.data)
        let error = try #require(throws: DataError.self) { try ArraySource.open(path) }
        #expect(error.code == .malformed)
        #expect(error.message == "the .npy header gives the key 'extra', which numpy does not write", "\(error)")
    }

    /// The header is read as a dict literal, not searched: keys in any order and either quote, and quotes,
    /// colons and commas inside a string value are not taken for the dict's own.
    @Test func readsAHeaderDictWrittenAnotherWay() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("reordered.npy")
        Self.writeRawNPY(
            path, dict: "{\"shape\": (3, 2), \"fortran_order\": False, \"descr\": \"<f8\"}", data: Self.data)
        let array = try ArraySource.open(path)
        #expect(array.shape == [3, 2])
        #expect(try array.readAll() == [0, 1, 2, 3, 4, 5])

        let disguised = directory.file("disguised.npy")
        Self.writeRawNPY(
            disguised, dict: "{'descr': \"<f4', 'shape': (6,), 'x\", 'fortran_order': False, 'shape': (2, 3), }",
            data: Self.data)
        let error = try #require(throws: DataError.self) { try ArraySource.open(disguised) }
        #expect(error.code == .unsupportedType, "the descr is the whole string, not a dict inside it: \(error)")
    }

    /// Writes `members` (name, array values) into a zip at `path`, stored or deflated.
    static func writeNPZ(
        _ path: String, _ members: [(String, [Float])], deflated: Bool, in directory: TemporaryDirectory
    ) throws {
        let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .create)
        for (index, (name, values)) in members.enumerated() {
            let source = directory.file("member\(index).npy")
            writeNPY(source, rows: 2, columns: 2, values: values)
            let data = contents(source)
            try archive.addEntry(
                with: name, type: .file, uncompressedSize: Int64(data.count),
                compressionMethod: deflated ? .deflate : .none
            ) { position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
            try FileManager.default.removeItem(atPath: source)
        }
    }

    @Test(arguments: [false, true])
    func refusesAnArchiveHoldingAnArrayTwice(_ deflated: Bool) throws {
        let directory = TemporaryDirectory()
        let cases: [(members: [String], asked: String, array: String, listed: String)] = [
            (["x.npy", "x.npy"], "x", "x", "x.npy, x.npy"),
            // `:x` reads `x.npy` or `x`: holding both is as ambiguous (numpy.load takes `x`, kprune took `x.npy`).
            (["x", "x.npy"], "x", "x", "x, x.npy"),
            // Another array named twice: the archive is crafted, whichever array is asked for.
            (["x.npy", "y.npy", "y.npy"], "x", "y", "y.npy, y.npy"),
        ]
        for (index, testCase) in cases.enumerated() {
            let path = directory.file("twice\(index).npz")
            try Self.writeNPZ(
                path, testCase.members.enumerated().map { ($1, [Float](repeating: Float($0), count: 4)) },
                deflated: deflated, in: directory)
            let name = path + ":" + testCase.asked
            let error = try #require(throws: DataError.self) { try ArraySource.open(name) }
            #expect(error.code == .malformed)
            #expect(error.source == name)
            #expect(
                error.message == "the archive holds the array '\(testCase.array)' twice (members \(testCase.listed))",
                "\(error)")
        }
    }

    @Test func readsAnArchiveOfDistinctArrays() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("distinct.npz")
        try Self.writeNPZ(
            path, [("x.npy", [1, 2, 3, 4]), ("xx.npy", [5, 6, 7, 8]), ("y", [9, 9, 9, 9])], deflated: false,
            in: directory)
        #expect(try ArraySource.open(path + ":x").readAll() == [1, 2, 3, 4])
        #expect(try ArraySource.open(path + ":xx").readAll() == [5, 6, 7, 8])
    }
}
