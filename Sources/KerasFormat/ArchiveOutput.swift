public import FileOutput

extension KerasModel {
    /// Whether `weightsFile` is this model's own staged copy (a `.keras` archive's `model.weights.h5`, extracted
    /// when the model was opened), which a conversion rewrites in place before `finishOutput(_:)` builds the
    /// output from it. When false, `weightsFile` is the user's input: it is only read, and the new weights go
    /// to the output's own file.
    public var weightsFileIsStagedCopy: Bool { archive != nil }

    /// Completes an output whose weights have been written: for a `.keras` archive, writes the new archive
    /// into `output`'s reserved file, with every member of the input as read (same order, compression and
    /// times) and the weights taken from the staged copy; for an HDF5 file, nothing, since the weights written
    /// to `output` are the whole file.
    ///
    /// `output` is not committed here.
    /// - Throws: `KerasFormatError` when the input archive changed meanwhile or a member is corrupt,
    ///   `OutputError` naming `output.destination` when the archive cannot be written.
    public func finishOutput(_ output: AtomicOutput) throws {
        try archive?.write(to: output)
    }
}
