internal import CHDF5

/// Process-wide libhdf5 set-up, done once before the first call.
enum Library {
    /// Silences libhdf5's own printing of error stacks: errors reach users as `HDF5Error`s instead.
    /// The corresponding C function is `H5Eset_auto2`.
    static let initialized: Bool = {
        H5open()
        H5Eset_auto2(kp_H5E_DEFAULT(), nil, nil)
        return true
    }()

    static func ensureInitialized() { precondition(initialized) }
}

/// The default property list, for calls that take one.
var defaultPropertyList: hid_t { kp_H5P_DEFAULT() }
