import ArrayIO
import Foundation
import Testing

@Suite struct NPYWriterTests {
    /// `/dev/full` fails every write with `ENOSPC`, as a full disk does: the error names the file as the caller
    /// named it (an output's destination, not the descriptor path it is written through) and the system's reason.
    @Test func aFullDiskIsReportedUnderTheOutputsName() throws {
        let error = try #require(throws: DataError.self) {
            let writer = try NPYWriter(path: "/dev/full", shape: [2, 3], name: "out.npy")
            try writer.append([Float](repeating: 1, count: 6))
            try writer.close()
        }
        #expect(error.code == .writeFailed)
        #expect(error.source == "out.npy")
        #expect(error.message.hasSuffix("No space left on device"), "\(error.message)")
    }
}
