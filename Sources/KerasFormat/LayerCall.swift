/// One call of a layer in a functional model config: the tensors it takes and, in Keras 3 files, the mask
/// Keras passed to it.
///
/// Keras 3 writes a call as `{"args": [...], "kwargs": {...}}` and records the time-step mask a layer that
/// takes one was given as `kwargs.mask` (a tensor made by op layers such as `NotEqual` and `Any`, or null);
/// Keras 2 writes a list of `[name, node_index, tensor_index, kwargs]` and leaves masks implicit; a tensor passed
/// by keyword sits in those kwargs (`tf.math.add(x, y=t)`: `["x", 0, 0, {"y": ["t", 0, 0]}]`) and is an input
/// after those of the first argument.
public struct LayerCall: Sendable, Equatable {
    /// The tensors the call takes, positional ones first, the mask left out.
    public var inputs: [TensorReference]
    /// In Keras 2 files, the call's arguments, each tensor as its position in `inputs`: what a TensorFlow
    /// function's layer (`TFOpLambda`) is called with. Nil in Keras 3 files.
    public var arguments: CallArguments? = nil
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
            let (arguments, inputs) = CallArguments.parse(node: node)
            self.init(inputs: inputs)
            self.arguments = arguments
            return
        }
        var kwargs: [String: JSONValue] = [:]
        if case .object(let found)? = members.removeValue(forKey: "kwargs") { kwargs = found }
        let mask = kwargs.removeValue(forKey: "mask")
        let inputs = TensorReference.all(in: .object(members)) + TensorReference.all(in: .object(kwargs))
        self.init(inputs: inputs, mask: mask.map { TensorReference.all(in: $0).first })
    }
}
