import Foundation
import TestSupport
import Testing

/// Data, features, labels and models must be regular files: a FIFO would block kprune until a writer came,
/// a device would never end. Each is refused at once, in one line naming it, and nothing is written.
@Suite struct RegularFileTests {
    enum Kind: String, CaseIterable, Sendable {
        case fifo, directory

        func make(_ path: String) throws {
            switch self {
            case .fifo: #expect(mkfifo(path, 0o644) == 0)
            case .directory: try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            }
        }

        var described: String { self == .fifo ? "a FIFO" : "a directory" }
    }

    /// Runs `arguments` in a directory holding `h.npy` (20 rows of the sequential fixture's final-layer inputs),
    /// `x.npy` (20 samples of its inputs) and `special.npy`, a FIFO or a directory.
    func expectRefused(_ arguments: [String], kind: Kind, named: String = "special.npy") throws {
        let directory = TemporaryDirectory()
        _ = try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: "m.h5")
        writeNPY(directory.file("h.npy"), rows: 20, columns: 16, values: (0..<320).map { Float($0 % 7) })
        writeNPY(directory.file("x.npy"), rows: 20, columns: 8, values: (0..<160).map { Float($0 % 5) })
        try kind.make(directory.file("special.npy"))
        let before = try directory.listing()
        let clock = ContinuousClock.now
        let run = try Run(arguments, in: directory.path)
        #expect(ContinuousClock.now - clock < .seconds(10), "refused at once, not after a wait")
        #expect(run.status == 1)
        #expect(
            run.stderrLines == ["error: \(named): is \(kind.described), not a regular file (give the array in a file)"])
        #expect(try directory.listing() == before)
    }

    @Test(arguments: Kind.allCases)
    func predictRefusesDataThatIsNotARegularFile(kind: Kind) throws {
        try expectRefused(["predict", "m.h5", "--data", "special.npy", "-o", "y.npy"], kind: kind)
    }

    @Test(arguments: Kind.allCases)
    func convertRefusesDataThatIsNotARegularFile(kind: Kind) throws {
        try expectRefused(["convert", "m.h5", "--sparsity", "0.5", "--data", "special.npy"], kind: kind)
    }

    @Test(arguments: Kind.allCases)
    func convertRefusesFeaturesThatAreNotARegularFile(kind: Kind) throws {
        try expectRefused(["convert", "m.h5", "--sparsity", "0.5", "--features", "special.npy"], kind: kind)
    }

    @Test(arguments: Kind.allCases)
    func convertRefusesLabelsThatAreNotARegularFile(kind: Kind) throws {
        try expectRefused(
            ["convert", "m.h5", "--sparsity", "0.5", "--features", "h.npy", "--labels", "special.npy"],
            kind: kind)
    }

    @Test func aCharacterDeviceIsRefusedAsData() throws {
        let directory = TemporaryDirectory()
        let run = try Run([
            "predict", Fixtures.named("keras2/sequential.h5").path, "--data", "/dev/zero",
            "-o", directory.file("y.npy"),
        ])
        #expect(run.status == 1)
        #expect(
            run.stderrLines == [
                "error: /dev/zero: is a character device, not a regular file (give the array in a file)"
            ])
        #expect(try directory.listing().isEmpty)
    }

    @Test func aModelThatIsAFIFOIsRefusedAtOnce() throws {
        let directory = TemporaryDirectory()
        #expect(mkfifo(directory.file("m.h5"), 0o644) == 0)
        let clock = ContinuousClock.now
        let run = try Run(["inspect", "m.h5"], in: directory.path)
        #expect(ContinuousClock.now - clock < .seconds(10))
        #expect(run.status == 1)
        #expect(run.stderrLines == ["error: m.h5: is a FIFO, not a regular file (name a Keras model file)"])
    }
}
