import KerasFormat

/// The layers tf_keras records for TensorFlow functions called on Keras tensors in a functional model
/// (`tf.math.reduce_max(x, axis=1)`, `x + y`, `x[:, 1:3]`): a `TFOpLambda` or `SlicingOpLambda` whose
/// config's `function` names the TensorFlow symbol without its `tf.` (`math.reduce_max`,
/// `__operators__.getitem`), and whose inbound nodes carry the call's other arguments and constants
/// (`["x", 0, 0, {"axis": 1}]`, `{"y": 2.0}`; see `CallArguments`).
///
/// Each call is built from its own arguments. The functions run are the reductions, `concat`, `stack`,
/// `reshape`, `transpose`, `expand_dims`, `squeeze`, `cast` to float32, `identity`, element-wise arithmetic,
/// powers, comparisons and a few functions of one value, and slicing; any other is refused by name, and so is
/// an argument that would reach the samples' axis, which kprune's batches split.
extension GraphBuilder {
    /// The classes of the layers tf_keras records for TensorFlow functions.
    static let operationClasses: Set<String> = ["TFOpLambda", "SlicingOpLambda"]

    /// The reductions, by the names tf_keras records (the canonical `math.` name) and their aliases.
    static let reductions: [String: ReductionLayer.Kind] = [
        "math.reduce_sum": .sum, "reduce_sum": .sum, "math.reduce_mean": .mean, "reduce_mean": .mean,
        "math.reduce_prod": .product, "reduce_prod": .product, "math.reduce_max": .maximum, "reduce_max": .maximum,
        "math.reduce_min": .minimum, "reduce_min": .minimum,
    ]

    /// The element-wise functions of one value.
    static let unaryFunctions: [String: UnaryFunction] = [
        "math.negative": .negative, "math.abs": .absolute, "math.square": .square, "math.sqrt": .squareRoot,
        "math.exp": .exponential, "math.log": .logarithm,
    ]

    /// The element-wise functions of two values (`x` first, `y` by keyword); `x + y` is `__operators__.add`,
    /// `x - y` `math.subtract`, `x * y` `math.multiply`, `x / y` `math.truediv`, `x ** y` `math.pow`,
    /// `x > y` `math.greater`.
    static let binaryFunctions: [String: BinaryFunction] = [
        "__operators__.add": .add, "math.add": .add, "math.subtract": .subtract, "math.multiply": .multiply,
        "math.truediv": .divide, "math.divide": .divide, "math.maximum": .maximum, "math.minimum": .minimum,
        "math.pow": .power, "math.greater": .greater, "math.greater_equal": .greaterEqual, "math.less": .less,
        "math.less_equal": .lessEqual, "math.equal": .equal, "math.not_equal": .notEqual,
    ]

    /// The refusal of an operation kprune's forward pass does not run, naming the TensorFlow function.
    static func unsupportedOperation(_ layer: LayerConfig, _ name: String) -> InferenceError {
        let function = layer.config["function"]?.string.map { "tf." + $0 } ?? "an unnamed TensorFlow function"
        return OperationLabel(layer: name, className: layer.className, function: function).unsupported()
    }

    /// The graph nodes of a TensorFlow function's layer: one per call, each running the function with that
    /// call's arguments (rounded to float16 when the layer computes in it).
    func operationNodes(_ layer: LayerConfig, calls: [LayerCall], prefix: [String]) throws -> [Graph.Node] {
        let name = (prefix + [layer.name]).joined(separator: "/")
        let masks = maskRule(layer)
        return try calls.enumerated().map { index, call in
            let operation = try self.operation(layer, call, name)
            let forward: any ForwardLayer =
                Self.computesInHalf(layer.config) ? HalfPrecision(inner: operation) : operation
            return Graph.Node(
                name: layer.name, className: layer.className, call: index, inbound: call.inputs,
                layer: forward, masks: masks, recordedMask: call.mask.map { $0 != nil })
        }
    }

    /// The forward layer of one call of a TensorFlow function's layer.
    /// - Throws: `InferenceError` `.unsupportedLayer` for a function the forward pass does not run,
    ///   `.unsupportedConfig` for an argument it does not run or a value out of range.
    func operation(_ layer: LayerConfig, _ call: LayerCall, _ name: String) throws -> any ForwardLayer {
        guard let function = layer.config["function"]?.string else { throw Self.unsupportedOperation(layer, name) }
        let label = OperationLabel(layer: name, className: layer.className, function: "tf." + function)
        let operation = OperationCall(
            label: label, function: function,
            arguments: call.arguments ?? CallArguments(first: .input(0)))
        if layer.className == "SlicingOpLambda" {
            guard function == "__operators__.getitem" else { throw Self.unsupportedOperation(layer, name) }
            return try slice(operation)
        }
        if let kind = Self.reductions[function] {
            try operation.requireOnly(["axis", "keepdims"])
            _ = try operation.tensorArgument()
            guard let axes = try operation.axes() else {
                throw operation.refusal("axis null (every axis, the samples' included)")
            }
            return ReductionLayer(
                label: label, kind: kind, axes: axes,
                keepDimensions: try operation.flag("keepdims", default: false))
        }
        if let unary = Self.unaryFunctions[function] {
            try operation.requireOnly([])
            return ElementwiseLayer(
                label: label, function: .unary(unary), operands: [.input(try operation.tensorArgument())])
        }
        if let binary = Self.binaryFunctions[function] {
            try operation.requireOnly(["y"])
            guard let y = operation.arguments.keywords["y"] else { throw operation.refusal("no y") }
            let operands = [try operation.operand(operation.arguments.first, "x"), try operation.operand(y, "y")]
            guard operands.contains(where: { if case .input = $0 { true } else { false } }) else {
                throw operation.refusal("constants only")
            }
            return ElementwiseLayer(label: label, function: .binary(binary), operands: operands)
        }
        return try rearrangement(operation, inputCount: call.inputs.count)
    }

    /// The functions that move values without arithmetic: `concat`, `stack`, `reshape`, `transpose`,
    /// `expand_dims`, `squeeze`, `cast` to float32, `identity`.
    private func rearrangement(_ operation: OperationCall, inputCount: Int) throws -> any ForwardLayer {
        let label = operation.label
        switch operation.function {
        case "concat", "stack":
            try operation.requireOnly(["axis"])
            guard try operation.tensorList() == Array(0..<inputCount) else {
                throw operation.refusal("values that are not its inputs in order")
            }
            if operation.function == "stack", operation.arguments.keywords["axis"] == nil {
                throw operation.refusal("axis 0 (its default, the samples' axis)")
            }
            let axis = try operation.axis()
            if operation.function == "stack" { return ShapeOperationLayer(label: label, kind: .stack(axis)) }
            return MergeLayer(name: label.layer, operation: .concatenate, axis: axis)
        case "reshape":
            try operation.requireOnly(["shape"])
            _ = try operation.tensorArgument()
            guard let value = try operation.constant("shape") else { throw operation.refusal("shape null") }
            guard let items = value.array, !items.isEmpty, items.count <= OperationCall.largestRank else {
                throw operation.invalid("shape", value, "a list of at most \(OperationCall.largestRank) dimensions")
            }
            guard items[0] == .number(-1) else {
                throw operation.refusal("shape \(value), whose first dimension is not -1 (the samples')")
            }
            let target = try items.dropFirst().map { try operation.whole("shape", $0, in: 0...Self.largestSize) }
            return ReshapeLayer(name: label.layer, target: Array(target))
        case "transpose", "compat.v1.transpose":
            try operation.requireOnly(["perm"], defaults: ["conjugate": .bool(false)])
            _ = try operation.tensorArgument()
            guard let value = try operation.constant("perm") else {
                throw operation.refusal("perm null (every axis reversed, the samples' moved)")
            }
            guard let items = value.array, items.count <= OperationCall.largestRank else {
                throw operation.invalid("perm", value, "a list of axes")
            }
            let perm = try items.map { try operation.whole("perm", $0, in: 0...OperationCall.largestRank) }
            guard perm.first == 0 else { throw operation.refusal("perm \(value) (the samples' axis moved)") }
            return RearrangeLayer(name: label.layer, kind: .permute(Array(perm.dropFirst())))
        case "expand_dims":
            try operation.requireOnly(["axis"])
            _ = try operation.tensorArgument()
            return ShapeOperationLayer(label: label, kind: .expand(try operation.axis()))
        case "squeeze", "compat.v1.squeeze":
            try operation.requireOnly(["axis"])
            _ = try operation.tensorArgument()
            guard let axes = try operation.axes(), !axes.isEmpty else {
                throw operation.refusal("axis null (every axis of size 1, the samples' included)")
            }
            return ShapeOperationLayer(label: label, kind: .squeeze(axes))
        case "cast":
            try operation.requireOnly(["dtype"])
            _ = try operation.tensorArgument()
            let dtype = try operation.constant("dtype") ?? .null
            guard dtype == .string("float32") else {
                throw operation.refusal("dtype \(dtype), which kprune's forward pass does not run (only float32)")
            }
            return Identity(name: label.layer)
        case "identity":
            try operation.requireOnly([])
            _ = try operation.tensorArgument()
            return Identity(name: label.layer)
        default:
            throw label.unsupported()
        }
    }
}
