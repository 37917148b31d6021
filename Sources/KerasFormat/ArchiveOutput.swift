import FileOutput

extension KerasModel {
    /// For a `.keras` archive: writes a new archive to `destination` with every member as read, in the same
    /// order and compression, and the weights taken from `weightsFile`.
    ///
    /// - Precondition: `format == .keras3Archive`.
    public func writeArchive(to destination: String, weightsFile: String) throws {
        guard let archive else { preconditionFailure("writeArchive on a \(format.rawValue) file") }
        do {
            try archive.write(to: destination, weightsFile: weightsFile)
        } catch let error as KerasFormatError {
            throw error
        } catch {
            throw OutputError(path: destination, "cannot write the archive: \(error)")
        }
    }
}
