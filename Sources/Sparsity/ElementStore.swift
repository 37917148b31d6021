public import FileOutput
import Foundation
public import HDF5

/// Where a kernel's (or slot's) elements are read from and written to, by flat row-major ranges.
///
/// Any range of the elements can be moved: segments, sampled runs inside one line, or a probe spanning lines.
public class ElementStore<T: KernelElement> {
    /// Whether disjoint ranges may be read and written from several threads at once.
    public var allowsConcurrentIO: Bool { false }
    /// Reads the elements of the flat row-major `range` into `buffer`.
    public func read(_ range: Range<Int>, into buffer: UnsafeMutableBufferPointer<T>) throws {
        preconditionFailure("abstract")
    }
    /// Writes `buffer` to the elements of the flat row-major `range`.
    public func write(_ range: Range<Int>, from buffer: UnsafeBufferPointer<T>) throws {
        preconditionFailure("abstract")
    }
}

/// Elements moved by libhdf5 (`H5Dread`/`H5Dwrite` of hyperslabs), converting from the stored type: any
/// layout, filter or float width.
public final class HDF5Store<T: KernelElement>: ElementStore<T> {
    /// The dataset moved.
    public let dataset: Dataset

    /// A store over `dataset`.
    public init(_ dataset: Dataset) {
        self.dataset = dataset
    }

    public override var allowsConcurrentIO: Bool { File.libraryIsThreadSafe }

    public override func read(_ range: Range<Int>, into buffer: UnsafeMutableBufferPointer<T>) throws {
        try dataset.read(elements: range, into: buffer)
    }

    public override func write(_ range: Range<Int>, from buffer: UnsafeBufferPointer<T>) throws {
        try dataset.write(elements: range, from: buffer)
    }
}

/// Elements of a contiguous, little-endian dataset of exactly `T`'s width, moved with `pread`/`pwrite` at
/// the file offset libhdf5 reports. Disjoint ranges can move on several threads, and a file written this way
/// changes in no byte outside the dataset.
public final class DirectStore<T: KernelElement>: ElementStore<T> {
    private let readDescriptor: Int32
    private let writeDescriptor: Int32
    private let byteOffset: Int
    private let readPath: String
    private let writePath: String

    /// A store reading through `reading` and writing through `writing`, the elements starting at
    /// `byteOffset` in both.
    public init(reading: FileDescriptor, writing: FileDescriptor, byteOffset: Int) {
        readDescriptor = reading.descriptor
        writeDescriptor = writing.descriptor
        readPath = reading.path
        writePath = writing.path
        self.byteOffset = byteOffset
    }

    public override var allowsConcurrentIO: Bool { true }

    /// The absolute byte offset of `dataset`'s elements when they can be moved directly as `T`, after
    /// checking that the first elements read the same both ways; nil otherwise.
    public static func directOffset(of dataset: Dataset, in file: File, descriptor: FileDescriptor) throws -> Int? {
        guard case .float(let bits) = dataset.storedType, bits == T.storedBits, dataset.byteOrder == .littleEndian,
            1.littleEndian == 1, let range = try dataset.contiguousByteRange(),
            range.count == dataset.count * MemoryLayout<T>.stride
        else { return nil }
        // `H5Dget_offset` counts from the start of the file, user block included (libhdf5 adds the base
        // address), so the elements must lie after the block.
        let offset = range.lowerBound
        guard offset >= (try file.userBlockSize()) else { return nil }
        // The first elements, a flat range that may span lines and partial rows of any kernel shape.
        let probe = 0..<min(dataset.count, 1024)
        var viaLibrary = [T](repeating: 0, count: probe.count)
        var viaOffset = [T](repeating: 0, count: probe.count)
        try viaLibrary.withUnsafeMutableBufferPointer { try HDF5Store<T>(dataset).read(probe, into: $0) }
        let direct = DirectStore(reading: descriptor, writing: descriptor, byteOffset: offset)
        try viaOffset.withUnsafeMutableBufferPointer { try direct.read(probe, into: $0) }
        let same = zip(viaLibrary, viaOffset).allSatisfy { $0.magnitudeKey == $1.magnitudeKey && $0.sign == $1.sign }
        return same ? offset : nil
    }

    public override func read(_ range: Range<Int>, into buffer: UnsafeMutableBufferPointer<T>) throws {
        precondition(buffer.count == range.count)
        guard let start = buffer.baseAddress else { return }
        let base = UnsafeMutableRawPointer(start)
        try transfer(range) { done, remaining, offset in
            let got = pread(readDescriptor, base + done, remaining, offset)
            guard got != 0 else {
                throw InputError(
                    .readFailed, path: readPath, "cannot read the kernel: unexpected end of file",
                    hint: "the file may be truncated")
            }
            return got
        } failure: {
            InputError(.readFailed, path: readPath, "cannot read the kernel: \(lastSystemError())")
        }
    }

    public override func write(_ range: Range<Int>, from buffer: UnsafeBufferPointer<T>) throws {
        precondition(buffer.count == range.count)
        guard let start = buffer.baseAddress else { return }
        let base = UnsafeRawPointer(start)
        try transfer(range) { done, remaining, offset in
            pwrite(writeDescriptor, base + done, remaining, offset)
        } failure: {
            OutputError(path: writePath, "cannot write: \(lastSystemError())", hint: "is the disk full?")
        }
    }

    /// Moves a range's bytes with repeated `pread`/`pwrite` calls until all are done, retrying on `EINTR`.
    private func transfer(
        _ range: Range<Int>, _ call: (_ done: Int, _ remaining: Int, _ offset: off_t) throws -> Int,
        failure: () -> any Error
    ) throws {
        let stride = MemoryLayout<T>.stride
        let total = range.count * stride
        var done = 0
        while done < total {
            let moved = try call(done, total - done, off_t(byteOffset + range.lowerBound * stride + done))
            if moved < 0, errno == EINTR { continue }
            guard moved > 0 else { throw failure() }
            done += moved
        }
    }
}
