/// A layer as a Keras model config describes it.
public struct LayerConfig: Sendable, Equatable {
    /// The layer's name (`config.name`, or the top-level `name` of older files).
    public var name: String
    /// The Keras class, e.g. `Dense`, `Conv2D`, `Sequential`.
    public var className: String
    /// For a wrapper (`TimeDistributed`, `Bidirectional`), the class of the layer it wraps.
    public var wrappedClassName: String? = nil
    /// The activation named in the config (`softmax`, `linear`), when it is a plain name.
    public var activation: String?
    /// For a nested model, its own config.
    public var model: ModelConfig?
    /// Names of the layers whose outputs feed this one (functional models only).
    public var inboundLayers: [String]
    /// Each call of the layer, in the config's order (a shared layer has several; functional models only).
    public var inboundNodes: [LayerCall] = []
    /// What the layer does to values at inference, for the layers kprune can follow without weights.
    public var effect: InferenceEffect
    /// The layer's whole `config` object as the file stores it (`units`, `kernel_size`, `strides`, `padding`,
    /// `use_bias`, ...), in Keras' own keys and values; `.null` when the entry has none.
    ///
    /// It is the value parsed once from the model config, not a copy re-read from the text. Values keep
    /// Python's JSON: tuples are arrays (`"kernel_size": [3, 3]`), non-finite floats are numbers
    /// (`"max_value": Infinity`). For a nested model, it is the model's config, layer list included.
    public let config: JSONValue

    /// For a wrapper (`TimeDistributed`, `Bidirectional`), the layer it wraps (`config.layer`), renamed
    /// `name` (the wrapper's, whose weights it owns); nil when there is none or it is not a layer entry.
    public func wrappedLayer(key: String = "layer", named name: String) -> LayerConfig? {
        guard let entry = config[key], entry["class_name"] != nil else { return nil }
        do {
            var inner = try ModelConfig.parseLayer(entry, depth: 1)
            inner.name = name
            return inner
        } catch {
            return nil
        }
    }

    /// Whether this layer is a model used as a layer.
    public var isModel: Bool { model != nil }
}
