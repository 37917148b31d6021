/// What a dataset's elements are stored as in the file.
public enum StoredType: Equatable, Sendable, CustomStringConvertible {
    /// IEEE floating point of 16, 32 or 64 bits.
    case float(bits: Int)
    /// A two's-complement or unsigned integer of 8 to 64 bits.
    case integer(bits: Int, signed: Bool)
    /// Anything else (strings, compounds, opaque), with libhdf5's class name.
    case other(String)

    /// `float32`, `int8`, `uint16`, or libhdf5's class name.
    public var description: String {
        switch self {
        case .float(let bits): "float\(bits)"
        case .integer(let bits, let signed): "\(signed ? "" : "u")int\(bits)"
        case .other(let name): name
        }
    }
}

/// The byte order of stored elements.
public enum ByteOrder: Sendable, Equatable {
    /// Least significant byte first.
    case littleEndian
    /// Most significant byte first.
    case bigEndian
    /// Neither (VAX order, or not applicable to the type).
    case other
}
