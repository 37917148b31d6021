/// One call of a layer in a functional model config: the tensors it takes and, in Keras 3 files, the mask
/// Keras passed to it.
///
/// Keras 3 writes a call as `{"args": [...], "kwargs": {...}}` and records the time-step mask a layer that
/// takes one was given as `kwargs.mask` (a tensor made by op layers such as `NotEqual` and `Any`, or null);
/// Keras 2 writes a list of `[name, node_index, tensor_index, kwargs]` and leaves masks implicit.
public struct LayerCall: Sendable, Equatable {
    /// The tensors the call takes, positional ones first, the mask left out.
    public var inputs: [TensorReference]
    /// The mask the call was given, as Keras 3 records it: `.some(nil)` for an explicit null (no mask); nil when
    /// the call records nothing (Keras 2, or a layer whose call takes no mask).
    public var mask: TensorReference??

    /// A call taking `inputs`, with the recorded `mask`.
    public init(inputs: [TensorReference], mask: TensorReference?? = nil) {
        self.inputs = inputs
        self.mask = mask
    }

    /// The call an `inbound_nodes` entry describes.
    init(node: JSONValue) {
        guard case .object(var members) = node, members["args"] != nil || members["kwargs"] != nil else {
            self.init(inputs: TensorReference.all(in: node))
            return
        }
        var kwargs: [String: JSONValue] = [:]
        if case .object(let found)? = members.removeValue(forKey: "kwargs") { kwargs = found }
        let mask = kwargs.removeValue(forKey: "mask")
        let inputs = TensorReference.all(in: .object(members)) + TensorReference.all(in: .object(kwargs))
        self.init(inputs: inputs, mask: mask.map { TensorReference.all(in: $0).first })
    }
}
