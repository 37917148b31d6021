import FileOutput
public import HDF5

/// A float type whose magnitudes order like their bit patterns, so magnitudes compare and bin as integers.
///
/// For non-negative IEEE floats a larger value has a larger bit pattern: `magnitudeKey` is the pattern of
/// `abs(self)` (the sign bit cleared), as a signed integer that is never negative. Zero (of either sign) has
/// key 0; NaN and infinity have keys of at least `infinityKey`. Being signed and non-negative, keys compare
/// without branches: `(a &- b) >> (bitWidth - 1)` is -1 exactly when `a < b`, which vectorizes.
public protocol KernelElement: HDF5Scalar, BinaryFloatingPoint, Sendable {
    associatedtype Key: FixedWidthInteger & SignedInteger & Sendable
    var magnitudeKey: Key { get }
    init(magnitudeKey: Key)
    /// Bits in a key (the sign bit excluded).
    static var keyBits: Int { get }
    /// The key of infinity: every key at or above it is infinite or NaN.
    static var infinityKey: Key { get }
    /// The bits of the stored type this element type reads without conversion.
    static var storedBits: Int { get }
}

extension Float: KernelElement {
    /// The bit pattern of `abs(self)`.
    @inline(__always) public var magnitudeKey: Int32 { Int32(bitPattern: bitPattern & 0x7FFF_FFFF) }
    /// The non-negative float whose bit pattern is `magnitudeKey`.
    @inline(__always) public init(magnitudeKey: Int32) { self.init(bitPattern: UInt32(bitPattern: magnitudeKey)) }
    /// 31: the sign bit is cleared.
    public static var keyBits: Int { 31 }
    /// The bit pattern of infinity.
    public static var infinityKey: Int32 { 0x7F80_0000 }
    /// float32.
    public static var storedBits: Int { 32 }
}

extension Double: KernelElement {
    /// The bit pattern of `abs(self)`.
    @inline(__always) public var magnitudeKey: Int64 { Int64(bitPattern: bitPattern & 0x7FFF_FFFF_FFFF_FFFF) }
    /// The non-negative double whose bit pattern is `magnitudeKey`.
    @inline(__always) public init(magnitudeKey: Int64) { self.init(bitPattern: UInt64(bitPattern: magnitudeKey)) }
    /// 63: the sign bit is cleared.
    public static var keyBits: Int { 63 }
    /// The bit pattern of infinity.
    public static var infinityKey: Int64 { 0x7FF0_0000_0000_0000 }
    /// float64.
    public static var storedBits: Int { 64 }
}
