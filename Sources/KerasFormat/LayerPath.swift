/// A layer found by walking a model, named by its path of model names (outermost first) and its own name.
public struct LayerPath: Hashable, Sendable, CustomStringConvertible {
    /// Names of the nested models containing the layer, outermost first; empty for a top-level layer.
    public var models: [String]
    /// The layer's own name.
    public var name: String

    /// The layer `name` inside the nested models `models`, outermost first.
    public init(models: [String], name: String) {
        self.models = models
        self.name = name
    }

    /// `outer/inner/head` for a nested layer, `head` for a top-level one.
    public var description: String { (models + [name]).joined(separator: "/") }
}
