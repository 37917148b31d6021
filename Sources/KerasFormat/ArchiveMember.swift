import Foundation

/// One member of a `.keras` archive as read: what a rewritten archive keeps of it.
struct ArchiveMember: Sendable, Equatable {
    /// The member's path inside the archive.
    let name: String
    /// Whether it is deflated (else stored).
    let compressed: Bool
    /// Its modification time, written back unchanged so the same input gives the same bytes.
    let modified: Date
}
