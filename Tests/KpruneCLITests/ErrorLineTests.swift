import Foundation
import KerasFormat
@testable import kprune
import Testing

@Suite struct ErrorLineTests {
    @Test func stagingAndTemporaryPathsBecomeTheUsersFiles() throws {
        let staged = "/tmp/out/.kprune-3EC7495E-BAB8-44EB-A5F5-2BD7EFFCCA33.staging/model.weights.h5"
        let error = OutputError(path: staged, "cannot read \(staged): truncated")
        #expect(ErrorLine.text(for: error, file: "m.keras") == "error: m.keras: cannot read m.keras: truncated")
    }

    @Test func controlCharactersAreEscaped() {
        #expect(Escaped.text("a\nb\u{1B}[31m\t\u{7F}\u{202E}c") == #"a\nb\x1b[31m\t\x7f\u{202e}c"#)
        #expect(Escaped.text("plain é/ü.h5") == "plain é/ü.h5")
    }
}
