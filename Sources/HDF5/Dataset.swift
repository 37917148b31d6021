internal import CHDF5

/// An n-dimensional array in a file, read and written through hyperslabs.
///
/// Elements are addressed in row-major order. Reads and writes check that the buffer holds exactly the
/// selected number of elements before lending it to libhdf5.
public final class Dataset: Node {
    /// The extent of each dimension.
    public let shape: [Int]
    /// The element type in the file.
    public let storedType: StoredType
    /// The byte order of the stored elements.
    public let byteOrder: ByteOrder
    /// The number of elements, checked not to overflow when the dataset was opened.
    public let count: Int
    /// The bytes the dataspace declares: `count` times the stored element size, checked not to overflow.
    public let declaredBytes: Int
    /// Why the elements are not inside this file, or nil when they are: external raw storage
    /// (`H5Pset_external`) or a virtual dataset. Such a dataset is never read or written.
    public let outsideStorage: String?

    /// Opens the dataset `name` relative to `parent`'s handle. The corresponding C function is `H5Dopen2`.
    ///
    /// - Throws: `HDF5Error` `.tooLarge` when the element count or byte size overflows `Int`.
    init(parent: Node, name: String, chunkCacheBytes: Int?) throws {
        Library.ensureInitialized()
        let file = parent.file
        let path = parent.childPath(name)
        let handle = try Self.open(name, in: parent, path: path, chunkCacheBytes: chunkCacheBytes)
        let extent = try Extent(of: handle.id, in: file, path: path)
        let element = try ElementType(of: handle.id, in: file, path: path)
        let (bytes, overflow) = extent.nonZeroProduct.multipliedReportingOverflow(by: element.bytes)
        guard !overflow else { throw extent.tooLarge("size in bytes") }
        shape = extent.shape
        count = extent.count
        declaredBytes = extent.count == 0 ? 0 : bytes
        storedType = element.storedType
        byteOrder = element.byteOrder
        outsideStorage = try Self.outsideStorage(of: handle.id, in: file, path: path)
        super.init(file: file, path: path, handle: handle)
    }

    /// Opens the dataset `name` below `parent`, with a chunk cache of `chunkCacheBytes` when given.
    /// The corresponding C functions are `H5Pset_chunk_cache` and `H5Dopen2`.
    private static func open(_ name: String, in parent: Node, path: String, chunkCacheBytes: Int?) throws -> Handle {
        var access = defaultPropertyList
        if let chunkCacheBytes {
            access = H5Pcreate(kp_H5P_DATASET_ACCESS())
            guard access >= 0 else { throw parent.file.error(.failed, "H5Pcreate", object: path) }
            // A prime slot count well above the number of cached chunks keeps hash collisions rare.
            H5Pset_chunk_cache(access, 100_003, max(chunkCacheBytes, 1 << 20), 1.0)
        }
        defer { if access != defaultPropertyList { H5Pclose(access) } }
        let id = H5Dopen2(parent.handle.id, name, access)
        guard id >= 0 else { throw parent.file.error(.openFailed, "H5Dopen2", object: path) }
        return Handle(id, closeName: "H5Dclose", closer: H5Dclose)
    }

    /// A dataset's dimensions, checked to multiply without overflowing `Int`.
    private struct Extent {
        /// The dimensions as libhdf5 gives them, for messages (they may exceed `Int`).
        let dimensions: [hsize_t]
        let shape: [Int]
        /// The product of the non-zero dimensions.
        let nonZeroProduct: Int
        /// The number of elements: 0 when any dimension is.
        var count: Int { dimensions.contains(0) ? 0 : nonZeroProduct }
        let file: File
        let path: String

        /// Reads the dataspace's dimensions. The corresponding C functions are `H5Dget_space` and
        /// `H5Sget_simple_extent_dims`.
        init(of id: hid_t, in file: File, path: String) throws {
            self.file = file
            self.path = path
            let space = H5Dget_space(id)
            guard space >= 0 else { throw file.error(.readFailed, "H5Dget_space", object: path) }
            defer { H5Sclose(space) }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            guard rank >= 0 else { throw file.error(.readFailed, "H5Sget_simple_extent_ndims", object: path) }
            var dims = [hsize_t](repeating: 0, count: rank)
            if rank > 0, H5Sget_simple_extent_dims(space, &dims, nil) < 0 {
                throw file.error(.readFailed, "H5Sget_simple_extent_dims", object: path)
            }
            dimensions = dims
            // Zero extents are left out of the check so that no product of the other dimensions (a row's
            // length, say) can overflow either.
            var product = 1
            for dimension in dims where dimension > 0 {
                guard dimension <= hsize_t(Int.max) else { throw Self.tooLarge("shape", dims, file, path) }
                let (next, overflow) = product.multipliedReportingOverflow(by: Int(dimension))
                guard !overflow else { throw Self.tooLarge("element count", dims, file, path) }
                product = next
            }
            nonZeroProduct = product
            shape = dims.map { Int($0) }
        }

        /// The refusal of a dataset whose `what` overflows a 64-bit integer.
        func tooLarge(_ what: String) -> HDF5Error { Self.tooLarge(what, dimensions, file, path) }

        private static func tooLarge(_ what: String, _ dimensions: [hsize_t], _ file: File, _ path: String)
            -> HDF5Error
        {
            HDF5Error(
                code: .tooLarge, operation: "H5Sget_simple_extent_dims", file: file.name, object: path,
                stack: ["its \(what) overflows a 64-bit integer (shape \(dimensions))"])
        }
    }

    /// A dataset's element type as stored. The corresponding C functions are `H5Dget_type`, `H5Tget_size`,
    /// `H5Tget_order` and `H5Tget_class`.
    private struct ElementType {
        let storedType: StoredType
        let byteOrder: ByteOrder
        /// The size of one element in bytes.
        let bytes: Int

        init(of id: hid_t, in file: File, path: String) throws {
            let type = H5Dget_type(id)
            guard type >= 0 else { throw file.error(.readFailed, "H5Dget_type", object: path) }
            defer { H5Tclose(type) }
            bytes = Int(H5Tget_size(type))
            switch H5Tget_order(type) {
            case H5T_ORDER_LE: byteOrder = .littleEndian
            case H5T_ORDER_BE: byteOrder = .bigEndian
            default: byteOrder = .other
            }
            let bits = bytes * 8
            switch H5Tget_class(type) {
            case H5T_FLOAT: storedType = .float(bits: bits)
            case H5T_INTEGER: storedType = .integer(bits: bits, signed: H5Tget_sign(type) == H5T_SGN_2)
            case H5T_STRING: storedType = .other("string")
            case H5T_COMPOUND: storedType = .other("compound")
            case H5T_OPAQUE: storedType = .other("opaque")
            default: storedType = .other("unsupported")
            }
        }
    }

    /// Describes storage outside the file: external raw data files or a virtual layout.
    /// The corresponding C functions are `H5Pget_layout`, `H5Pget_external_count` and `H5Pget_external`.
    private static func outsideStorage(of id: hid_t, in file: File, path: String) throws -> String? {
        let plist = H5Dget_create_plist(id)
        guard plist >= 0 else { throw file.error(.readFailed, "H5Dget_create_plist", object: path) }
        defer { H5Pclose(plist) }
        if H5Pget_layout(plist) == H5D_VIRTUAL {
            return "a virtual dataset, whose elements come from other datasets (possibly in other files)"
        }
        let externals = H5Pget_external_count(plist)
        guard externals >= 0 else { throw file.error(.readFailed, "H5Pget_external_count", object: path) }
        guard externals > 0 else { return nil }
        var name = [CChar](repeating: 0, count: 1024)
        var offset: off_t = 0
        var size: hsize_t = 0
        guard H5Pget_external(plist, 0, name.count, &name, &offset, &size) >= 0 else {
            throw file.error(.readFailed, "H5Pget_external", object: path)
        }
        let first = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "stored in the external raw file '\(first)'" + (externals > 1 ? " and \(externals - 1) more" : "")
    }

    /// Throws `.outsideFile` when the elements are not inside this file.
    private func requireInsideFile(_ operation: String) throws {
        guard let outsideStorage else { return }
        throw HDF5Error(
            code: .outsideFile, operation: operation, file: file.name, object: path,
            stack: ["its elements are not inside the file: it is \(outsideStorage)"])
    }

    /// Bytes the file holds for the dataset's elements. The corresponding C function is `H5Dget_storage_size`.
    public func allocatedBytes() -> Int { Int(clamping: H5Dget_storage_size(handle.id)) }

    /// Why the dataset declares far more than the file holds for it (a clause after "is"), or nil when its size
    /// is believable.
    ///
    /// A contiguous dataset must hold all its declared bytes (a dataset never written reads as its fill value,
    /// which is not data). A chunked one may be compressed, so it may declare up to `compressionAllowance`
    /// times what it stores, plus `slackBytes`. Compact datasets live in the object header and always fit.
    public func allocationProblem(compressionAllowance: Int = 1024, slackBytes: Int = 1 << 20) throws -> String? {
        let stored = allocatedBytes()
        switch try layout() {
        case .compact:
            return nil
        case .contiguous:
            guard stored < declaredBytes else { return nil }
        case .chunked, .other:
            let (allowed, overflow) = stored.multipliedReportingOverflow(by: compressionAllowance)
            guard !overflow, allowed + slackBytes < declaredBytes else { return nil }
        }
        return "declared as shape \(shape) (\(declaredBytes) bytes) while the file holds only \(stored) bytes of it"
    }

    /// How the data is laid out. The corresponding C functions are `H5Dget_create_plist`, `H5Pget_layout`
    /// and `H5Pget_chunk`.
    public func layout() throws -> StorageLayout {
        let plist = H5Dget_create_plist(handle.id)
        guard plist >= 0 else { throw error(.readFailed, "H5Dget_create_plist") }
        defer { H5Pclose(plist) }
        switch H5Pget_layout(plist) {
        case H5D_COMPACT: return .compact
        case H5D_CONTIGUOUS: return .contiguous
        case H5D_CHUNKED:
            var dims = [hsize_t](repeating: 0, count: max(shape.count, 1))
            let rank = H5Pget_chunk(plist, Int32(dims.count), &dims)
            guard rank >= 0 else { throw error(.readFailed, "H5Pget_chunk") }
            return .chunked(dims.prefix(Int(rank)).map { Int($0) })
        default: return .other
        }
    }

    /// Where the elements lie in the file, for a contiguous dataset whose storage is allocated: the byte
    /// range from the start of the file, a user block included. Nil for chunked, compact or unallocated storage.
    ///
    /// The corresponding C functions are `H5Dget_offset` and `H5Dget_storage_size`.
    public func contiguousByteRange() throws -> Range<Int>? {
        guard try layout() == .contiguous else { return nil }
        let offset = H5Dget_offset(handle.id)
        guard offset != haddr_t.max else {
            _ = takeErrorStack()  // unallocated storage is reported as an error; it is an answer here
            return nil
        }
        let size = H5Dget_storage_size(handle.id)
        guard size > 0 else { return nil }
        return Int(offset)..<(Int(offset) + Int(size))
    }

    /// The names of the filters (compression, shuffle) applied to each chunk, in pipeline order.
    /// The corresponding C function is `H5Pget_filter2`.
    public func filterNames() throws -> [String] {
        let plist = H5Dget_create_plist(handle.id)
        guard plist >= 0 else { throw error(.readFailed, "H5Dget_create_plist") }
        defer { H5Pclose(plist) }
        let count = H5Pget_nfilters(plist)
        guard count >= 0 else { throw error(.readFailed, "H5Pget_nfilters") }
        return try (0..<count).map { index in
            var flags: UInt32 = 0
            var elements = 0
            var name = [CChar](repeating: 0, count: 256)
            var config: UInt32 = 0
            let filter = H5Pget_filter2(plist, UInt32(index), &flags, &elements, nil, name.count, &name, &config)
            guard filter >= 0 else { throw error(.readFailed, "H5Pget_filter2") }
            return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Selects the block `start ..< start + count` of the file space.
    private func selection(start: [Int], count: [Int]) throws -> hid_t {
        precondition(start.count == shape.count && count.count == shape.count, "hyperslab rank mismatch")
        for axis in shape.indices {
            precondition(
                start[axis] >= 0 && count[axis] >= 0 && start[axis] + count[axis] <= shape[axis],
                "hyperslab outside the dataset")
        }
        let space = H5Dget_space(handle.id)
        guard space >= 0 else { throw error(.readFailed, "H5Dget_space") }
        if shape.isEmpty { return space }
        let starts = start.map { hsize_t($0) }
        let counts = count.map { hsize_t($0) }
        if H5Sselect_hyperslab(space, H5S_SELECT_SET, starts, nil, counts, nil) < 0 {
            H5Sclose(space)
            throw error(.readFailed, "H5Sselect_hyperslab")
        }
        return space
    }

    private func memorySpace(_ elements: Int) throws -> hid_t {
        var dims = [hsize_t(elements)]
        let space = H5Screate_simple(1, &dims, nil)
        guard space >= 0 else { throw error(.failed, "H5Screate_simple") }
        return space
    }

    /// Reads the block `start ..< start + count` into `buffer`, converting to `T`, in row-major order.
    ///
    /// - Precondition: `buffer.count` equals the product of `count`.
    /// - Throws: `HDF5Error` with code `.readFailed` and libhdf5's reason (a truncated file, a failed filter).
    /// The corresponding C function is `H5Dread`.
    public func read<T: HDF5Scalar>(start: [Int], count: [Int], into buffer: UnsafeMutableBufferPointer<T>) throws {
        try transfer(start: start, count: count, elements: buffer.count, code: .readFailed, operation: "H5Dread") {
            H5Dread(handle.id, T.memoryKind.nativeType, $0, $1, defaultPropertyList, buffer.baseAddress)
        }
    }

    /// Writes `buffer` to the block `start ..< start + count`, converting from `T` to the stored type.
    ///
    /// - Precondition: `buffer.count` equals the product of `count`.
    /// - Throws: `HDF5Error` with code `.writeFailed` and libhdf5's reason.
    /// The corresponding C function is `H5Dwrite`.
    public func write<T: HDF5Scalar>(start: [Int], count: [Int], from buffer: UnsafeBufferPointer<T>) throws {
        try transfer(start: start, count: count, elements: buffer.count, code: .writeFailed, operation: "H5Dwrite") {
            H5Dwrite(handle.id, T.memoryKind.nativeType, $0, $1, defaultPropertyList, buffer.baseAddress)
        }
    }

    /// Reads the flat, row-major range `range` into `buffer`, converting to `T`: any range of any rank, moved
    /// as the fewest rectangular blocks (`Hyperslab.blocks(covering:of:)`), one `H5Dread` each.
    ///
    /// - Precondition: `buffer.count` equals `range.count`, and `range` lies inside the dataset.
    /// - Throws: `HDF5Error` with code `.readFailed` and libhdf5's reason.
    public func read<T: HDF5Scalar>(elements range: Range<Int>, into buffer: UnsafeMutableBufferPointer<T>) throws {
        try forEachBlock(of: range, buffer: buffer.count) { block, part in
            try read(start: block.start, count: block.count, into: UnsafeMutableBufferPointer(rebasing: buffer[part]))
        }
    }

    /// Writes `buffer` to the flat, row-major range `range`, converting from `T` to the stored type, as the
    /// fewest rectangular blocks, one `H5Dwrite` each.
    ///
    /// - Precondition: `buffer.count` equals `range.count`, and `range` lies inside the dataset.
    /// - Throws: `HDF5Error` with code `.writeFailed` and libhdf5's reason.
    public func write<T: HDF5Scalar>(elements range: Range<Int>, from buffer: UnsafeBufferPointer<T>) throws {
        try forEachBlock(of: range, buffer: buffer.count) { block, part in
            try write(start: block.start, count: block.count, from: UnsafeBufferPointer(rebasing: buffer[part]))
        }
    }

    /// Calls `body` with each block of a flat range and the part of the range's buffer it fills.
    private func forEachBlock(
        of range: Range<Int>, buffer elements: Int,
        _ body: (Hyperslab, Range<Int>) throws -> Void
    ) throws {
        precondition(elements == range.count, "buffer holds \(elements) elements, range \(range.count)")
        var offset = 0
        for block in Hyperslab.blocks(covering: range, of: shape) {
            try body(block, offset..<(offset + block.elements))
            offset += block.elements
        }
    }

    /// Checks the buffer against the block, selects the block, and runs one libhdf5 transfer between the
    /// memory space and the file space.
    private func transfer(
        start: [Int], count: [Int], elements: Int, code: HDF5Error.Code, operation: String,
        _ call: (_ memory: hid_t, _ file: hid_t) -> herr_t
    ) throws {
        Library.ensureInitialized()
        try requireInsideFile(operation)
        let selected = count.reduce(1, *)
        precondition(elements == selected, "buffer holds \(elements) elements, selection \(selected)")
        if selected == 0 { return }
        let fileSpace = try selection(start: start, count: count)
        defer { H5Sclose(fileSpace) }
        let memSpace = try memorySpace(selected)
        defer { H5Sclose(memSpace) }
        if call(memSpace, fileSpace) < 0 { throw error(code, operation) }
    }

    /// Reads the whole dataset as `T`, in row-major order. For small datasets; stream large ones with
    /// `read(start:count:into:)`.
    public func readAll<T: HDF5Scalar & Numeric>(as type: T.Type = T.self) throws -> [T] {
        var values = [T](repeating: 0, count: count)
        try values.withUnsafeMutableBufferPointer { buffer in
            try read(start: [Int](repeating: 0, count: shape.count), count: shape, into: buffer)
        }
        return values
    }

    /// Writes the whole dataset from `values`, in row-major order.
    public func writeAll<T: HDF5Scalar>(_ values: [T]) throws {
        try values.withUnsafeBufferPointer { buffer in
            try write(start: [Int](repeating: 0, count: shape.count), count: shape, from: buffer)
        }
    }
}
