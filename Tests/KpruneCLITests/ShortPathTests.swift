import Foundation
import TestSupport
import Testing

/// One-character and extensionless paths: Foundation's path functions trap on some of them, kprune must not.
@Suite struct ShortPathTests {
    @Test(arguments: ["a", "-", "./a", "a/"])
    func inspectReportsAMissingShortNameInOneLine(name: String) throws {
        let directory = TemporaryDirectory()
        let run = try Run(["inspect", name], in: directory.path)
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1)
        #expect(run.stderr.hasPrefix("error: \(name): "), "\(run.stderr)")
        #expect(!run.stderr.contains("crash") && !run.stderr.contains("signal"))
    }

    @Test func convertsAnInputNamedWithOneCharacterToAnOutputNamedWithOne() throws {
        let directory = TemporaryDirectory()
        _ = try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: "a")
        let run = try Run(["convert", "a", "--sparsity", "0.5", "-o", "y.h5"], in: directory.path)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try directory.listing() == ["a", "y.h5"])
    }

    @Test func refusesAnExtensionlessOutputWithoutCrashing() throws {
        let directory = TemporaryDirectory()
        _ = try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: "x.h5")
        let run = try Run(["convert", "x.h5", "--sparsity", "0.5", "-o", "y"], in: directory.path)
        #expect(run.status == 1)
        #expect(
            run.stderrLines == [
                "error: x.h5: the output y does not end in .h5 or .hdf5, so Keras would not "
                    + "load it as the keras2-h5 file it is (name the output y.h5)"
            ])
        #expect(try directory.listing() == ["x.h5"])
    }
}
