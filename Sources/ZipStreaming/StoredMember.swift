import Foundation

/// Where a stored (uncompressed) member's bytes lie in its archive, so it can be read in place with `pread`.
///
/// ZIPFoundation does not expose a member's data offset, so the central directory and the member's local
/// header are read here: the end-of-central-directory record (and its zip64 form), then the member's central
/// entry, then its local header. Every offset and size is checked against the archive's real length.
public enum StoredMember {
    /// The byte range of member `name`'s data, when it is stored without compression; nil when it is
    /// compressed or absent.
    ///
    /// - Throws: `ZipStreamError` when the archive's records are inconsistent or point outside the file.
    public static func dataRange(of name: String, in path: String) throws -> Range<Int>? {
        let file = try Bytes(path: path)
        let corrupt = { (what: String) in ZipStreamError(.corrupt, path, "corrupt zip archive: \(what)") }
        // The end-of-central-directory record sits in the last 22 + 65535 bytes.
        let tailLength = min(file.size, 22 + 65_535)
        let tail = try file.read(file.size - tailLength, tailLength)
        guard
            let eocd = stride(from: tail.count - 22, through: 0, by: -1).first(where: {
                tail.u32($0) == 0x0605_4b50
            })
        else { throw corrupt("no end-of-central-directory record") }
        var directoryOffset = Int(tail.u32(eocd + 16))
        var entries = Int(tail.u16(eocd + 10))
        if directoryOffset == 0xFFFF_FFFF || entries == 0xFFFF, eocd >= 20, tail.u32(eocd - 20) == 0x0706_4b50 {
            let record = try file.read(try file.checked(tail.u64(eocd - 20 + 8)), 56)
            guard record.u32(0) == 0x0606_4b50 else { throw corrupt("bad zip64 end record") }
            entries = try file.checked(record.u64(32))
            directoryOffset = try file.checked(record.u64(48))
        }
        var offset = directoryOffset
        for _ in 0..<entries {
            let header = try file.read(offset, 46)
            guard header.u32(0) == 0x0201_4b50 else { throw corrupt("bad central directory entry") }
            let nameLength = Int(header.u16(28)), extraLength = Int(header.u16(30))
            let commentLength = Int(header.u16(32))
            let entryName = String(decoding: try file.read(offset + 46, nameLength), as: UTF8.self)
            defer { offset += 46 + nameLength + extraLength + commentLength }
            guard entryName == name else { continue }
            guard header.u16(10) == 0 else { return nil }  // compressed
            var size = UInt64(header.u32(20))
            var local = UInt64(header.u32(42))
            if size == 0xFFFF_FFFF || local == 0xFFFF_FFFF {
                (size, local) = try zip64(
                    file.read(offset + 46 + nameLength, extraLength),
                    uncompressed: header.u32(24) == 0xFFFF_FFFF, size: size, local: local)
            }
            let localOffset = try file.checked(local)
            let localHeader = try file.read(localOffset, 30)
            guard localHeader.u32(0) == 0x0403_4b50 else { throw corrupt("bad local header for \(name)") }
            let start = localOffset + 30 + Int(localHeader.u16(26)) + Int(localHeader.u16(28))
            let length = try file.checked(size)
            guard start <= file.size, length <= file.size - start else {
                throw corrupt("member \(name) extends past the end of the file")
            }
            return start..<(start + length)
        }
        return nil
    }

    /// Reads the zip64 extra field: the 64-bit sizes and offset stand in for those recorded as 0xFFFFFFFF.
    private static func zip64(_ extra: [UInt8], uncompressed: Bool, size: UInt64, local: UInt64) throws
        -> (size: UInt64, local: UInt64)
    {
        var position = 0
        while position + 4 <= extra.count {
            let id = extra.u16(position), length = Int(extra.u16(position + 2))
            if id == 0x0001 {
                var field = position + 4
                var size = size, local = local
                if uncompressed { field += 8 }  // the uncompressed size comes first when present
                if size == 0xFFFF_FFFF, field + 8 <= extra.count {
                    size = extra.u64(field)
                    field += 8
                }
                if local == 0xFFFF_FFFF, field + 8 <= extra.count { local = extra.u64(field) }
                return (size, local)
            }
            position += 4 + length
        }
        return (size, local)
    }

    /// The archive's bytes, read with bounds checked against its real size.
    private struct Bytes {
        let descriptor: FileHandle
        let size: Int
        let path: String

        init(path: String) throws {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw ZipStreamError(.unreadable, path, "cannot read the archive")
            }
            descriptor = handle
            size = Int(handle.seekToEndOfFile())
            self.path = path
        }

        /// An offset or size from the archive, refused when beyond the file.
        func checked(_ value: UInt64) throws -> Int {
            guard value <= UInt64(size) else {
                throw ZipStreamError(.corrupt, path, "corrupt zip archive: offset past the end")
            }
            return Int(value)
        }

        func read(_ offset: Int, _ count: Int) throws -> [UInt8] {
            guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
                throw ZipStreamError(.corrupt, path, "corrupt zip archive: a record lies past the end of the file")
            }
            descriptor.seek(toFileOffset: UInt64(offset))
            return [UInt8](descriptor.readData(ofLength: count))
        }
    }
}

extension [UInt8] {
    fileprivate func u16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    fileprivate func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
    fileprivate func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
}
