internal import CHDF5

/// An error reported by libhdf5, with where it happened and libhdf5's own explanation.
///
/// `operation` names the libhdf5 call that failed (`"H5Dread"`), `file` and `object` say where, and `stack`
/// holds libhdf5's error stack, innermost message last, so the reason a file was refused is never lost.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; extensible without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable {
            case notHDF5, openFailed, notFound, readFailed, writeFailed, closeFailed, unsupportedType, failed,
                outsideFile, tooLarge
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// The file exists but is not an HDF5 file.
        public static let notHDF5 = Code(.notHDF5)
        /// libhdf5 could not open the file or object (truncated, corrupt, no permission).
        public static let openFailed = Code(.openFailed)
        /// The named object or attribute does not exist.
        public static let notFound = Code(.notFound)
        /// Reading data failed.
        public static let readFailed = Code(.readFailed)
        /// Writing data failed.
        public static let writeFailed = Code(.writeFailed)
        /// Closing (and so flushing) a handle failed.
        public static let closeFailed = Code(.closeFailed)
        /// The stored type cannot be read as requested.
        public static let unsupportedType = Code(.unsupportedType)
        /// Any other libhdf5 failure.
        public static let failed = Code(.failed)
        /// The object or its elements live outside the file (an external or soft link, external raw storage,
        /// a virtual dataset): kprune never reads or writes through them.
        public static let outsideFile = Code(.outsideFile)
        /// A dataset whose declared size overflows or far exceeds the bytes the file holds for it.
        public static let tooLarge = Code(.tooLarge)

        /// A few words for the kind: `cannot open`, `read failed`.
        public var description: String {
            switch kind {
            case .notHDF5: "not an HDF5 file"
            case .openFailed: "cannot open"
            case .notFound: "not found"
            case .readFailed: "read failed"
            case .writeFailed: "write failed"
            case .closeFailed: "close failed"
            case .unsupportedType: "unsupported type"
            case .failed: "failed"
            case .outsideFile: "refused: not stored inside the file"
            case .tooLarge: "refused: larger than the file holds"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The libhdf5 function that failed, e.g. `"H5Dread"`.
    public var operation: String
    /// The file being worked on.
    public var file: String
    /// The object path inside the file, when there is one.
    public var object: String?
    /// libhdf5's error stack, outermost first; empty when libhdf5 recorded nothing.
    public var stack: [String]
    /// The underlying failure, when one other than libhdf5's stack led to this error.
    public var cause: (any Error)?

    /// An error about `object` in `file`.
    ///
    /// - Parameters:
    ///   - code: the kind of failure.
    ///   - operation: the libhdf5 function that failed.
    ///   - file: the file, as messages name it.
    ///   - object: the object path inside the file, when there is one.
    ///   - stack: libhdf5's error stack, outermost first, or kprune's own reason.
    ///   - cause: the underlying failure.
    public init(
        code: Code, operation: String, file: String, object: String?, stack: [String] = [],
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.operation = operation
        self.file = file
        self.object = object
        self.stack = stack
        self.cause = cause
    }

    /// What went wrong in the user's terms: the kind of failure, the object, and libhdf5's innermost reason
    /// without the name of the libhdf5 function that recorded it (`description` keeps the technical form).
    public var message: String {
        let named = object.map { "'\($0)'" }
        let reason = stack.last.map { ": " + Self.withoutFunction($0) } ?? ""
        switch code {
        case .notHDF5: return "not an HDF5 file"
        case .openFailed: return (named.map { "cannot open \($0)" } ?? "cannot open the file") + reason
        case .notFound: return "\(named ?? "an object") is not in the file" + reason
        case .readFailed: return "cannot read \(named ?? "data")" + reason
        case .writeFailed: return "cannot write \(named ?? "data")" + reason
        case .closeFailed: return "cannot finish with the file" + reason
        case .unsupportedType: return "\(named ?? "a dataset") has a type that cannot be read" + reason
        case .outsideFile, .tooLarge:
            return "\(object ?? "an object"): \(stack.last.map(Self.withoutFunction) ?? code.description)"
        default: return "libhdf5 failed on \(named ?? "the file")" + reason
        }
    }

    /// A libhdf5 error-stack line without the name of the function that recorded it:
    /// `actual len exceeds EOA (H5C__verify_len_eoa)` -> `actual len exceeds EOA`.
    static func withoutFunction(_ line: String) -> String {
        guard line.hasSuffix(")"), let open = line.lastRange(of: " (H5") else { return line }
        return String(line[..<open.lowerBound])
    }

    /// One line: what failed, where, and libhdf5's innermost reason.
    public var description: String {
        var text = "\(operation) \(code)"
        if let object { text += " at \(object)" }
        if let reason = stack.last { text += ": \(reason)" }
        return text
    }
}

extension HDF5Error {
    /// Builds an error from libhdf5's current error stack, then clears that stack.
    ///
    /// - Parameter opened: the path libhdf5 was given, when messages name the file otherwise (`file`): its
    ///   mentions in libhdf5's stack are replaced by `file`.
    static func current(_ code: Code, _ operation: String, file: String, object: String?, opened: String? = nil)
        -> HDF5Error
    {
        var stack = takeErrorStack()
        if let opened, opened != file, !opened.isEmpty {
            stack = stack.map { $0.replacingOccurrences(of: opened, with: file) }
        }
        return HDF5Error(code: code, operation: operation, file: file, object: object, stack: stack)
    }
}

extension String {
    /// The range of the last occurrence of `target`, if any.
    fileprivate func lastRange(of target: String) -> Range<String.Index>? {
        var found: Range<String.Index>?
        var start = startIndex
        while let range = self[start...].firstRange(of: target) {
            found = range
            start = index(after: range.lowerBound)
        }
        return found
    }

    /// The text with every occurrence of `target` replaced by `replacement`.
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// Reads and clears libhdf5's error stack for this thread. The corresponding C functions are
/// `H5Eget_current_stack`, `H5Ewalk2` and `H5Eclose_stack`.
func takeErrorStack() -> [String] {
    let stackID = H5Eget_current_stack()
    guard stackID >= 0 else { return [] }
    defer { H5Eclose_stack(stackID) }
    final class Messages { var lines: [String] = [] }
    let messages = Messages()
    let walker: H5E_walk2_t = { _, entry, context in
        guard let entry, let context else { return 0 }
        let box = Unmanaged<Messages>.fromOpaque(context).takeUnretainedValue()
        let function = entry.pointee.func_name.map { String(cString: $0) } ?? "?"
        let text = entry.pointee.desc.map { String(cString: $0) } ?? ""
        box.lines.append(text.isEmpty ? function : "\(text) (\(function))")
        return 0
    }
    _ = H5Ewalk2(stackID, H5E_WALK_DOWNWARD, walker, Unmanaged.passUnretained(messages).toOpaque())
    // Walking downward lists the outermost call first; the last line is the innermost cause.
    return messages.lines
}
