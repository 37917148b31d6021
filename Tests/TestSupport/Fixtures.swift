public import Foundation
import TestEnvironment
public import Testing

/// One entry of `fixtures/manifest.json`: what real Keras wrote and reports about a fixture.
public struct Fixture: Decodable, Sendable, CustomTestStringConvertible {
    public let file: String

    /// The extension an output converted from this fixture must have for Keras to load it.
    public var outputExtension: String {
        file.hasSuffix(".keras") ? "keras" : file.hasSuffix(".weights.h5") ? "weights.h5" : "h5"
    }

    public let format: String
    public let finalLayer: String?
    public let finalLayerPath: [String]?
    public let needsLayer: Bool?
    public let kernelDataset: String?
    public let kernelShape: [Int]?
    public let kernelDtype: String?
    public let kernelNans: Int?
    public let optimizerSlotDatasets: [String]?
    /// The activation Keras applies between the final kernel layer and the output, for the loss to follow.
    public let outputActivation: String?
    /// A layer between the final kernel layer and the output that a fine-tune cannot follow.
    public let unfollowableLayer: String?
    /// The last weighted layer when it is recurrent, which kprune prunes only when `--layer` names it.
    public let recurrentFinalLayer: String?
    /// The Keras class of the layer `final_layer` names.
    public let finalLayerClass: String?

    enum CodingKeys: String, CodingKey {
        case file, format
        case finalLayer = "final_layer"
        case finalLayerPath = "final_layer_path"
        case needsLayer = "needs_layer"
        case kernelDataset = "kernel_dataset"
        case kernelShape = "kernel_shape"
        case kernelDtype = "kernel_dtype"
        case kernelNans = "kernel_nans"
        case optimizerSlotDatasets = "optimizer_slot_datasets"
        case outputActivation = "output_activation"
        case unfollowableLayer = "unfollowable_layer"
        case recurrentFinalLayer = "recurrent_final_layer"
        case finalLayerClass = "final_layer_class"
    }

    /// The fixture's absolute path.
    public var path: String { Fixtures.directory.appendingPathComponent(file).path }
    /// Whether it is a Keras file kprune should convert (not a malformed or NaN fixture).
    public var isConvertible: Bool { format != "not-keras" && (kernelNans ?? 0) == 0 }
    /// The name to pass to `--layer`: the nested path when the layer is nested.
    public var layerArgument: String? { finalLayerPath.map { $0.joined(separator: "/") } ?? finalLayer }
    public var testDescription: String { file }
}

public enum Fixtures {
    /// `fixtures/` at the package root, found from this file's path.
    public static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures")

    /// Every fixture the manifests list: `fixtures/manifest.json` (tools/make_fixtures.py), then
    /// `fixtures/extra/manifest.json` (tools/make_fixtures_extra.py), whose paths are also relative to `fixtures/`.
    public static let all: [Fixture] = ["manifest.json", "extra/manifest.json"].flatMap { name -> [Fixture] in
        struct Manifest: Decodable { let fixtures: [Fixture] }
        let url = directory.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path),
            let manifest = try? JSONDecoder().decode(Manifest.self, from: data)
        else { preconditionFailure("cannot read \(url.path)") }
        return manifest.fixtures
    }

    /// The Keras fixtures kprune converts.
    public static let convertible: [Fixture] = all.filter(\.isConvertible)

    public static func named(_ file: String) -> Fixture {
        guard let fixture = all.first(where: { $0.file == file }) else { preconditionFailure("no fixture \(file)") }
        return fixture
    }
}

/// A fresh directory removed when the value goes away; one per test, since tests run in parallel.
public final class TemporaryDirectory: @unchecked Sendable {
    public let url: URL
    public var path: String { url.path }

    public init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("kprune-test-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            preconditionFailure("cannot create \(url.path): \(error)")
        }
    }

    deinit {
        chmod(url.path, 0o755)
        do { try FileManager.default.removeItem(at: url) } catch { /* left for the system to clean */  }
    }

    /// Copies a file into the directory and returns the copy's path.
    public func copy(_ source: String, as name: String? = nil) throws -> String {
        let destination = url.appendingPathComponent(name ?? URL(fileURLWithPath: source).lastPathComponent).path
        try FileManager.default.copyItem(atPath: source, toPath: destination)
        return destination
    }

    /// The names in the directory, sorted.
    public func listing() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// A file's bytes, for comparing a file before and after.
public func contents(_ path: String) -> Data {
    FileManager.default.contents(atPath: path) ?? Data()
}

/// Writes an `.npy` file byte by byte, as numpy lays it out, for the reader to be tested against every
/// variant the format allows.
public func writeNPY(
    _ path: String, descr: String, fortran: Bool = false, shape: [Int], data: [UInt8], version: UInt8 = 1
) {
    let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shapeText), }"
    let prefix = version == 1 ? 10 : 12
    while (prefix + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
    let length = header.utf8.count
    bytes +=
        version == 1
        ? [UInt8(length & 0xFF), UInt8(length >> 8)]
        : [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), 0, 0]
    bytes += Array(header.utf8) + data
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        preconditionFailure("cannot write the test file \(path)")
    }
}

public func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}

public func bigEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.bigEndian) { Array($0) } }
}

/// Writes a float32 matrix as `.npy`.
public func writeNPY(_ path: String, rows: Int, columns: Int, values: [Float]) {
    writeNPY(
        path, descr: "<f4", shape: columns == 1 ? [rows] : [rows, columns], data: littleEndian(values.map(\.bitPattern))
    )
}

/// Runs a command-line tool found on `PATH` (`h5repack`, `h5jam`) and fails unless it exits 0.
///
/// The child inherits the test process's open descriptors; `TestEnvironment` turns libhdf5's file locking
/// off so that a lock held through such a copy cannot stop another test from opening its files.
public func runTool(_ name: String, _ arguments: [String]) throws {
    precondition(kp_test_file_locking_disabled() != 0, "libhdf5 file locking is on in the test process")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [name] + arguments
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    process.waitUntilExit()
    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    guard process.terminationStatus == 0 else {
        struct ToolFailed: Error, CustomStringConvertible { let description: String }
        throw ToolFailed(
            description: "\(name) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(message)")
    }
}

/// The type bits (`S_IFMT`) of what `path` names itself (a link is not followed); 0 when nothing is there.
public func fileType(_ path: String) -> mode_t {
    var info = stat()
    return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : 0
}
