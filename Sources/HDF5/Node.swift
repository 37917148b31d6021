internal import CHDF5

/// A group or dataset inside an open file: something with a path and attributes.
public class Node {
    /// The file this object lives in; kept alive while the object is.
    public let file: File
    /// The object's absolute path in the file, e.g. `/model_weights/dense/dense/kernel:0`.
    public let path: String
    let handle: Handle

    init(file: File, path: String, handle: Handle) {
        Library.ensureInitialized()
        self.file = file
        self.path = path
        self.handle = handle
    }

    func error(_ code: HDF5Error.Code, _ operation: String, object: String? = nil) -> HDF5Error {
        file.error(code, operation, object: object ?? path)
    }

    /// Joins a child name onto this object's path.
    func childPath(_ name: String) -> String {
        if name.hasPrefix("/") { return name }
        return path == "/" ? "/" + name : path + "/" + name
    }

    /// Whether an attribute of that name exists. The corresponding C function is `H5Aexists`.
    public func hasAttribute(_ name: String) throws -> Bool {
        Library.ensureInitialized()
        let result = H5Aexists(handle.id, name)
        if result < 0 { throw error(.failed, "H5Aexists", object: "\(path)@\(name)") }
        return result > 0
    }

    /// The names of this object's attributes, in creation order where recorded, else by name.
    /// The corresponding C function is `H5Aiterate2`.
    public func attributeNames() throws -> [String] {
        let names = NameList()
        var index: hsize_t = 0
        let status = H5Aiterate2(
            handle.id, H5_INDEX_NAME, H5_ITER_NATIVE, &index,
            { _, name, _, context in NameList.add(name, to: context) }, names.context)
        if status < 0 { throw error(.readFailed, "H5Aiterate2") }
        return names.list
    }

    /// Opens an attribute. The corresponding C function is `H5Aopen`.
    ///
    /// - Throws: `HDF5Error` with code `.notFound` when it does not exist.
    public func attribute(_ name: String) throws -> Attribute {
        guard try hasAttribute(name) else {
            throw HDF5Error(code: .notFound, operation: "H5Aopen", file: file.name, object: "\(path)@\(name)")
        }
        let id = H5Aopen(handle.id, name, defaultPropertyList)
        guard id >= 0 else { throw error(.openFailed, "H5Aopen", object: "\(path)@\(name)") }
        return Attribute(owner: self, name: name, handle: Handle(id, closeName: "H5Aclose", closer: H5Aclose))
    }
}
