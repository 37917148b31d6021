import Foundation
import TestSupport
import Testing

@testable import FileOutput

@Suite struct AtomicOutputTests {
    @Test(arguments: [true, false])
    func commitsCompleteFilesAndReplacesAtomically(unnamed: Bool) throws {
        let directory = TemporaryDirectory()
        let destination = directory.file("out.h5")
        try Data("old".utf8).write(to: URL(fileURLWithPath: destination))
        let output = try AtomicOutput(destination: destination, replacing: true, unnamed: unnamed)
        #expect(output.isUnnamed == unnamed)
        try Data("new".utf8).write(to: URL(fileURLWithPath: output.temporaryPath))
        #expect(contents(destination) == Data("old".utf8), "nothing shows before the commit")
        #expect(
            try directory.listing()
                == (unnamed ? ["out.h5"] : [(output.temporaryPath as NSString).lastPathComponent, "out.h5"]))
        try output.commit()
        #expect(contents(destination) == Data("new".utf8))
        #expect(try directory.listing() == ["out.h5"], "the old file is gone, no temporary is left")
    }

    @Test func anUnnamedOutputHasNoNameUntilCommitted() throws {
        let directory = TemporaryDirectory()
        let output = try AtomicOutput(destination: directory.file("a.h5"))
        #expect(output.isUnnamed, "tmpfs and ext4 support O_TMPFILE")
        #expect(output.temporaryPath.hasPrefix("/proc/self/fd/"))
        try Data("content".utf8).write(to: URL(fileURLWithPath: output.temporaryPath))
        #expect(try directory.listing().isEmpty, "nothing to leave behind, even on SIGKILL")
        try output.commit()
        #expect(try directory.listing() == ["a.h5"])
        #expect(contents(directory.file("a.h5")) == Data("content".utf8))
    }

    @Test func aNamedPathForLibrariesReachesTheSameFile() throws {
        let directory = TemporaryDirectory()
        let output = try AtomicOutput(destination: directory.file("a.h5"))
        try Data("first".utf8).write(to: URL(fileURLWithPath: output.temporaryPath))
        let named = try output.namedTemporaryPath()
        #expect(named.hasPrefix(directory.path) && named.hasSuffix(".tmp"))
        #expect(contents(named) == Data("first".utf8))
        try output.commit()
        #expect(try directory.listing() == ["a.h5"])
    }

    @Test(arguments: [true, false])
    func neverReplacesWithoutBeingAsked(unnamed: Bool) throws {
        let directory = TemporaryDirectory()
        let destination = directory.file("out.h5")
        let output = try AtomicOutput(destination: destination, unnamed: unnamed)
        try Data("new".utf8).write(to: URL(fileURLWithPath: output.temporaryPath))
        // A file that appears during the run.
        try Data("theirs".utf8).write(to: URL(fileURLWithPath: destination))
        let error = try #require(throws: OutputError.self) { try output.commit() }
        #expect(error.message == "output already exists")
        #expect(error.path == destination)
        #expect(contents(destination) == Data("theirs".utf8))
        #expect(try directory.listing() == ["out.h5"], "the temporary is removed")
    }

    @Test func theLinkFallbackNeverReplacesEither() throws {
        let directory = TemporaryDirectory()
        let source = directory.file("source")
        try Data("new".utf8).write(to: URL(fileURLWithPath: source))
        try Data("theirs".utf8).write(to: URL(fileURLWithPath: directory.file("taken")))
        #expect(throws: OutputError.self) { try AtomicOutput.moveWithoutReplacing(source, to: directory.file("taken")) }
        try AtomicOutput.moveWithoutReplacing(source, to: directory.file("free"))
        #expect(try directory.listing() == ["free", "taken"])
    }

    @Test func refusesToReplaceWhatIsNotARegularFile() throws {
        let directory = TemporaryDirectory()
        let fifo = directory.file("pipe.h5")
        #expect(mkfifo(fifo, 0o644) == 0)
        let output = try AtomicOutput(destination: fifo, replacing: true)
        let error = try #require(throws: OutputError.self) { try output.commit() }
        #expect(error.message.contains("is a FIFO, not a regular file"))
        var info = stat()
        #expect(lstat(fifo, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO, "the FIFO is still there")
        #expect(try directory.listing() == ["pipe.h5"])
    }

    @Test func discardsOnFailureAndOnInterrupt() throws {
        let directory = TemporaryDirectory()
        for unnamed in [true, false] {
            let output = try AtomicOutput(destination: directory.file("a.h5"), unnamed: unnamed)
            try Data("partial".utf8).write(to: URL(fileURLWithPath: output.temporaryPath))
        }
        #expect(try directory.listing().isEmpty, "an uncommitted output is removed when dropped")

        // What the signal handler runs, on a registry of this test's own: the process-wide one holds other
        // tests' files, which run in parallel. More entries than the old fixed table held.
        let registry = CleanupRegistry()
        let staging = directory.file("staging")
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        #expect(FileManager.default.createFile(atPath: staging + "/member", contents: Data("x".utf8)))
        registry.add(staging)
        registry.add(staging + "/member")
        for index in 0..<100 {
            #expect(
                FileManager.default.createFile(atPath: directory.file("\(index).tmp"), contents: Data("partial".utf8)))
            registry.add(directory.file("\(index).tmp"))
        }
        #expect(registry.count == 102)
        registry.remove(directory.file("7.tmp"))
        #expect(registry.count == 101)
        registry.unlinkAll()
        #expect(try directory.listing() == ["7.tmp"], "every registered path is removed, the forgotten one kept")
        registry.add(directory.file("again"))
        #expect(registry.count == 102, "a freed entry is reused")
    }

    @Test func refusesMissingDirectories() throws {
        let directory = TemporaryDirectory()
        let error = try #require(throws: OutputError.self) {
            try AtomicOutput(destination: directory.file("missing/out.h5"))
        }
        #expect(error.message.contains("does not exist"))
        #expect(error.code == .directoryMissing)
    }

    /// Whatever writes the content, errors name the destination, never `/proc/self/fd/N` or a `.kprune-` name.
    @Test func errorsNameTheDestination() throws {
        let directory = TemporaryDirectory()
        let destination = directory.file("out.h5")
        let output = try AtomicOutput(destination: destination)
        let descriptor = try output.openForWriting()
        #expect(descriptor.path == destination)
        try descriptor.close()
        let missing = directory.file("missing.h5")
        let unreadable = try #require(throws: InputError.self) { try output.copyContents(of: missing) }
        #expect(unreadable.path == missing && unreadable.code == .openFailed)
        let source = directory.file("source")
        try Data("bytes".utf8).write(to: URL(fileURLWithPath: source))
        // /dev/full cannot be resized, so the copy fails on the output's side.
        let full = try #require(throws: OutputError.self) {
            try FileCopy.copy(from: source, to: "/dev/full", destinationName: destination)
        }
        #expect(full.path == destination && full.code == .writeFailed)
        output.discard()
    }

    @Test func aDescriptorForReadingReportsTheInput() throws {
        let directory = TemporaryDirectory()
        let error = try #require(throws: InputError.self) {
            try FileDescriptor(path: directory.file("absent"), flags: O_RDONLY)
        }
        #expect(error.code == .openFailed && error.path == directory.file("absent"))
        let writing = try #require(throws: OutputError.self) {
            try FileDescriptor(path: directory.file("absent"), flags: O_RDWR, name: "out.h5")
        }
        #expect(writing.path == "out.h5")
    }
}

@Suite struct OutputPathTests {
    @Test func refusesNamesThatCannotBeWritten() throws {
        let directory = TemporaryDirectory()
        func message(_ path: String, replacing: Bool = false) -> String? {
            do {
                try OutputPath.check(path, replacing: replacing)
                return nil
            } catch let error as OutputError {
                return error.message
            } catch {
                return "\(error)"
            }
        }
        #expect(message("")?.contains("empty") == true)
        #expect(message(directory.file("missing") + "/")?.contains("ends in '/'") == true)
        #expect(message(directory.file("missing/out.h5"))?.contains("does not exist") == true)
        #expect(message(directory.file(String(repeating: "a", count: 253) + ".h5"))?.contains("256 bytes") == true)
        #expect(message(directory.file(String(repeating: "a", count: 252) + ".h5")) == nil)
        #expect(message("/dev/null", replacing: true)?.contains("a character device") == true)
        #expect(message(directory.path, replacing: true)?.contains("a directory") == true)
        symlink("/dev/null", directory.file("link.h5"))
        #expect(message(directory.file("link.h5"), replacing: true)?.contains("a character device") == true)
        #expect(FileManager.default.createFile(atPath: directory.file("there.h5"), contents: Data()))
        #expect(message(directory.file("there.h5")) == "output already exists")
        #expect(message(directory.file("there.h5"), replacing: true) == nil)
    }

    /// Each refusal has its own code, for the CLI to add a hint naming its options; the library's own text
    /// names none.
    @Test func givesEachRefusalItsOwnCode() throws {
        let directory = TemporaryDirectory()
        #expect(FileManager.default.createFile(atPath: directory.file("there.h5"), contents: Data()))
        let cases: [(String, Bool, OutputError.Code)] = [
            ("", false, .emptyName),
            (directory.file("missing") + "/", false, .namesDirectory),
            (directory.file(".."), false, .namesDirectory),
            (directory.file(String(repeating: "a", count: 253) + ".h5"), false, .nameTooLong),
            (directory.file("missing/out.h5"), false, .directoryMissing),
            ("/sys/out.h5", false, .directoryNotWritable),
            (directory.path + "/", true, .namesDirectory),
            (directory.path, true, .existsAsDirectory),
            ("/dev/null", true, .notRegularFile),
            (directory.file("there.h5"), false, .alreadyExists),
        ]
        for (path, replacing, code) in cases {
            let error = try #require(throws: OutputError.self) { try OutputPath.check(path, replacing: replacing) }
            #expect(error.code == code, "\(path)")
            #expect(error.path == path)
            #expect(!error.description.contains("--") && !error.description.contains("-o "), "\(error)")
        }
    }
}
