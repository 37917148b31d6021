import Foundation

/// Copies a whole file's bytes into an existing, empty file, in the kernel where the system allows
/// (`copy_file_range`), else through a bounded buffer. The destination takes the source's permission bits.
public enum FileCopy {
    /// Copies `source` to the existing file `destination`, leaving out the bytes in `excluded` (they are left
    /// as a hole of the same size, for the caller to fill). The destination takes the source's permission bits.
    ///
    /// - Parameters:
    ///   - source: the input file.
    ///   - destination: the file written; it is truncated first.
    ///   - excluded: a byte range of `source` not copied.
    ///   - destinationName: the destination as errors name it, when not `destination` (an output's temporary
    ///     file is named by its final path).
    /// - Throws: `InputError` when `source` cannot be read or shrinks meanwhile, `OutputError` when
    ///   `destination` cannot be written.
    public static func copy(
        from source: String, to destination: String, excluding excluded: Range<Int>? = nil,
        destinationName: String? = nil
    ) throws {
        let name = destinationName ?? destination
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw InputError(.openFailed, path: source, "cannot read: \(lastSystemError())") }
        defer { close(input) }
        var info = stat()
        guard fstat(input, &info) == 0 else {
            throw InputError(.readFailed, path: source, "cannot stat: \(lastSystemError())")
        }
        let output = open(destination, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard output >= 0 else { throw OutputError(.writeFailed, path: name, "cannot write: \(lastSystemError())") }
        fchmod(output, info.st_mode & 0o777)
        let size = Int(info.st_size)
        var ranges = [0..<size]
        if let excluded, excluded.lowerBound >= 0, excluded.upperBound <= size {
            ranges = [0..<excluded.lowerBound, excluded.upperBound..<size]
        }
        do {
            guard ftruncate(output, off_t(size)) == 0 else {
                throw OutputError(
                    .writeFailed, path: name, "cannot size the output: \(lastSystemError())",
                    hint: "is the disk full?")
            }
            for range in ranges where !range.isEmpty {
                try copyRange(range, from: (input, source), to: (output, name))
            }
        } catch {
            close(output)
            throw error
        }
        guard close(output) == 0 else {
            throw OutputError(
                .writeFailed, path: name, "cannot finish writing: \(lastSystemError())",
                hint: "is the disk full?")
        }
    }

    /// Copies one byte range at the same offset, in the kernel where the system allows, else through a buffer.
    private static func copyRange(
        _ range: Range<Int>, from input: (fd: Int32, name: String),
        to output: (fd: Int32, name: String)
    ) throws {
        var offset = range.lowerBound
        if copyFileRange != nil { offset = try copyInKernel(range, from: input, to: output) }
        try copyThroughBuffer(offset..<range.upperBound, from: input, to: output)
    }

    /// Copies as much of `range` as `copy_file_range` will; returns where it stopped (the range's end, or
    /// where the system declined, for the buffered copy to go on from).
    private static func copyInKernel(
        _ range: Range<Int>, from input: (fd: Int32, name: String),
        to output: (fd: Int32, name: String)
    ) throws -> Int {
        guard let copyFileRange else { return range.lowerBound }
        var inOffset = Int64(range.lowerBound)
        var outOffset = Int64(range.lowerBound)
        var remaining = range.count
        while remaining > 0 {
            let copied = copyFileRange(input.fd, &inOffset, output.fd, &outOffset, remaining, 0)
            if copied > 0 {
                remaining -= copied
                continue
            }
            if copied < 0, errno == EINTR { continue }
            if copied < 0, [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP].contains(errno) { break }
            if copied == 0 { throw InputError(.changed, path: input.name, "the input shrank while being copied") }
            throw OutputError(
                .writeFailed, path: output.name, "copy failed: \(lastSystemError())",
                hint: "is the disk full?")
        }
        return range.upperBound - remaining
    }

    /// Copies `range` with `pread` and `pwrite` through a bounded buffer.
    private static func copyThroughBuffer(
        _ range: Range<Int>, from input: (fd: Int32, name: String),
        to output: (fd: Int32, name: String)
    ) throws {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var offset = range.lowerBound
        while offset < range.upperBound {
            let got = pread(input.fd, buffer, min(chunk, range.upperBound - offset), off_t(offset))
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw InputError(.readFailed, path: input.name, "cannot read: \(lastSystemError())") }
            guard got > 0 else { throw InputError(.changed, path: input.name, "the input shrank while being copied") }
            var written = 0
            while written < got {
                let put = pwrite(output.fd, buffer + written, got - written, off_t(offset + written))
                if put < 0, errno == EINTR { continue }
                guard put > 0 else {
                    throw OutputError(
                        .writeFailed, path: output.name, "copy failed: \(lastSystemError())",
                        hint: "is the disk full?")
                }
                written += put
            }
            offset += got
        }
    }

    typealias CopyFileRange =
        @convention(c) (
            Int32, UnsafeMutablePointer<Int64>?, Int32,
            UnsafeMutablePointer<Int64>?, Int, UInt32
        ) -> Int
    /// glibc's `copy_file_range`, looked up at run time: Swift's Glibc module does not export it.
    static let copyFileRange: CopyFileRange? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "copy_file_range") else { return nil }
        return unsafeBitCast(symbol, to: CopyFileRange.self)
    }()
}
