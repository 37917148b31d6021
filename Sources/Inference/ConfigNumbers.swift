import KerasFormat

/// Numbers read from a layer's config, each checked where it is read: a crafted config (`1e300`, `NaN`,
/// `Infinity`, a negative count) is one error naming the layer, the key and the value, never a trap or an
/// allocation of what it claims.
extension GraphBuilder {
    /// Integers of a config entry that may be one number or a list (`kernel_size: 3` or `[3, 3]`), `rank` long.
    /// Window sizes, strides, dilations and factors must lie in `least...largestWindow` (`least` is 1 unless
    /// said otherwise); anything else (zero, a negative number, `1e300` in a crafted file) is not read.
    func integers(_ layer: LayerConfig, _ key: String, rank: Int, default value: [Int]? = nil, least: Int = 1) -> [Int]?
    {
        func size(_ item: JSONValue) -> Int? {
            item.integer.flatMap { (least...Self.largestWindow).contains($0) ? $0 : nil }
        }
        switch layer.config[key] {
        case let item? where item.number != nil: return size(item).map { [Int](repeating: $0, count: rank) }
        case .array(let items)?:
            let numbers = items.compactMap(size)
            return numbers.count == rank && items.count == rank ? numbers : nil
        default: return value
        }
    }

    /// The largest window, stride, dilation, factor, padding or cropping read from a config.
    static let largestWindow = 1 << 16
    /// The largest dimension or count read from a config.
    static let largestSize = 1 << 24

    /// The whole number `key` of the layer's config, in `range`; `fallback` when the config has none (or null).
    /// - Throws: `InferenceError` `.unsupportedConfig` naming the layer, the key, the value and the range.
    func whole(
        _ layer: LayerConfig, _ name: String, _ key: String, in range: ClosedRange<Int>,
        default fallback: Int? = nil
    ) throws -> Int {
        let value = layer.config[key]
        if value == nil || value == .null, let fallback { return fallback }
        guard let number = value?.integer, range.contains(number) else {
            throw invalid(layer, name, key, value, "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// The finite number `key` of the layer's config, in `range` when given; `fallback` when the config has none
    /// (or null).
    /// - Throws: `InferenceError` `.unsupportedConfig` naming the layer, the key and the value.
    func real(
        _ layer: LayerConfig, _ name: String, _ key: String, default fallback: Double,
        in range: ClosedRange<Double>? = nil
    ) throws -> Float {
        let value = layer.config[key]
        if value == nil || value == .null { return Float(fallback) }
        guard let number = value?.number, number.isFinite, Float(number).isFinite,
            range.map({ $0.contains(number) }) ?? true
        else {
            let expected = range.map { "a number from \($0.lowerBound) to \($0.upperBound)" } ?? "a finite number"
            throw invalid(layer, name, key, value, expected)
        }
        return Float(number)
    }

    /// Finite numbers, one or a list (`Normalization`'s `mean: [0.5, 1.5]`); nil when the config has none.
    /// - Throws: `InferenceError` `.unsupportedConfig` when one is not a finite number.
    func reals(_ layer: LayerConfig, _ name: String, _ key: String) throws -> [Float]? {
        let value = layer.config[key]
        if value == nil || value == .null { return nil }
        let items = value?.array ?? [value ?? .null]
        guard items.count <= Self.largestSize else {
            throw invalid(layer, name, key, value, "at most \(Self.largestSize) numbers")
        }
        return try items.map { item in
            guard let number = item.number, number.isFinite, Float(number).isFinite else {
                throw invalid(layer, name, key, value, "finite numbers")
            }
            return Float(number)
        }
    }

    /// A list of whole numbers in `range` (`Reshape`'s `target_shape`, `Permute`'s `dims`).
    /// - Throws: `InferenceError` `.unsupportedConfig` when the key is missing, not a list, or holds anything else.
    func dimensions(_ layer: LayerConfig, _ name: String, _ key: String, in range: ClosedRange<Int>) throws -> [Int] {
        let value = layer.config[key]
        let expected = "a list of whole numbers from \(range.lowerBound) to \(range.upperBound)"
        guard let items = value?.array, items.count <= 64 else { throw invalid(layer, name, key, value, expected) }
        return try items.map { item in
            guard let number = item.integer, range.contains(number) else {
                throw invalid(layer, name, key, value, expected)
            }
            return number
        }
    }

    /// The error for a config value out of what it may be: `layer conv (Conv2D) has groups 1e+300; it must be a
    /// whole number from 1 to 65536`.
    func invalid(_ layer: LayerConfig, _ name: String, _ key: String, _ value: JSONValue?, _ expected: String)
        -> InferenceError
    {
        InferenceError(
            .unsupportedConfig, layer: name,
            "layer \(name) (\(layer.className)) has \(key) \(value ?? .null); it must be \(expected)")
    }
}

extension GraphBuilder {
    /// Refuses a weight whose size disagrees with the size the config gives for it (`units`, `filters`):
    /// the weights, not a guess, decide what the layer computes, and they must be what Keras built.
    func requireConfigured(_ layer: LayerConfig, _ name: String, _ key: String, _ size: Int, _ shape: [Int]) throws {
        guard let value = layer.config[key], value != .null else { return }
        guard value.integer == size else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) (\(layer.className)) has \(key) \(value), but its kernel has shape \(shape)")
        }
    }

    /// Refuses a layer whose stored weights disagree with `use_bias`, or whose bias is not `count` long.
    func requireBias(
        _ layer: LayerConfig, _ name: String, _ stored: [(shape: [Int], values: [Float])], count: Int,
        index: Int = 1
    ) throws {
        let useBias = layer.config["use_bias"] != .bool(false)
        guard stored.count <= index + 1 else {
            throw InferenceError(
                .unsupportedConfig, layer: name,
                "layer \(name) (\(layer.className)) has \(stored.count) weights; kprune's forward pass runs it "
                    + "with \(index + 1) at most")
        }
        if stored.count > index {
            guard useBias, stored[index].shape == [count] else {
                throw InferenceError(
                    .shapeMismatch, layer: name,
                    "layer \(name) (\(layer.className)) has a bias of shape \(stored[index].shape) for "
                        + "\(count) outputs\(useBias ? "" : ", and its config says use_bias false")")
            }
        } else if useBias && layer.config["use_bias"] != nil {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) (\(layer.className)) has no bias, but its config says use_bias true")
        }
    }
}
