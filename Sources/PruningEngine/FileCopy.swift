import Foundation
import KerasFormat

/// Copies a whole file's bytes into an existing, empty file, in the kernel where the system allows
/// (`copy_file_range`), else through a bounded buffer. The destination takes the source's permission bits.
enum FileCopy {
    static func copy(from source: String, to destination: String) throws {
        let input = open(source, O_RDONLY)
        guard input >= 0 else { throw OutputError(path: source, "cannot read: \(lastError())") }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_TRUNC)
        guard output >= 0 else { throw OutputError(path: destination, "cannot write: \(lastError())") }
        defer { close(output) }
        var info = stat()
        guard fstat(input, &info) == 0 else { throw OutputError(path: source, "cannot stat: \(lastError())") }
        fchmod(output, info.st_mode & 0o777)

        var remaining = Int(info.st_size)
        var inKernel = copyFileRange != nil
        while remaining > 0 {
            if inKernel {
                let copied = copyFileRange!(input, nil, output, nil, remaining, 0)
                if copied > 0 {
                    remaining -= copied
                    continue
                }
                if copied < 0, [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP].contains(errno) {
                    inKernel = false
                    continue
                }
                if copied == 0 { break }
                throw OutputError(path: destination, "copy failed: \(lastError())", hint: "is the disk full?")
            }
            try copyByBuffer(input, output, remaining: &remaining, destination: destination)
        }
        guard remaining == 0 else { throw OutputError(path: source, "the file shrank while being copied") }
    }

    private static func copyByBuffer(_ input: Int32, _ output: Int32, remaining: inout Int, destination: String)
        throws
    {
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while remaining > 0 {
            let got = read(input, buffer, min(size, remaining))
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { throw OutputError(path: destination, "copy failed: \(lastError())") }
            var written = 0
            while written < got {
                let put = write(output, buffer + written, got - written)
                if put < 0, errno == EINTR { continue }
                guard put > 0 else {
                    throw OutputError(path: destination, "copy failed: \(lastError())", hint: "is the disk full?")
                }
                written += put
            }
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

    static func lastError() -> String { String(cString: strerror(errno)) }
}
