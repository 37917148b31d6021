/// A parsed JSON document, as Keras writes model configs.
public enum JSONValue: Sendable, Equatable, Decodable, CustomStringConvertible {
    /// `null` (Python's `None`).
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// Any number, integers included, and Python's `NaN`, `Infinity` and `-Infinity`.
    case number(Double)
    /// A string.
    case string(String)
    /// A list (Python writes tuples as lists).
    case array([JSONValue])
    /// An object; member order is not kept.
    case object([String: JSONValue])

    /// Decodes any JSON value from a single-value container, trying each kind in turn.
    ///
    /// - Throws: `DecodingError` when the value is none of them.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Each kind is tried in turn; a type mismatch is an answer here, not a failure.
        func attempt<V: Decodable>(_ type: V.Type) -> V? {
            do { return try container.decode(type) } catch { return nil }
        }
        if container.decodeNil() {
            self = .null
        } else if let value = attempt(Bool.self) {
            self = .bool(value)
        } else if let value = attempt(Double.self) {
            self = .number(value)
        } else if let value = attempt(String.self) {
            self = .string(value)
        } else if let value = attempt([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses JSON text as Python's `json` module reads it: standard JSON plus the bare literals `NaN`,
    /// `Infinity` and `-Infinity`, which Python writes for non-finite floats (`ReLU(max_value=inf)` puts
    /// `"max_value": Infinity` in a Keras config).
    ///
    /// Anything else outside the JSON grammar (comments, trailing commas, single quotes) is refused, as
    /// Python refuses it.
    /// - Throws: `JSONSyntaxError` with the byte offset where the text stops being JSON.
    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        var parser = JSONParser(Array(text.utf8))
        return try parser.document()
    }

    /// The member `key` of an object; nil when absent or when this is not an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The string, when this is one.
    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The items, when this is an array.
    public var array: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The number, when this is one.
    public var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The number as an integer, when this is a whole number no larger in magnitude than 2^53 (a config's
    /// sizes and counts; anything else, such as `1e300` in a crafted file, is not one).
    public var integer: Int? {
        guard case .number(let value) = self, value.rounded() == value, abs(value) <= 9_007_199_254_740_992 else {
            return nil
        }
        return Int(value)
    }

    /// The value as a config shows it, for messages: JSON text (`-2`, `1e+300`, `NaN`, `[1, 2]`, `"same"`), cut
    /// to about 80 characters.
    public var description: String {
        let text = rendered
        return text.count > 80 ? String(text.prefix(77)) + "..." : text
    }

    private var rendered: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let value):
            if value.isNaN { return "NaN" }
            if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
            if let integer { return String(integer) }
            return String(value)
        case .string(let value): return "\"\(value)\""
        case .array(let items): return "[" + items.map(\.rendered).joined(separator: ", ") + "]"
        case .object(let members):
            return "{"
                + members.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value.rendered)" }
                .joined(separator: ", ") + "}"
        }
    }
}
