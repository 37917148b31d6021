import Foundation
import TestSupport
import Testing

/// An HDF5 data name that names no dataset is one plain line: no libhdf5 function names or error stack.
@Suite struct DataNameTests {
    @Test(arguments: [
        ("/", "'/' is the file's root group, not a dataset (name a dataset as d.h5:/GROUP/DATASET)"),
        ("/model_weights", "/model_weights in d.h5 is a group, not a dataset (name a dataset as d.h5:/GROUP/DATASET)"),
        ("/missing", "no dataset /missing in d.h5"),
        (
            "/model_weights/dense_1/dense_1/kernel:0/below",
            "no dataset /model_weights/dense_1/dense_1/kernel:0/below in d.h5"
        ),
    ])
    func aNameThatIsNoDatasetIsOnePlainLine(member: String, message: String) throws {
        let directory = TemporaryDirectory()
        let model = try directory.copy(Fixtures.named("keras2/sequential.h5").path, as: "d.h5")
        for verbose in [false, true] {
            let run = try Run(
                ["predict", model, "--data", "d.h5:" + member, "-o", "y.npy"] + (verbose ? ["--verbose"] : []),
                in: directory.path)
            #expect(run.status == 1)
            #expect(run.stderrLines == ["error: d.h5:\(member): \(message)"])
            #expect(try directory.listing() == ["d.h5"])
        }
    }
}
