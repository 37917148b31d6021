internal import CHDF5

/// Collects the names libhdf5's iteration callbacks hand over; the callbacks reach it through their
/// context pointer, which stays valid while the caller holds the list.
final class NameList {
    var list: [String] = []
    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func add(_ name: UnsafePointer<CChar>?, to context: UnsafeMutableRawPointer?) -> herr_t {
        guard let name, let context else { return -1 }
        Unmanaged<NameList>.fromOpaque(context).takeUnretainedValue().list.append(String(cString: name))
        return 0
    }
}
