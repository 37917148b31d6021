/// An output that cannot be written where asked.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    /// The output (or, for a failed read, the input) the error is about, as the user named it.
    public var path: String
    /// What went wrong.
    public var message: String
    /// How to fix it, when there is something to do.
    public var hint: String?

    /// An error about `path`.
    public init(path: String, _ message: String, hint: String? = nil) {
        self.path = path
        self.message = message
        self.hint = hint
    }

    /// The message, with the hint in parentheses.
    public var description: String { hint.map { "\(message) (\($0))" } ?? message }
}
