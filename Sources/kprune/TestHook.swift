import FileOutput
import Foundation

/// The test hooks (see `Isolation`).
enum TestHook {
    static func run(on input: String, crashOn: String?, hangOn: String?, scratch: ScratchDirectories) {
        let name = PathComponents.lastComponent(of: input)
        func named(_ list: String?) -> Bool {
            list.map { $0.split(separator: ",").contains { $0 == name } } ?? false
        }
        if named(crashOn) {
            litter(scratch.outputDirectory(for: input))
            raise(SIGSEGV)
        }
        if named(hangOn) {
            litter(scratch.outputDirectory(for: input))
            while true { pause() }
        }
    }

    /// What a conversion killed midway leaves: a temporary output and a staging directory, unregistered.
    private static func litter(_ directory: String) {
        var template = Array("\(directory)/\(TemporaryName.prefix)XXXXXX.tmp".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.map { mkstemps($0, 4) } ?? -1
        }
        if descriptor >= 0 { close(descriptor) }
        let staging = "\(directory)/\(TemporaryName.prefix)\(UUID().uuidString).staging"
        mkdir(staging, 0o700)
        _ = FileManager.default.createFile(atPath: staging + "/model.weights.h5", contents: Data("partial".utf8))
    }
}
