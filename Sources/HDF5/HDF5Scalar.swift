internal import CHDF5

/// The in-memory element types datasets can be read into and written from.
public enum MemoryKind: Sendable {
    /// `Float`: libhdf5's native float.
    case float32
    /// `Double`: libhdf5's native double.
    case float64
    /// `Int64`: libhdf5's native long long.
    case int64
}

/// A Swift type that libhdf5 can convert dataset elements to and from.
public protocol HDF5Scalar {
    /// The in-memory type libhdf5 converts to and from for this Swift type.
    static var memoryKind: MemoryKind { get }
}

extension Float: HDF5Scalar {
    /// Read and written as `.float32`.
    public static var memoryKind: MemoryKind { .float32 }
}

extension Double: HDF5Scalar {
    /// Read and written as `.float64`.
    public static var memoryKind: MemoryKind { .float64 }
}

extension Int64: HDF5Scalar {
    /// Read and written as `.int64`.
    public static var memoryKind: MemoryKind { .int64 }
}

extension MemoryKind {
    /// libhdf5's native type for the kind.
    var nativeType: hid_t {
        switch self {
        case .float32: kp_H5T_NATIVE_FLOAT()
        case .float64: kp_H5T_NATIVE_DOUBLE()
        case .int64: kp_H5T_NATIVE_LLONG()
        }
    }
}
