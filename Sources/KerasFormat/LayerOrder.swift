/// In which order a file lists its layers.
public enum LayerOrder: String, Sendable {
    /// The model's forward order, from its config.
    case forward
    /// The order of the file's `layer_names` attribute: the model's layer order, without the graph.
    case layerNames = "layer_names"
    /// The order of the groups in the file (by name), which need not be the model's order.
    case file
}
