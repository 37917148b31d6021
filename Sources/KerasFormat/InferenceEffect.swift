/// What a layer without a kernel does to the values passing through it at inference, as far as kprune
/// follows it.
public enum InferenceEffect: Sendable, Equatable {
    /// Passes values through unchanged: layers active only in training (`Dropout`, `GaussianNoise`, ...),
    /// `ActivityRegularization` and `Identity`.
    case none
    /// Keeps every value and changes only the shape: `Flatten`, `Reshape`.
    case reshape
    /// Averages over the positions of each channel: `GlobalAveragePooling1D/2D/3D`.
    case pool
    /// Applies the named activation: an `Activation` layer, a `Softmax` layer over the last axis, or a
    /// `ReLU` layer without a cap, slope or threshold.
    case activation(String)
    /// Anything else: kprune does not know what the layer does to values.
    case unknown

    /// Classes that are the identity at inference.
    static let identityClasses: Set<String> = [
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout", "GaussianNoise",
        "AlphaDropout", "ActivityRegularization", "Identity",
    ]

    /// The effect of a layer of `className` with `config`; `inboundNodes` tells whether it was called with
    /// `training=True`, which keeps dropout and noise active at inference.
    init(className: String, config: JSONValue, inboundNodes: JSONValue?) {
        func isNumber(_ value: JSONValue?, _ expected: Double, orAbsent: Bool) -> Bool {
            guard let value, value != .null else { return orAbsent }
            return value.number == expected
        }
        switch className {
        case _ where Self.identityClasses.contains(className):
            self = inboundNodes.map(Self.callsWithTraining) == true ? .unknown : .none
        case "Flatten", "Reshape":
            self = .reshape
        case "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalAvgPool1D",
            "GlobalAvgPool2D", "GlobalAvgPool3D":
            self = .pool
        case "Activation":
            self = config["activation"]?.string.map(InferenceEffect.activation) ?? .unknown
        case "Softmax":
            let axis = config["axis"]
            let lastAxis =
                axis == nil || isNumber(axis, -1, orAbsent: false)
                || axis?.array.map { $0.count == 1 && $0[0].number == -1 } == true
            self = lastAxis ? .activation("softmax") : .unknown
        case "ReLU":
            let plain =
                isNumber(config["max_value"], .infinity, orAbsent: true)
                && isNumber(config["negative_slope"], 0, orAbsent: true)
                && isNumber(config["threshold"], 0, orAbsent: true)
            self = plain ? .activation("relu") : .unknown
        default:
            self = .unknown
        }
    }

    /// Whether a layer's inbound nodes pass `training: true` (Keras 2 node kwargs, Keras 3 call kwargs).
    static func callsWithTraining(_ nodes: JSONValue) -> Bool {
        switch nodes {
        case .object(let members):
            if members["training"] == .bool(true) { return true }
            return members.values.contains(where: callsWithTraining)
        case .array(let items):
            return items.contains(where: callsWithTraining)
        default:
            return false
        }
    }
}
