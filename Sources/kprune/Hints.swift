import Sparsity

/// What to do about an error, in command-line terms: libraries name no flags, so the hints that need one
/// are added here, by error code.
enum Hints {
    /// The flag-naming hint for a pruning error, if its code has one.
    static func hint(for error: PruningError) -> String? {
        switch error.code {
        case .notFineTunable: "use --method magnitude"
        default: nil
        }
    }

    /// `message (hint; hint)`, with the hints that are given.
    static func line(_ message: String, _ hints: String?...) -> String {
        let given = hints.compactMap { $0 }
        return given.isEmpty ? message : "\(message) (\(given.joined(separator: "; ")))"
    }
}
