
/// A parsed JSON document, as Keras writes model configs.
public enum JSONValue: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

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

    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var array: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }
}
