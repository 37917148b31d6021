internal import CHDF5

/// libhdf5 set-up before calls.
enum Library {
    static let initialized: Bool = {
        H5open()
        return true
    }()

    /// Opens the library once, and silences libhdf5's own printing of error stacks on the calling thread:
    /// errors reach users as `HDF5Error`s instead. A thread-safe libhdf5 keeps that setting per thread, so
    /// every entry point calls this; it is one cheap call. The corresponding C function is `H5Eset_auto2`.
    static func ensureInitialized() {
        precondition(initialized)
        H5Eset_auto2(kp_H5E_DEFAULT(), nil, nil)
    }
}

/// The default property list, for calls that take one.
var defaultPropertyList: hid_t { kp_H5P_DEFAULT() }
