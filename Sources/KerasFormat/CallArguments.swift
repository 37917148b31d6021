/// The arguments of one call as tf_keras records it in a functional config (Keras 2): what a layer that runs a
/// TensorFlow function (`TFOpLambda`, `SlicingOpLambda`) needs to call it again.
///
/// tf_keras writes a call's first argument as its structure of tensors (`["x", 0, 0, kwargs]` for one tensor,
/// a list of them for `tf.concat([a, b], axis=1)`), a constant in it as `["_CONSTANT_VALUE", -1, 2.0, kwargs]`
/// (`2.0 - x` calls `tf.math.subtract(2.0, y=x)`), and every later argument by its name in `kwargs`, which it
/// repeats on each tensor of the first argument (and, rebuilding the call, takes from the last). A keyword may
/// hold a tensor (`{"y": ["tf.math.reduce_mean", 0, 0]}`): a list of a name and two whole numbers, as tf_keras
/// reads it back.
public struct CallArguments: Sendable, Equatable {
    /// One argument: a tensor, a constant, or a list holding tensors.
    public indirect enum Value: Sendable, Equatable {
        /// A tensor, by its position in the call's `LayerCall.inputs`.
        case input(Int)
        /// A value without tensors, as the config writes it: a number, a list of numbers, a string, null, an
        /// object (a slice, `{"start": 1, "stop": 3, "step": null}`).
        case constant(JSONValue)
        /// A list holding at least one tensor, in order.
        case list([Value])
    }

    /// The call's first argument.
    public var first: Value
    /// The later arguments by name (`axis`, `y`, `keepdims`, `slice_spec`), `name` included when recorded.
    public var keywords: [String: Value]

    /// Arguments `first` and `keywords`.
    public init(first: Value, keywords: [String: Value] = [:]) {
        self.first = first
        self.keywords = keywords
    }

    /// The marker tf_keras puts in place of a layer's name for a constant in a call's first argument.
    static let constantMarker = "_CONSTANT_VALUE"

    /// The arguments of a Keras 2 `inbound_nodes` entry, with the tensors they take in order: the first
    /// argument's, then the keywords' (by name, `mask` left out: it is no input of the call).
    static func parse(node: JSONValue) -> (arguments: CallArguments, inputs: [TensorReference]) {
        var inputs: [TensorReference] = []
        var keywords: JSONValue? = nil
        func firstArgument(_ json: JSONValue) -> Value {
            guard case .array(let items) = json else { return .constant(json) }
            if let reference = TensorReference(items) {
                keywords = items.count > 3 ? items[3] : .object([:])
                inputs.append(reference)
                return .input(inputs.count - 1)
            }
            if items.count >= 3, items[0].string == constantMarker, items[1].number == -1 {
                keywords = items.count > 3 ? items[3] : .object([:])
                return .constant(items[2])
            }
            return .list(items.map(firstArgument))
        }
        let first = firstArgument(node)
        var named: [String: Value] = [:]
        if case .object(let members)? = keywords {
            for (key, value) in members.sorted(by: { $0.key < $1.key }) {
                named[key] = key == "mask" ? .constant(value) : keyword(value, &inputs)
            }
        }
        return (CallArguments(first: first, keywords: named), inputs)
    }

    /// A keyword's value, its tensors appended to `inputs`.
    private static func keyword(_ json: JSONValue, _ inputs: inout [TensorReference]) -> Value {
        guard case .array(let items) = json else { return .constant(json) }
        if items.count == 3 || (items.count == 4 && items[3].isObject), let reference = TensorReference(items) {
            inputs.append(reference)
            return .input(inputs.count - 1)
        }
        let values = items.map { keyword($0, &inputs) }
        return values.contains { if case .constant = $0 { false } else { true } } ? .list(values) : .constant(json)
    }
}

extension JSONValue {
    /// Whether this is an object (a Keras 2 reference's kwargs).
    fileprivate var isObject: Bool {
        if case .object = self { return true }
        return false
    }
}
