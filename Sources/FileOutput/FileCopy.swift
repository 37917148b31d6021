import Foundation

/// Copies a whole file's bytes into an existing, empty file, in the kernel where the system allows
/// (`copy_file_range`), else through a bounded buffer. The destination takes the source's permission bits.
public enum FileCopy {
    /// Copies `source` to the existing file `destination`, leaving out the bytes in `excluded` (they are left
    /// as a hole of the same size, for the caller to fill). The destination takes the source's permission bits.
    public static func copy(from source: String, to destination: String, excluding excluded: Range<Int>? = nil) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw OutputError(path: source, "cannot read: \(lastSystemError())") }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard output >= 0 else { throw OutputError(path: destination, "cannot write: \(lastSystemError())") }
        var info = stat()
        guard fstat(input, &info) == 0 else { throw OutputError(path: source, "cannot stat: \(lastSystemError())") }
        fchmod(output, info.st_mode & 0o777)
        let size = Int(info.st_size)
        guard ftruncate(output, off_t(size)) == 0 else {
            close(output)
            throw OutputError(path: destination, "cannot size the output: \(lastSystemError())", hint: "is the disk full?")
        }
        var ranges = [0..<size]
        if let excluded, excluded.lowerBound >= 0, excluded.upperBound <= size {
            ranges = [0..<excluded.lowerBound, excluded.upperBound..<size]
        }
        do {
            for range in ranges where !range.isEmpty { try copyRange(range, input, output, destination) }
        } catch {
            close(output)
            throw error
        }
        guard close(output) == 0 else {
            throw OutputError(path: destination, "cannot finish writing: \(lastSystemError())", hint: "is the disk full?")
        }
    }

    /// Copies one byte range at the same offset, in the kernel where the system allows.
    private static func copyRange(_ range: Range<Int>, _ input: Int32, _ output: Int32, _ destination: String) throws {
        var inOffset = Int64(range.lowerBound)
        var outOffset = Int64(range.lowerBound)
        var remaining = range.count
        if let copyFileRange {
            while remaining > 0 {
                let copied = copyFileRange(input, &inOffset, output, &outOffset, remaining, 0)
                if copied > 0 {
                    remaining -= copied
                    continue
                }
                if copied < 0, errno == EINTR { continue }
                if copied < 0, [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP].contains(errno) { break }
                if copied == 0 { throw OutputError(path: destination, "the input shrank while being copied") }
                throw OutputError(path: destination, "copy failed: \(lastSystemError())", hint: "is the disk full?")
            }
        }
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        while remaining > 0 {
            let got = pread(input, buffer, min(chunk, remaining), off_t(inOffset))
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { throw OutputError(path: destination, "copy failed: \(lastSystemError())") }
            var written = 0
            while written < got {
                let put = pwrite(output, buffer + written, got - written, off_t(outOffset) + off_t(written))
                if put < 0, errno == EINTR { continue }
                guard put > 0 else {
                    throw OutputError(path: destination, "copy failed: \(lastSystemError())", hint: "is the disk full?")
                }
                written += put
            }
            inOffset += Int64(got)
            outOffset += Int64(got)
            remaining -= got
        }
    }

    typealias CopyFileRange = @convention(c) (Int32, UnsafeMutablePointer<Int64>?, Int32,
                                              UnsafeMutablePointer<Int64>?, Int, UInt32) -> Int
    /// glibc's `copy_file_range`, looked up at run time: Swift's Glibc module does not export it.
    static let copyFileRange: CopyFileRange? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "copy_file_range") else { return nil }
        return unsafeBitCast(symbol, to: CopyFileRange.self)
    }()

}
