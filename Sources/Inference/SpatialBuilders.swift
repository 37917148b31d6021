import KerasFormat
import Numerics

/// Layers over spatial axes: padding, cropping, up-sampling, `Permute`, `RepeatVector` and pooling.
extension GraphBuilder {
    /// The layers that move values without arithmetic: padding, cropping, up-sampling, `Permute`,
    /// `RepeatVector`.
    func rearrangement(_ layer: LayerConfig, _ name: String) throws -> RearrangeLayer {
        switch layer.className {
        case "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D":
            try requireChannelsLast(layer, name)
            let rank = Int(String(layer.className.dropLast().last ?? "1")) ?? 1
            let padding = layer.className.hasPrefix("Zero")
            guard let (before, after) = pairs(layer.config[padding ? "padding" : "cropping"], rank: rank) else {
                throw unsupported(layer, name, "amounts it cannot read")
            }
            return RearrangeLayer(
                name: name, kind: padding ? .pad(before: before, after: after) : .crop(before: before, after: after))
        case "UpSampling1D", "UpSampling2D", "UpSampling3D":
            try requireChannelsLast(layer, name)
            if let method = layer.config["interpolation"]?.string, method != "nearest" {
                throw unsupported(layer, name, "\(method) interpolation (only nearest)")
            }
            let rank = Int(String(layer.className.dropLast().last ?? "1")) ?? 1
            guard let factors = integers(layer, "size", rank: rank) ?? integers(layer, "length", rank: rank) else {
                throw unsupported(layer, name, "a size it cannot read")
            }
            return RearrangeLayer(name: name, kind: .upsample(factors))
        case "Permute":
            return RearrangeLayer(
                name: name, kind: .permute(try dimensions(layer, name, "dims", in: 1...Self.largestWindow)))
        case "RepeatVector":
            return RearrangeLayer(
                name: name, kind: .repeatVector(try whole(layer, name, "n", in: 0...Self.largestSize)))
        default:
            throw InferenceError(.unsupportedLayer, layer: name, "layer \(name) is a \(layer.className)")
        }
    }

    /// Before-and-after amounts per spatial axis from `3`, `[1, 2]` (1-D: before, after) or `[[1, 2], [3, 4]]`.
    func pairs(_ value: JSONValue?, rank: Int) -> (before: [Int], after: [Int])? {
        func amount(_ item: JSONValue) -> Int? {
            item.integer.flatMap { (0...Self.largestWindow).contains($0) ? $0 : nil }
        }
        switch value {
        case let item? where item.number != nil:
            return amount(item).map { ([Int](repeating: $0, count: rank), [Int](repeating: $0, count: rank)) }
        case .array(let items)?:
            if rank == 1, items.count == 2, let a = amount(items[0]), let b = amount(items[1]) { return ([a], [b]) }
            guard items.count == rank else { return nil }
            var before: [Int] = [], after: [Int] = []
            for item in items {
                if let n = amount(item) {
                    before.append(n)
                    after.append(n)
                } else if let pair = item.array, pair.count == 2, let a = amount(pair[0]), let b = amount(pair[1]) {
                    before.append(a)
                    after.append(b)
                } else {
                    return nil
                }
            }
            return (before, after)
        default: return nil
        }
    }

    /// Refuses a `data_format` other than `channels_last` and `channels_first` (which `channelsOrdered`
    /// turns into channels last).
    func requireChannelsLast(_ layer: LayerConfig, _ name: String) throws {
        if let format = layer.config["data_format"]?.string, format != "channels_last", format != "channels_first" {
            throw unsupported(layer, name, "data_format \(format) (only channels_last and channels_first)")
        }
    }

    func padding(_ layer: LayerConfig, _ name: String) throws -> SpatialWindow.Padding {
        let text = layer.config["padding"]?.string ?? "valid"
        guard let padding = SpatialWindow.Padding(rawValue: text) else {
            throw unsupported(layer, name, "padding \(text)")
        }
        return padding
    }

    func pooling(_ layer: LayerConfig, _ name: String) throws -> PoolingLayer {
        try requireChannelsLast(layer, name)
        let rank = Int(String(layer.className.dropLast().last ?? "2")) ?? 2
        guard let window = integers(layer, "pool_size", rank: rank) else {
            throw unsupported(layer, name, "a pool size it cannot read")
        }
        let strides = integers(layer, "strides", rank: rank, default: window) ?? window
        return PoolingLayer(
            name: name, average: layer.className.contains("Av"), window: window, strides: strides,
            padding: try padding(layer, name), threads: blas.threads)
    }
}
