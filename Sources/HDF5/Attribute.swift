internal import CHDF5

/// An attribute of a group or dataset.
///
/// Keras stores names and configs as string attributes, written both as variable-length and as fixed-length
/// strings, scalars and arrays alike; `strings()` reads all four.
public final class Attribute {
    /// The group or dataset the attribute belongs to.
    public let owner: Node
    /// The attribute's name.
    public let name: String
    let handle: Handle

    init(owner: Node, name: String, handle: Handle) {
        self.owner = owner
        self.name = name
        self.handle = handle
    }

    private var location: String { "\(owner.path)@\(name)" }

    private func error(_ code: HDF5Error.Code, _ operation: String) -> HDF5Error {
        owner.file.error(code, operation, object: location)
    }

    /// The number of elements: 1 for a scalar. The corresponding C function is `H5Sget_simple_extent_npoints`.
    func elementCount() throws -> Int {
        let space = H5Aget_space(handle.id)
        guard space >= 0 else { throw error(.readFailed, "H5Aget_space") }
        defer { H5Sclose(space) }
        let count = H5Sget_simple_extent_npoints(space)
        guard count >= 0 else { throw error(.readFailed, "H5Sget_simple_extent_npoints") }
        return Int(count)
    }

    /// Reads a string attribute, scalar or array, variable- or fixed-length, as a list of strings.
    ///
    /// Fixed-length strings lose their padding (trailing NULs, or spaces when space-padded).
    /// - Throws: `HDF5Error` with code `.unsupportedType` when the attribute is not a string.
    /// The corresponding C functions are `H5Aread`, `H5Tis_variable_str` and `H5Dvlen_reclaim`.
    public func strings() throws -> [String] {
        Library.ensureInitialized()
        let fileType = H5Aget_type(handle.id)
        guard fileType >= 0 else { throw error(.readFailed, "H5Aget_type") }
        defer { H5Tclose(fileType) }
        let count = try elementCount()
        // An empty list is stored with whatever type the writer picked (h5py: float64): it holds no strings.
        if count == 0 { return [] }
        guard H5Tget_class(fileType) == H5T_STRING else {
            throw HDF5Error(
                code: .unsupportedType, operation: "H5Aread", file: owner.file.name, object: location,
                stack: ["attribute is not a string"])
        }
        let memType = H5Tcopy(kp_H5T_C_S1())
        guard memType >= 0 else { throw error(.failed, "H5Tcopy") }
        defer { H5Tclose(memType) }
        H5Tset_cset(memType, H5Tget_cset(fileType))
        let variable = H5Tis_variable_str(fileType)
        if variable < 0 { throw error(.readFailed, "H5Tis_variable_str") }

        if variable > 0 {
            H5Tset_size(memType, kp_H5T_VARIABLE())
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            if H5Aread(handle.id, memType, &pointers) < 0 { throw error(.readFailed, "H5Aread") }
            let result = pointers.map { $0.map { String(cString: $0) } ?? "" }
            let space = H5Aget_space(handle.id)
            if space >= 0 {
                H5Dvlen_reclaim(memType, space, defaultPropertyList, &pointers)
                H5Sclose(space)
            }
            return result
        }

        let width = H5Tget_size(fileType)
        guard width > 0 else { throw error(.readFailed, "H5Tget_size") }
        H5Tset_size(memType, width)
        H5Tset_strpad(memType, H5T_STR_NULLPAD)
        var bytes = [UInt8](repeating: 0, count: count * width)
        if H5Aread(handle.id, memType, &bytes) < 0 { throw error(.readFailed, "H5Aread") }
        let spacePadded = H5Tget_strpad(fileType) == H5T_STR_SPACEPAD
        return (0..<count).map { index in
            var slice = bytes[(index * width)..<((index + 1) * width)]
            if let end = slice.firstIndex(of: 0) { slice = slice[..<end] }
            if spacePadded { while slice.last == 0x20 { slice = slice.dropLast() } }
            return String(decoding: slice, as: UTF8.self)
        }
    }

    /// Reads a scalar string attribute.
    ///
    /// - Throws: `HDF5Error` with code `.unsupportedType` when it is not a single string.
    public func string() throws -> String {
        let values = try strings()
        guard values.count == 1 else {
            throw HDF5Error(
                code: .unsupportedType, operation: "H5Aread", file: owner.file.name, object: location,
                stack: ["expected one string, found \(values.count)"])
        }
        return values[0]
    }
}
