import KerasFormat
import Numerics

/// How a TensorFlow function's layer is named in errors: `layer tf.concat (TFOpLambda) calls tf.concat`.
struct OperationLabel {
    /// The layer's name (with the enclosing models', `outer/tf.concat`).
    let layer: String
    /// `TFOpLambda` or `SlicingOpLambda`.
    let className: String
    /// The TensorFlow function, with its `tf.` (`tf.math.reduce_max`).
    let function: String

    /// The refusal of the function itself: `layer tf.math.erf (TFOpLambda) calls tf.math.erf, which kprune's
    /// forward pass does not run`.
    func unsupported() -> InferenceError {
        InferenceError(
            .unsupportedLayer, layer: layer,
            "layer \(layer) (\(className)) calls \(function), which kprune's forward pass does not run")
    }

    /// The refusal of an argument or operand the forward pass does not run: `layer tf.concat (TFOpLambda)
    /// calls tf.concat with axis 0 (the samples' axis)`.
    func refusal(_ what: String) -> InferenceError {
        InferenceError(.unsupportedConfig, layer: layer, "layer \(layer) (\(className)) calls \(function) with \(what)")
    }

    /// The error for inputs whose shapes the function does not take: `layer x (TFOpLambda) calls tf.math.add on
    /// shapes [8, 3] and [8, 4], which do not broadcast`.
    func mismatch(_ what: String) -> InferenceError {
        InferenceError(.shapeMismatch, layer: layer, "layer \(layer) (\(className)) calls \(function) \(what)")
    }

    /// `axis` (negative from the end) as an index into a shape of `rank` axes, refused when it is out of the
    /// shape or is the samples' axis, 0, which kprune's batches split.
    /// - Throws: `InferenceError` naming the layer, the function, the key and the shape.
    func axis(_ axis: Int, rank: Int, key: String = "axis", shape: [Int]) throws -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 0, resolved < rank else { throw mismatch("with \(key) \(axis), outside shape \(shape)") }
        guard resolved != 0 else { throw refusal("\(key) \(axis) (the samples' axis of shape \(shape))") }
        return resolved
    }
}

/// One call of a TensorFlow function that tf_keras recorded as a layer (`TFOpLambda`, `SlicingOpLambda`): its
/// arguments, each read and checked where it is read. A value the forward pass does not run is refused by
/// name, and a crafted one (`1e300`, `NaN`) is one error naming the layer, the function and the argument.
struct OperationCall {
    let label: OperationLabel
    /// The function without its `tf.` (`math.reduce_max`), as the config's `function` gives it.
    let function: String
    let arguments: CallArguments

    /// The most axes an argument names, and the largest magnitude of an axis (far beyond any model kprune runs).
    static let largestRank = 64

    /// The refusal of an argument: `layer tf.concat (TFOpLambda) calls tf.concat with axis 0 (the samples' axis)`.
    func refusal(_ what: String) -> InferenceError { label.refusal(what) }

    /// The error for a value out of what it may be: `... calls tf.concat with axis 1e+300; it must be a whole
    /// number from -64 to 64`.
    func invalid(_ key: String, _ value: JSONValue, _ expected: String) -> InferenceError {
        label.refusal("\(key) \(value); it must be \(expected)")
    }

    /// Refuses every keyword but `accepted` and `name` (which only names the TensorFlow op), unless it holds
    /// null or the value in `defaults` (`conjugate: false` of `tf.compat.v1.transpose`): an argument the
    /// forward pass does not read is never ignored.
    /// - Throws: `InferenceError` naming the first such keyword and its value.
    func requireOnly(_ accepted: Set<String>, defaults: [String: JSONValue] = [:]) throws {
        for (key, value) in arguments.keywords.sorted(by: { $0.key < $1.key })
        where key != "name" && !accepted.contains(key) {
            switch value {
            case .constant(.null): continue
            case .constant(let json) where defaults[key] == json: continue
            case .constant(let json): throw refusal("\(key) \(json), which kprune's forward pass does not run")
            case .input, .list: throw refusal("a tensor as \(key), which kprune's forward pass does not run")
            }
        }
    }

    /// The constant keyword `key`; nil when absent or null.
    /// - Throws: `InferenceError` when a tensor is given for it (`tf.reshape(x, tf.shape(y))`).
    func constant(_ key: String) throws -> JSONValue? {
        switch arguments.keywords[key] {
        case nil, .constant(.null)?: return nil
        case .constant(let value)?: return value
        case .input?, .list?: throw refusal("\(key) given by a tensor, which kprune's forward pass does not run")
        }
    }

    /// The whole number `value` in `range`.
    /// - Throws: `InferenceError` naming `key` and the value when it is not one.
    func whole(_ key: String, _ value: JSONValue, in range: ClosedRange<Int>) throws -> Int {
        guard let number = value.integer, range.contains(number) else {
            throw invalid(key, value, "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// The axes `key` names (one or a list), each a whole number of magnitude at most `largestRank` and not the
    /// samples' axis 0; nil when absent or null (which TensorFlow reads as every axis).
    /// - Throws: `InferenceError` for axis 0, or a value that is not an axis.
    func axes(_ key: String = "axis") throws -> [Int]? {
        guard let value = try constant(key) else { return nil }
        let items = value.array ?? [value]
        guard items.count <= Self.largestRank else {
            throw invalid(key, value, "at most \(Self.largestRank) axes")
        }
        let axes = try items.map { try whole(key, $0, in: -Self.largestRank...Self.largestRank) }
        if axes.contains(0) { throw refusal("\(key) \(value) (the samples' axis)") }
        return axes
    }

    /// The single axis `key`, refused when absent or null (every axis, the samples' included) or 0.
    func axis(_ key: String = "axis") throws -> Int {
        guard let value = try constant(key) else { throw refusal("\(key) null (every axis, the samples' included)") }
        guard value.array == nil, let axes = try axes(key), axes.count == 1 else {
            throw invalid(key, value, "one whole number")
        }
        return axes[0]
    }

    /// The boolean keyword `key`; `fallback` when absent or null.
    func flag(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = try constant(key) else { return fallback }
        guard case .bool(let flag) = value else { throw invalid(key, value, "true or false") }
        return flag
    }

    /// The first argument as the one tensor the function takes.
    /// - Throws: `InferenceError` when it is a constant or a list.
    func tensorArgument() throws -> Int {
        guard case .input(let index) = arguments.first else { throw refusal("a first argument that is not a tensor") }
        return index
    }

    /// The first argument as a list of tensors (`tf.concat([a, b], axis=1)`).
    /// - Throws: `InferenceError` when it holds a constant or a nested list.
    func tensorList() throws -> [Int] {
        guard case .list(let items) = arguments.first, !items.isEmpty else {
            throw refusal("values that are not a list of tensors")
        }
        return try items.map { item in
            guard case .input(let index) = item else { throw refusal("a constant or a nested list among its values") }
            return index
        }
    }

    /// An operand of an element-wise function: a tensor, or a constant number or list of numbers (numpy-style,
    /// broadcast against the tensor).
    /// - Throws: `InferenceError` for a list holding tensors, a constant that is not numbers in a rectangular
    ///   list, a value not finite in float32, or more values than `Allocation.perSample`.
    func operand(_ value: CallArguments.Value, _ key: String) throws -> Operand {
        switch value {
        case .input(let index): return .input(index)
        case .list: throw refusal("a list holding tensors as \(key), which kprune's forward pass does not run")
        case .constant(let json):
            var shape: [Int] = []
            var values: [Float] = []
            try read(json, depth: 0, shape: &shape, values: &values, key: key, whole: json)
            return .constant(Tensor(shape: shape, values: values))
        }
    }

    /// Appends the numbers of a constant (row-major) to `values`, fixing `shape` from the first row at each depth
    /// and requiring every later row to have it.
    private func read(
        _ json: JSONValue, depth: Int, shape: inout [Int], values: inout [Float], key: String,
        whole: JSONValue
    ) throws {
        let expected = "a finite float32 number or a rectangular list of them"
        switch json {
        case .number(let number):
            guard depth == shape.count, Float(number).isFinite else { throw invalid(key, whole, expected) }
            guard values.count < Allocation.perSample else {
                throw invalid(key, whole, "at most \(Allocation.perSample) numbers")
            }
            values.append(Float(number))
        case .array(let items):
            guard depth < Self.largestRank else { throw invalid(key, whole, expected) }
            if depth == shape.count, values.isEmpty { shape.append(items.count) }
            guard depth < shape.count, shape[depth] == items.count else { throw invalid(key, whole, expected) }
            for item in items {
                try read(item, depth: depth + 1, shape: &shape, values: &values, key: key, whole: whole)
            }
        default:
            throw invalid(key, whole, expected)
        }
    }
}
