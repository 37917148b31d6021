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

    /// The largest call or output index read from a config.
    public static let largestIndex = 1 << 24

    /// The tensors a node, an input or an output list refers to, in order (repeats kept), those in a Keras 2
    /// reference's kwargs after it (`["x", 0, 0, {"y": ["t", 0, 0]}]` refers to `x`, then `t`); a constant
    /// (`["_CONSTANT_VALUE", -1, 2.0, kwargs]`) is none. A reference whose indexes `validate` refuses is left
    /// out; configs are validated when parsed.
    static func all(in json: JSONValue) -> [TensorReference] {
        var found: [TensorReference] = []
        visit(json) {
            found.append($0)
        } invalid: { _ in
        }
        return found
    }

    /// Refuses a reference whose call or output index is not a whole number in `0...largestIndex` (`1e300`,
    /// `NaN`, `-1` in a crafted file).
    /// - Parameter place: where the references stand, for the message (`layer dense's inbound_nodes`).
    /// - Throws: `ConfigError` `.invalidValue`.
    static func validate(_ json: JSONValue, place: @autoclosure () -> String) throws(ConfigError) {
        var bad: JSONValue? = nil
        visit(json) { _ in
        } invalid: {
            if bad == nil { bad = $0 }
        }
        if let bad {
            throw ConfigError(
                .invalidValue,
                "\(place()) refer to \(bad): a call and an output index are whole "
                    + "numbers from 0 to \(largestIndex)")
        }
    }

    /// Calls `found` for each well-formed reference in `json`, in order (those in a reference's kwargs after
    /// it), and `invalid` for each list that has a reference's form (a name, then two numbers) but indexes out
    /// of range. tf_keras's `["_CONSTANT_VALUE", -1, value, kwargs]` is a constant, not a reference.
    private static func visit(_ json: JSONValue, found: (TensorReference) -> Void, invalid: (JSONValue) -> Void) {
        switch json {
        case .object(let members):
            if let history = members["keras_history"]?.array, history.count >= 3, history[0].string != nil,
                history[1].number != nil, history[2].number != nil
            {
                if let reference = Self(history) { found(reference) } else { invalid(.array(history)) }
                return
            }
            for (_, member) in members.sorted(by: { $0.key < $1.key }) { visit(member, found: found, invalid: invalid) }
        case .array(let items):
            if items.count >= 3, items[0].string == CallArguments.constantMarker, items[1].number == -1 {
                for item in items.dropFirst(3) { visit(item, found: found, invalid: invalid) }
                return
            }
            if items.count >= 3, items[0].string != nil, items[1].number != nil, items[2].number != nil {
                if let reference = Self(items) { found(reference) } else { invalid(json) }
                for item in items.dropFirst(3) { visit(item, found: found, invalid: invalid) }
                return
            }
            for item in items { visit(item, found: found, invalid: invalid) }
        default:
            break
        }
    }

    /// A reference from `[name, node_index, tensor_index, ...]`; nil when the list is shorter, or an index is
    /// not a whole number in `0...largestIndex`.
    init?(_ items: [JSONValue]) {
        func index(_ value: JSONValue) -> Int? {
            value.integer.flatMap { (0...Self.largestIndex).contains($0) ? $0 : nil }
        }
        guard items.count >= 3, let name = items[0].string, let node = index(items[1]), let tensor = index(items[2])
        else { return nil }
        self.init(layer: name, node: node, tensor: tensor)
    }
}
