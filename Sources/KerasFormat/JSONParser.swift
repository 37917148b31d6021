/// A recursive-descent reader of JSON bytes, with the grammar Python's `json.loads` accepts.
///
/// Each byte is looked at a bounded number of times, so parsing is linear in the text; nesting is limited to
/// `maximumDepth` levels, which bounds the recursion.
struct JSONParser {
    private let bytes: [UInt8]
    private var index = 0
    /// Nesting deeper than this is refused rather than risking the stack.
    static let maximumDepth = 512

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() throws(JSONSyntaxError) -> JSONValue {
        let value = try self.value(depth: 0)
        skipWhitespace()
        guard index == bytes.count else { throw failure("the end of the text") }
        return value
    }

    private func failure(_ expected: String, _ code: JSONSyntaxError.Code = .syntax) -> JSONSyntaxError {
        JSONSyntaxError(code: code, offset: index, expected: expected)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private mutating func consume(_ literal: String) -> Bool {
        let expected = Array(literal.utf8)
        guard bytes.count - index >= expected.count, Array(bytes[index..<(index + expected.count)]) == expected else {
            return false
        }
        index += expected.count
        return true
    }

    private mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth < Self.maximumDepth else {
            throw failure("at most \(Self.maximumDepth) levels of nesting", .tooDeep)
        }
        skipWhitespace()
        guard index < bytes.count else { throw failure("a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        default: break
        }
        if consume("null") { return .null }
        if consume("true") { return .bool(true) }
        if consume("false") { return .bool(false) }
        if consume("NaN") { return .number(.nan) }
        if consume("Infinity") { return .number(.infinity) }
        if consume("-Infinity") { return .number(-.infinity) }
        return .number(try number())
    }

    private mutating func object(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if consume("}") { return .object(members) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure("a member name") }
            let key = try string()
            skipWhitespace()
            guard consume(":") else { throw failure("':'") }
            members[key] = try value(depth: depth + 1)
            skipWhitespace()
            if consume(",") { continue }
            if consume("}") { return .object(members) }
            throw failure("',' or '}'")
        }
    }

    private mutating func array(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        index += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if consume("]") { return .array(items) }
        while true {
            items.append(try value(depth: depth + 1))
            skipWhitespace()
            if consume(",") { continue }
            if consume("]") { return .array(items) }
            throw failure("',' or ']'")
        }
    }

    /// A number as JSON spells it: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    private mutating func number() throws(JSONSyntaxError) -> Double {
        let start = index
        func digits() -> Int {
            let first = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - first
        }
        _ = consume("-")
        let integer = index
        guard digits() > 0 else {
            index = start
            throw failure("a value")
        }
        if bytes[integer] == UInt8(ascii: "0"), index - integer > 1 {
            index = integer + 1
            throw failure("a number without leading zeros")
        }
        if consume(".") { guard digits() > 0 else { throw failure("a digit after '.'") } }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if !consume("+") { _ = consume("-") }
            guard digits() > 0 else { throw failure("an exponent") }
        }
        guard let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)) else {
            throw JSONSyntaxError(offset: start, expected: "a number")
        }
        return value
    }

    private mutating func string() throws(JSONSyntaxError) -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var run = index  // start of the bytes not yet copied
        func flush(upTo end: Int) {
            scalars.append(contentsOf: String(decoding: bytes[run..<end], as: UTF8.self).unicodeScalars)
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                flush(upTo: index)
                index += 1
                return String(scalars)
            }
            guard byte >= 0x20 else { throw failure("no control characters in a string") }
            guard byte == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            flush(upTo: index)
            index += 1
            guard index < bytes.count else { break }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{8}")
            case UInt8(ascii: "f"): scalars.append("\u{c}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), consume("\\u") {
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        scalars.append("\u{FFFD}")
                        code = low
                    }
                }
                // A lone surrogate (Python keeps it) has no Unicode scalar: it becomes U+FFFD.
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default:
                index -= 1
                throw failure("a valid escape")
            }
            run = index
        }
        throw failure("the closing '\"'")
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard bytes.count - index >= 4,
            let code = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16)
        else { throw failure("four hex digits") }
        index += 4
        return code
    }
}
