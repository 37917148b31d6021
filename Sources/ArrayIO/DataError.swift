/// Calibration data kprune cannot use: a missing file, an unreadable array, a shape that does not fit.
public struct DataError: Error, CustomStringConvertible, Sendable {
    /// The array concerned, as the user named it (`h.npz:features`).
    public var source: String
    public var message: String
    public var hint: String?

    public init(_ source: String, _ message: String, hint: String? = nil) {
        self.source = source
        self.message = message
        self.hint = hint
    }

    public var description: String { hint.map { "\(message) (\($0))" } ?? message }
}
