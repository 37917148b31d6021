public import HDF5

/// A float type whose magnitudes order like their bit patterns, so magnitudes can be binned by bits.
///
/// For non-negative IEEE floats, a larger value has a larger bit pattern; `magnitudeKey` is the pattern
/// of `abs(self)` and `keyBits` its width without the sign bit.
public protocol KernelElement: HDF5Scalar, BinaryFloatingPoint, Sendable {
    var magnitudeKey: UInt64 { get }
    init(magnitudeKey: UInt64)
    static var keyBits: Int { get }
}

extension Float: KernelElement {
    @inline(__always) public var magnitudeKey: UInt64 { UInt64(bitPattern & 0x7FFF_FFFF) }
    public init(magnitudeKey: UInt64) { self.init(bitPattern: UInt32(truncatingIfNeeded: magnitudeKey)) }
    public static var keyBits: Int { 31 }
}

extension Double: KernelElement {
    @inline(__always) public var magnitudeKey: UInt64 { bitPattern & 0x7FFF_FFFF_FFFF_FFFF }
    public init(magnitudeKey: UInt64) { self.init(bitPattern: magnitudeKey) }
    public static var keyBits: Int { 63 }
}
