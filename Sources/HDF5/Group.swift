internal import CHDF5

/// A group: a folder of groups and datasets.
public final class Group: Node {
    /// Opens the group at an absolute `path` in `file`. The corresponding C function is `H5Gopen2`.
    init(file: File, path: String) throws {
        Library.ensureInitialized()
        let id = H5Gopen2(file.handle.id, path, defaultPropertyList)
        guard id >= 0 else {
            throw file.error(.openFailed, "H5Gopen2", object: path)
        }
        super.init(file: file, path: path, handle: Handle(id, closeName: "H5Gclose", closer: H5Gclose))
    }

    /// Opens the group `name` relative to `parent`'s handle: no walk from the root. The corresponding C
    /// function is `H5Gopen2`.
    init(parent: Node, name: String) throws {
        Library.ensureInitialized()
        let path = parent.childPath(name)
        let id = H5Gopen2(parent.handle.id, name, defaultPropertyList)
        guard id >= 0 else { throw parent.file.error(.openFailed, "H5Gopen2", object: path) }
        super.init(file: parent.file, path: path, handle: Handle(id, closeName: "H5Gclose", closer: H5Gclose))
    }

    /// The kind of object a link points to.
    public enum ChildKind: Sendable, Equatable { case group, dataset, other }

    /// The names of the links in this group, in name order. The corresponding C function is `H5Literate`.
    public func childNames() throws -> [String] {
        Library.ensureInitialized()
        let names = NameList()
        var index: hsize_t = 0
        let status = H5Literate(
            handle.id, H5_INDEX_NAME, H5_ITER_INC, &index,
            { _, name, _, context in NameList.add(name, to: context) }, names.context)
        if status < 0 { throw error(.readFailed, "H5Literate") }
        return names.list
    }

    /// The most `/`-separated components a path may have; Keras weight paths have a handful.
    public static let maximumPathComponents = 256

    /// Whether `relativePath` (one or more `/`-separated names, which may themselves be Keras weight names)
    /// leads to an object. Each link along the way is checked from this group's own handle, as `H5Lexists`
    /// requires, so the cost grows with the relative path only, never with this group's depth in the file.
    ///
    /// - Throws: `HDF5Error` `.outsideFile` when a link before the last is not an ordinary (hard) link: an
    ///   external link would open another file, a soft link would lead elsewhere in this one.
    public func contains(_ relativePath: String) throws -> Bool {
        Library.ensureInitialized()
        let components = relativePath.split(separator: "/", omittingEmptySubsequences: true)
        // Each step resolves the prefix so far: the cost grows with the square of the component count.
        guard components.count <= Group.maximumPathComponents else {
            throw HDF5Error(
                code: .tooLarge, operation: "H5Lexists", file: file.name,
                object: childPath(String(relativePath.prefix(200))),
                stack: [
                    "the path has \(components.count) components, more than "
                        + "\(Group.maximumPathComponents)"
                ])
        }
        // An absolute path resolves from the file's root whatever handle it is given to.
        var prefix = relativePath.hasPrefix("/") ? "/" : ""
        for (position, component) in components.enumerated() {
            prefix += (prefix.isEmpty || prefix == "/" ? "" : "/") + component
            let result = H5Lexists(handle.id, prefix, defaultPropertyList)
            if result < 0 { throw error(.failed, "H5Lexists", object: childPath(prefix)) }
            if result == 0 { return false }
            if position < components.count - 1 { try requireHardLink(prefix) }
        }
        return true
    }

    /// Throws `.outsideFile` unless `relativePath` (which exists) is an ordinary link to an object in this file.
    private func requireHardLink(_ relativePath: String) throws {
        var info = H5L_info_t()
        guard H5Lget_info(handle.id, relativePath, &info, defaultPropertyList) >= 0 else {
            throw error(.readFailed, "H5Lget_info", object: childPath(relativePath))
        }
        guard info.type == H5L_TYPE_HARD else {
            throw HDF5Error(
                code: .outsideFile, operation: "H5Lget_info", file: file.name,
                object: childPath(relativePath),
                stack: ["it is a soft, external or user-defined link, which kprune does not follow"])
        }
    }

    /// What kind of object `name` is: `.other` for a soft, external or user-defined link, which is not
    /// followed. The corresponding C functions are `H5Lget_info`, `H5Oopen` and `H5Iget_type`.
    public func kind(of name: String) throws -> ChildKind {
        let target = childPath(name)
        guard try contains(name) else {
            throw HDF5Error(code: .notFound, operation: "H5Oopen", file: file.name, object: target)
        }
        guard try linkKind(of: name) == .hard else { return .other }
        let id = H5Oopen(handle.id, name, defaultPropertyList)
        guard id >= 0 else { throw error(.openFailed, "H5Oopen", object: target) }
        defer { H5Oclose(id) }
        switch H5Iget_type(id) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        default: return .other
        }
    }

    /// How a name is linked into its parent group.
    public enum LinkKind: Sendable, Equatable {
        /// An ordinary link: the object itself.
        case hard
        /// A soft link, a path resolved when opened (possibly to another object in the file).
        case soft(target: String)
        /// An external link to an object in another file.
        case external(file: String, path: String)
        /// A user-defined link type.
        case other
    }

    /// How the last component of `relativePath` is linked. The corresponding C functions are `H5Lget_info`,
    /// `H5Lget_val` and `H5Lunpack_elink_val`.
    ///
    /// - Throws: `HDF5Error` with code `.notFound` when there is no such link.
    public func linkKind(of relativePath: String) throws -> LinkKind {
        let target = childPath(relativePath)
        guard try contains(relativePath) else {
            throw HDF5Error(code: .notFound, operation: "H5Lget_info", file: file.name, object: target)
        }
        var info = H5L_info_t()
        guard H5Lget_info(handle.id, relativePath, &info, defaultPropertyList) >= 0 else {
            throw error(.readFailed, "H5Lget_info", object: target)
        }
        switch info.type {
        case H5L_TYPE_HARD:
            return .hard
        case H5L_TYPE_SOFT, H5L_TYPE_EXTERNAL:
            let size = info.u.val_size
            var value = [UInt8](repeating: 0, count: size + 1)
            guard H5Lget_val(handle.id, relativePath, &value, size, defaultPropertyList) >= 0 else {
                throw error(.readFailed, "H5Lget_val", object: target)
            }
            if info.type == H5L_TYPE_SOFT {
                return .soft(target: String(decoding: value.prefix { $0 != 0 }, as: UTF8.self))
            }
            var flags: UInt32 = 0
            var fileName: UnsafePointer<CChar>? = nil
            var objectPath: UnsafePointer<CChar>? = nil
            guard H5Lunpack_elink_val(&value, size, &flags, &fileName, &objectPath) >= 0,
                let fileName, let objectPath
            else { throw error(.readFailed, "H5Lunpack_elink_val", object: target) }
            return .external(file: String(cString: fileName), path: String(cString: objectPath))
        default:
            return .other
        }
    }

    /// Opens a sub-group by path relative to this group, from this group's handle.
    ///
    /// - Throws: `HDF5Error` with code `.notFound` when it does not exist, `.outsideFile` when a link on the
    ///   way is not an ordinary link.
    public func group(_ name: String) throws -> Group {
        guard try contains(name) else {
            throw HDF5Error(code: .notFound, operation: "H5Gopen2", file: file.name, object: childPath(name))
        }
        try requireHardLink(name)
        return try Group(parent: self, name: name)
    }

    /// Opens a dataset by relative or absolute path.
    ///
    /// - Parameters:
    ///   - name: the dataset's path relative to this group.
    ///   - chunkCacheBytes: for chunked datasets, the size of libhdf5's chunk cache for this handle; large
    ///     enough to hold the chunks one streaming step touches, so each chunk is decompressed once.
    /// - Throws: `HDF5Error` with code `.notFound` when it does not exist, `.outsideFile` when a link on the
    ///   way is not an ordinary link.
    public func dataset(_ name: String, chunkCacheBytes: Int? = nil) throws -> Dataset {
        guard try contains(name) else {
            throw HDF5Error(code: .notFound, operation: "H5Dopen2", file: file.name, object: childPath(name))
        }
        try requireHardLink(name)
        return try Dataset(parent: self, name: name, chunkCacheBytes: chunkCacheBytes)
    }

    /// Creates a float dataset, filled with zeros, at a name relative to this group.
    ///
    /// - Parameters:
    ///   - name: the new dataset's name (its parent group must exist).
    ///   - shape: the extent of each dimension; fixed.
    ///   - bits: 32 or 64, stored as little-endian IEEE floats.
    ///   - chunks: chunk dimensions for a chunked layout; nil for a contiguous one.
    ///   - gzip: a deflate level (1–9) for a chunked layout; nil for none.
    /// - Throws: `HDF5Error` with code `.failed` when libhdf5 refuses the layout or name.
    /// The corresponding C functions are `H5Screate_simple`, `H5Pset_chunk`, `H5Pset_deflate` and `H5Dcreate2`.
    public func createDataset(
        _ name: String, shape: [Int], bits: Int = 32, chunks: [Int]? = nil,
        gzip: Int? = nil
    ) throws -> Dataset {
        precondition(bits == 32 || bits == 64, "float datasets are 32 or 64 bits")
        precondition(gzip == nil || chunks != nil, "compression needs a chunked layout")
        Library.ensureInitialized()
        var dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(shape.count), &dims, nil)
        guard space >= 0 else { throw error(.failed, "H5Screate_simple", object: childPath(name)) }
        defer { H5Sclose(space) }
        let create = H5Pcreate(kp_H5P_DATASET_CREATE())
        guard create >= 0 else { throw error(.failed, "H5Pcreate", object: childPath(name)) }
        defer { H5Pclose(create) }
        if let chunks {
            var chunkDims = chunks.map { hsize_t($0) }
            if H5Pset_chunk(create, Int32(chunks.count), &chunkDims) < 0 {
                throw error(.failed, "H5Pset_chunk", object: childPath(name))
            }
        }
        if let gzip, H5Pset_deflate(create, UInt32(gzip)) < 0 {
            throw error(.failed, "H5Pset_deflate", object: childPath(name))
        }
        let type = bits == 32 ? kp_H5T_IEEE_F32LE() : kp_H5T_IEEE_F64LE()
        let id = H5Dcreate2(handle.id, name, type, space, defaultPropertyList, create, defaultPropertyList)
        guard id >= 0 else { throw error(.failed, "H5Dcreate2", object: childPath(name)) }
        try Handle(id, closeName: "H5Dclose", closer: H5Dclose).close(in: file, object: childPath(name))
        return try dataset(name)
    }
}
