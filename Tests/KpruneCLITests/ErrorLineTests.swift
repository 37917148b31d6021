import FileOutput
import Foundation
import HDF5
import KerasFormat
import TestSupport
import Testing

@testable import kprune

@Suite struct ErrorLineTests {
    @Test func stagingAndTemporaryPathsBecomeTheUsersFiles() throws {
        let staged = "/tmp/out/.kprune-3EC7495E-BAB8-44EB-A5F5-2BD7EFFCCA33.staging/model.weights.h5"
        let error = OutputError(path: staged, "cannot read \(staged): truncated")
        #expect(ErrorLine.text(for: error, file: "m.keras") == "error: m.keras: cannot read m.keras: truncated")
    }

    /// libhdf5's function names reach the line only with `--verbose`.
    @Test func libhdf5sWordingOnlyWhenVerbose() throws {
        let error = HDF5Error(
            code: .readFailed, operation: "H5Lexists", file: "m.h5", object: "/layers/dense/vars",
            stack: [
                "unable to get link info (H5L_exists)",
                "actual len exceeds EOA (H5C__verify_len_eoa)",
            ])
        let plain = ErrorLine.text(for: error, file: "m.h5")
        #expect(
            plain == "error: m.h5: cannot read '/layers/dense/vars': actual len exceeds EOA "
                + "(the file may be truncated or corrupt)")
        #expect(!plain.contains("H5"))
        let run = try Run(["inspect", "--verbose", Fixtures.named("malformed/not_keras.h5").path])
        #expect(run.status == 1 && run.stderrLines.count == 1)
        let truncated = TemporaryDirectory()
        let path = truncated.file("cut.h5")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.named("keras2/sequential.h5").path))
        try bytes.prefix(20000).write(to: URL(fileURLWithPath: path))
        let quiet = try Run(["inspect", path])
        let verbose = try Run(["inspect", "--verbose", path])
        #expect(quiet.stderrLines.count == 1 && !quiet.stderr.contains("H5"), "\(quiet.stderr)")
        #expect(verbose.stderrLines.count == 1 && verbose.stderr.contains("[libhdf5: H5Fopen"), "\(verbose.stderr)")
    }

    @Test func controlCharactersAreEscaped() {
        #expect(Escaped.text("a\nb\u{1B}[31m\t\u{7F}\u{202E}c") == #"a\nb\x1b[31m\t\x7f\u{202e}c"#)
        #expect(Escaped.text("plain é/ü.h5") == "plain é/ü.h5")
    }
}
