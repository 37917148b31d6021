/// One tensor a model config refers to: an output of one call of a layer.
///
/// Keras 2 writes it as `["lstm", 0, 1, {}]`, Keras 3 as a tensor carrying `keras_history: ["lstm", 0, 1]`:
/// the layer, the call (node) of that layer, and which of the call's outputs (an LSTM with `return_state`
/// gives output, h and c).
public struct TensorReference: Hashable, Sendable, CustomStringConvertible {
    /// The layer's name.
    public var layer: String
    /// Which call of the layer, counted from 0 in the order of its `inbound_nodes`.
    public var node: Int
    /// Which of that call's outputs, counted from 0.
    public var tensor: Int

    /// Output `tensor` of call `node` of `layer`.
    public init(layer: String, node: Int = 0, tensor: Int = 0) {
        self.layer = layer
        self.node = node
        self.tensor = tensor
    }

    /// `lstm[0][1]`, or just the layer's name for the first output of its first call.
    public var description: String { node == 0 && tensor == 0 ? layer : "\(layer)[\(node)][\(tensor)]" }

    /// The tensors a node, an input or an output list refers to, in order (repeats kept).
    static func all(in json: JSONValue) -> [TensorReference] {
        var found: [TensorReference] = []
        func visit(_ value: JSONValue) {
            switch value {
            case .object(let members):
                if let history = members["keras_history"]?.array, let reference = Self(history) {
                    found.append(reference)
                    return
                }
                for (_, member) in members.sorted(by: { $0.key < $1.key }) { visit(member) }
            case .array(let items):
                if let reference = Self(items) {
                    found.append(reference)
                    return
                }
                items.forEach(visit)
            default:
                break
            }
        }
        visit(json)
        return found
    }

    /// A reference from `[name, node_index, tensor_index, ...]`; nil for any other list.
    ///
    /// An index that is not a count (negative, fractional, `1e300` or `NaN` in a crafted file) is kept as -1,
    /// which names no call and no output: the reference is refused where it is followed, never converted
    /// into a trap.
    private init?(_ items: [JSONValue]) {
        guard items.count >= 3, let name = items[0].string, items[1].number != nil, items[2].number != nil else {
            return nil
        }
        func count(_ item: JSONValue) -> Int { item.integer.flatMap { $0 >= 0 ? $0 : nil } ?? -1 }
        self.init(layer: name, node: count(items[1]), tensor: count(items[2]))
    }
}
