import FileOutput
import Foundation

/// The test hooks (see `Isolation`).
enum TestHook {
    static func run(on input: String, crashOn: String?, trapOn: String?, hangOn: String?, scratch: ScratchDirectories) {
        let name = PathComponents.lastComponent(of: input)
        func named(_ list: String?) -> Bool {
            list.map { $0.split(separator: ",").contains { $0 == name } } ?? false
        }
        if named(crashOn) {
            litter(scratch.outputDirectory(for: input))
            CrashCleanup.blameLibrary()
            raise(SIGSEGV)
        }
        if named(trapOn) {
            litter(scratch.outputDirectory(for: input))
            preconditionFailure("test trap on \(name)")
        }
        if named(hangOn) {
            litter(scratch.outputDirectory(for: input))
            while true { pause() }
        }
    }

    /// With `KPRUNE_TEST_HOOKS=1` and `KPRUNE_TEST_PAUSE_ON=NAME[,NAME]` naming `input`'s last path component,
    /// waits for a signal once the input's structure is read and its output reserved (in a child or with
    /// `KPRUNE_IN_PROCESS=1`): what a run that is working looks like to a signal.
    static func pauseIfAsked(on input: String) {
        let environment = ProcessInfo.processInfo.environment
        guard environment[Isolation.testHooksVariable] == "1", let list = environment["KPRUNE_TEST_PAUSE_ON"],
            list.split(separator: ",").contains(where: { $0 == PathComponents.lastComponent(of: input) })
        else { return }
        while true { pause() }
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
