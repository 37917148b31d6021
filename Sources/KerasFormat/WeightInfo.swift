public import HDF5

/// One weight of a layer as stored in the file.
public struct WeightInfo: Sendable, Equatable {
    /// The weight's name as the file gives it (`dense/kernel:0`), or its position (`vars/0`) where the
    /// format stores no names.
    public var name: String
    /// The absolute path of its dataset in the HDF5 file.
    public var dataset: String
    /// The weight's shape as stored (Keras order); empty for a scalar, or for a link that was not followed.
    public var shape: [Int]
    /// The element type as stored.
    public var storedType: StoredType
    /// How the name is linked when it is not the dataset itself (`a soft link to /x`), else nil. Linked
    /// weights are never followed: writing through one would change another dataset or another file.
    public var link: String? = nil
    /// Why the weight's bytes cannot be trusted to lie inside this file (external raw storage, a virtual
    /// dataset, a declared size far beyond the bytes stored), as a clause after "is"; nil when they can.
    public var storageProblem: String? = nil

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }
}
