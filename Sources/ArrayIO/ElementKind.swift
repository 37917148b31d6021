/// What an array's elements are.
public enum ElementKind: Sendable, Equatable {
    /// Floating point numbers (float16, float32, float64).
    case float
    /// Signed or unsigned integers, read as float32.
    case integer
    /// Booleans, read as 0 and 1.
    case boolean
}
