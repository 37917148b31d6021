import ArrayIO
import Foundation
import TestSupport
import Testing
import ZIPFoundation

@Suite struct NPYTests {
    let matrix: [Float] = [1, 2, 3, 4, 5, 6]  // 2 × 3, row-major

    @Test func readsFloat32RowsInCOrder() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("h.npy")
        writeNPY(path, descr: "<f4", shape: [2, 3], data: littleEndian(matrix.map(\.bitPattern)))
        let array = try ArraySource.open(path)
        #expect(array.shape == [2, 3])
        #expect(array.rows == 2 && array.columns == 3)
        #expect(array.kind == .float)
        #expect(try array.readAll() == matrix)
        var second = [Float](repeating: 0, count: 3)
        try second.withUnsafeMutableBufferPointer { try array.read(rows: 1..<2, into: $0) }
        #expect(second == [4, 5, 6])
    }

    @Test func readsFortranOrderAsRows() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("h.npy")
        let columnMajor: [Float] = [1, 4, 2, 5, 3, 6]
        writeNPY(path, descr: "<f4", fortran: true, shape: [2, 3], data: littleEndian(columnMajor.map(\.bitPattern)))
        #expect(try ArraySource.open(path).readAll() == matrix)
    }

    /// numpy's `np.asfortranarray` layout: element [i, j, k, ...] at i + j·d0 + k·d0·d1 + ...
    static func fortranLayout(of cOrder: [Float], shape: [Int]) -> [Float] {
        var result = [Float](repeating: .nan, count: cOrder.count)
        for flat in cOrder.indices {
            var remainder = flat
            var index = [Int](repeating: 0, count: shape.count)
            for axis in shape.indices.reversed() {
                index[axis] = remainder % shape[axis]
                remainder /= shape[axis]
            }
            var offset = 0
            var stride = 1
            for axis in shape.indices {
                offset += index[axis] * stride
                stride *= shape[axis]
            }
            result[offset] = cOrder[flat]
        }
        return result
    }

    @Test(arguments: [[2, 3, 4], [3, 2, 2, 3], [4, 1, 3]])
    func readsFortranOrderOfThreeOrMoreDimensionsAsTheCOrderArray(_ shape: [Int]) throws {
        let directory = TemporaryDirectory()
        let count = shape.reduce(1, *)
        let values = (0..<count).map { Float($0) * 0.5 - 3 }
        let cPath = directory.file("c.npy")
        let fPath = directory.file("f.npy")
        writeNPY(cPath, descr: "<f4", shape: shape, data: littleEndian(values.map(\.bitPattern)))
        let fortran = Self.fortranLayout(of: values, shape: shape)
        #expect(fortran != values, "the layouts differ, so the test can tell them apart")
        writeNPY(fPath, descr: "<f4", fortran: true, shape: shape, data: littleEndian(fortran.map(\.bitPattern)))
        let cArray = try ArraySource.open(cPath)
        let fArray = try ArraySource.open(fPath)
        #expect(fArray.shape == shape && fArray.columns == cArray.columns)
        #expect(try fArray.readAll() == values)
        // A range of rows in the middle, as the streamed reader asks for them.
        let rows = 1..<shape[0]
        var part = [Float](repeating: 0, count: rows.count * fArray.columns)
        try part.withUnsafeMutableBufferPointer { try fArray.read(rows: rows, into: $0) }
        #expect(part == Array(values[(rows.lowerBound * fArray.columns)...]))
    }

    @Test func convertsEveryElementType() throws {
        let directory = TemporaryDirectory()
        let cases: [(String, [UInt8], ElementKind)] = [
            ("<f8", littleEndian(matrix.map { Double($0).bitPattern }), .float),
            (">f8", bigEndian(matrix.map { Double($0).bitPattern }), .float),
            ("<f2", littleEndian(matrix.map { Float16($0).bitPattern }), .float),
            ("<i8", littleEndian(matrix.map { Int64($0) }), .integer),
            (">i4", bigEndian(matrix.map { Int32($0) }), .integer),
            ("<i2", littleEndian(matrix.map { Int16($0) }), .integer),
            ("|i1", matrix.map { UInt8(Int8($0)) }, .integer),
            ("|u1", matrix.map { UInt8($0) }, .integer),
            ("<u4", littleEndian(matrix.map { UInt32($0) }), .integer),
        ]
        for (index, (descr, data, kind)) in cases.enumerated() {
            let path = directory.file("a\(index).npy")
            writeNPY(path, descr: descr, shape: [2, 3], data: data, version: index % 2 == 0 ? 1 : 2)
            let array = try ArraySource.open(path)
            #expect(array.kind == kind, "\(descr)")
            #expect(try array.readAll() == matrix, "\(descr)")
        }
        let labels = directory.file("labels.npy")
        writeNPY(labels, descr: "|b1", shape: [4], data: [1, 0, 0, 1])
        let vector = try ArraySource.open(labels)
        #expect(vector.columns == 1 && vector.kind == .boolean)
        #expect(try vector.readAll() == [1, 0, 0, 1])
    }

    @Test func refusesWhatItCannotRead() throws {
        let directory = TemporaryDirectory()
        let truncated = directory.file("short.npy")
        writeNPY(truncated, descr: "<f4", shape: [100, 3], data: littleEndian(matrix.map(\.bitPattern)))
        let short = try #require(throws: DataError.self) { try ArraySource.open(truncated) }
        #expect(short.message.contains("shorter"))
        #expect(short.code == .truncated)

        let structured = directory.file("rec.npy")
        writeNPY(structured, descr: "<c8", shape: [2], data: [UInt8](repeating: 0, count: 16))
        let complex = try #require(throws: DataError.self) { try ArraySource.open(structured) }
        #expect(complex.code == .unsupportedType)

        let text = directory.file("text.npy")
        #expect(FileManager.default.createFile(atPath: text, contents: Data("1,2,3\n".utf8)))
        let magic = try #require(throws: DataError.self) { try ArraySource.open(text) }
        #expect(magic.message.contains("magic"))
        #expect(magic.code == .unknownFormat)

        let missing = try #require(throws: DataError.self) { try ArraySource.open(directory.file("none.npy")) }
        #expect(missing.message.contains("no such file"))
        #expect(missing.code == .noSuchFile)

        let scalar = directory.file("scalar.npy")
        writeNPY(scalar, descr: "<f4", shape: [], data: littleEndian([Float(1).bitPattern]))
        let scalarError = try #require(throws: DataError.self) { try ArraySource.open(scalar) }
        #expect(scalarError.code == .shapeMismatch)
    }
}

@Suite struct NPZAndHDF5Tests {
    @Test(arguments: [false, true])
    func readsNamedMembersOfAnArchive(_ deflated: Bool) throws {
        let compression: CompressionMethod = deflated ? .deflate : .none
        let directory = TemporaryDirectory()
        let member = directory.file("features.npy")
        let values: [Float] = [0.5, -1, 2, 8]
        writeNPY(member, descr: "<f4", shape: [2, 2], data: littleEndian(values.map(\.bitPattern)))
        let path = directory.file("data.npz")
        let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .create)
        try archive.addEntry(with: "features.npy", relativeTo: directory.url, compressionMethod: compression)
        try FileManager.default.removeItem(atPath: member)

        let array = try ArraySource.open(path + ":features", stagingDirectory: directory.path)
        #expect(try array.readAll() == values)
        #expect(try directory.listing() == ["data.npz"], "the extracted member leaves no file behind")
        let whole = try #require(throws: DataError.self) { try ArraySource.open(path) }
        #expect(whole.hint?.contains("features") == true, "the members are listed")
        #expect(whole.code == .memberRequired)
        let absent = try #require(throws: DataError.self) { try ArraySource.open(path + ":labels") }
        #expect(absent.code == .noSuchMember)
    }

    @Test func readsHDF5DatasetsByPath() throws {
        let fixture = Fixtures.named("keras2/sequential.h5")
        let array = try ArraySource.open(fixture.path + ":" + (fixture.kernelDataset ?? ""))
        #expect(array.shape == [16, 4])
        #expect(try array.readAll().count == 64)
        let absent = try #require(throws: DataError.self) { try ArraySource.open(fixture.path + ":/no/such") }
        #expect(absent.code == .noSuchMember)
        let whole = try #require(throws: DataError.self) { try ArraySource.open(fixture.path) }
        #expect(whole.code == .memberRequired)
    }
}

/// `.npz` members are never extracted: stored ones are read in place, deflated ones decompressed as read.
@Suite struct NPZStreamingTests {
    static let bigMember = Fixtures.directory.appendingPathComponent("hostile/hostile_big_member.npz").path

    @Test func readsAStoredMemberInPlace() throws {
        let directory = TemporaryDirectory()
        let array = try ArraySource.open(Self.bigMember + ":small", stagingDirectory: directory.file("absent"))
        #expect(array.shape == [4, 16])
        #expect(try array.readAll() == (0..<64).map(Float.init))
    }

    /// 256 MiB of float32 zeros deflated to 0.25 MB: read at the end, then the start again (a restart). The
    /// staging directory given does not exist, so any extraction would fail.
    @Test func streamsADeflatedMemberWithoutExtractingIt() throws {
        let directory = TemporaryDirectory()
        let array = try ArraySource.open(Self.bigMember + ":big", stagingDirectory: directory.file("absent"))
        #expect(array.shape == [1_048_576, 64])
        var rows = [Float](repeating: 1, count: 2 * 64)
        try rows.withUnsafeMutableBufferPointer { try array.read(rows: 1_048_574..<1_048_576, into: $0) }
        #expect(rows.allSatisfy { $0 == 0 })
        #expect(try directory.listing().isEmpty, "nothing extracted")
        rows = [Float](repeating: 1, count: 2 * 64)
        try rows.withUnsafeMutableBufferPointer { try array.read(rows: 0..<2, into: $0) }
        #expect(rows.allSatisfy { $0 == 0 })
    }

    @Test func refusesATruncatedArchiveInOneLine() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("cut.npz")
        let bytes = contents(Self.bigMember)
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        #expect(throws: DataError.self) { try ArraySource.open(path + ":big") }
    }
}
