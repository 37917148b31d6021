internal import CHDF5

/// The in-memory element types datasets can be read into and written from.
public enum MemoryKind: Sendable {
    case float32, float64, int64
}

/// A Swift type that libhdf5 can convert dataset elements to and from.
public protocol HDF5Scalar {
    static var memoryKind: MemoryKind { get }
}

extension Float: HDF5Scalar { public static var memoryKind: MemoryKind { .float32 } }
extension Double: HDF5Scalar { public static var memoryKind: MemoryKind { .float64 } }
extension Int64: HDF5Scalar { public static var memoryKind: MemoryKind { .int64 } }

extension MemoryKind {
    var nativeType: hid_t {
        switch self {
        case .float32: kp_H5T_NATIVE_FLOAT()
        case .float64: kp_H5T_NATIVE_DOUBLE()
        case .int64: kp_H5T_NATIVE_LLONG()
        }
    }
}
