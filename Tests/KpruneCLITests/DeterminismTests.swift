import ArrayIO
import Foundation
import TestSupport
import Testing

/// The same input and options give the same bytes whatever the batch size, the core count, the memory limit or
/// the CPU kernel OpenBLAS picks: `predict`'s outputs and `convert --data`'s file. Across kernels (another CPU
/// model) they agree within float rounding, stated as a tolerance.
@Suite struct DeterminismTests {
    static let model = Fixtures.directory.appendingPathComponent("calibration/digits_cnn/model.h5").path

    /// The first 60 test images of the digits CNN, as their own file.
    static func images(in directory: TemporaryDirectory) throws -> String {
        let source = try ArraySource.open(
            Fixtures.directory.appendingPathComponent("calibration/digits_raw/x_test.npy").path)
        let rows = 60, values = Array(try source.readAll().prefix(rows * source.columns))
        writeNPY(directory.file("x.npy"), rows: rows, columns: source.columns, values: values)
        return directory.file("x.npy")
    }

    /// `environment` with OpenBLAS's kernel chosen (nil: the one it picks for this CPU).
    static func environment(kernel: String?) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = kernel
        return environment
    }

    /// The predictions at `batchSize`, on one core when `oneCore` (through taskset).
    static func predict(_ x: String, _ out: String, batchSize: Int, oneCore: Bool = false, kernel: String? = nil)
        throws -> Data
    {
        let arguments = ["predict", model, "--data", x, "-o", out, "--force", "--batch-size", String(batchSize)]
        let run =
            oneCore
            ? try Run(
                ["taskset", "-c", "0", Run.binary] + arguments, environment: environment(kernel: kernel),
                executable: "/usr/bin/taskset")
            : try Run(arguments, environment: environment(kernel: kernel))
        #expect(run.status == 0, "\(run.stderr)")
        return try Data(contentsOf: URL(fileURLWithPath: out))
    }

    /// Whether this CPU can run OpenBLAS's `kernel` (Haswell's needs AVX2 and FMA, Sandybridge's AVX).
    static func canRun(_ kernel: String?) -> Bool {
        guard let kernel else { return true }
        let flags =
            (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? []
        let needs = kernel == "Haswell" ? ["avx2", "fma"] : ["avx"]
        return needs.allSatisfy(flags.contains)
    }

    @Test(arguments: [nil, "Haswell", "Sandybridge"] as [String?])
    func predictionsAreTheSameBytesForAnyBatch(_ kernel: String?) throws {
        guard Self.canRun(kernel) else { return }
        let directory = TemporaryDirectory()
        let x = try Self.images(in: directory)
        let reference = try Self.predict(x, directory.file("p.npy"), batchSize: 64, kernel: kernel)
        for batchSize in [1, 7, 256] {
            #expect(
                try Self.predict(x, directory.file("p.npy"), batchSize: batchSize, kernel: kernel) == reference,
                "--batch-size \(batchSize)")
        }
        #expect(
            try Self.predict(x, directory.file("p.npy"), batchSize: 7, oneCore: true, kernel: kernel) == reference,
            "one core")
    }

    /// Another kernel, as on another CPU model: within float rounding of this machine's.
    @Test func predictionsAgreeAcrossKernels() throws {
        guard Self.canRun("Sandybridge") else { return }
        let directory = TemporaryDirectory()
        let x = try Self.images(in: directory)
        _ = try Self.predict(x, directory.file("a.npy"), batchSize: 64)
        _ = try Self.predict(x, directory.file("b.npy"), batchSize: 64, kernel: "Sandybridge")
        let a = try ArraySource.open(directory.file("a.npy")).readAll()
        let b = try ArraySource.open(directory.file("b.npy")).readAll()
        #expect(a.count == b.count && !a.isEmpty)
        let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 1
        #expect(worst <= 1e-5, "worst relative difference \(worst)")
    }

    /// `convert --data` writes the same file with its rows held in memory or streamed, on one core or two.
    @Test func convertWithDataIsTheSameFileOnAnyCoresAndMemory() throws {
        let directory = TemporaryDirectory()
        let x = try Self.images(in: directory)
        func convert(_ name: String, _ extra: [String], oneCore: Bool = false) throws -> Data {
            let arguments =
                [
                    "convert", Self.model, "--sparsity", "0.9", "--data", x, "--epochs", "3", "--seed", "4",
                    "-o", directory.file(name),
                ] + extra
            let run =
                oneCore
                ? try Run(["taskset", "-c", "0", Run.binary] + arguments, executable: "/usr/bin/taskset")
                : try Run(arguments)
            #expect(run.status == 0, "\(run.stderr)")
            return try Data(contentsOf: URL(fileURLWithPath: directory.file(name)))
        }
        let reference = try convert("a.h5", [])
        #expect(try convert("b.h5", ["--in-memory-limit", "0"]) == reference, "streamed rows")
        #expect(try convert("c.h5", [], oneCore: true) == reference, "one core")
    }
}
