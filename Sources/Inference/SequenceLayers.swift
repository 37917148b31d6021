import KerasFormat
import Numerics

/// The recurrent layers, their wrappers and the layers that make time-step masks.
extension GraphBuilder {
    /// A weight as `weights(_:)` reads it.
    typealias StoredWeight = (shape: [Int], values: [Float])

    /// `LSTM`, `GRU`, `SimpleRNN`, `Bidirectional`, `TimeDistributed`, `Masking` and `Embedding` (with or without
    /// `mask_zero`).
    func sequenceLayer(_ layer: LayerConfig, _ name: String, prefix: [String]) throws -> any ForwardLayer {
        switch layer.className {
        case "Bidirectional": return try bidirectional(layer, name)
        case "TimeDistributed":
            guard let inner = layer.wrappedLayer(named: layer.name) else {
                throw unsupported(layer, name, "no wrapped layer")
            }
            if inner.className == "Masking" || inner.config["mask_zero"] == .bool(true) {
                throw unsupported(layer, name, "a wrapped layer that makes a mask (\(inner.className))")
            }
            return TimeDistributedLayer(
                name: name, inner: try self.layer(inner, prefix: prefix),
                innerMasks: maskRule(inner), innerClass: inner.className)
        case "Masking":
            return ValueMaskLayer(name: name, value: try real(layer, name, "mask_value", default: 0))
        case "Embedding":
            let stored = try weights(name)
            guard stored.count == 1, let table = stored.first, table.shape.count == 2,
                table.shape.allSatisfy({ $0 > 0 })
            else {
                throw InferenceError(
                    .shapeMismatch, layer: name,
                    "layer \(name) (Embedding) has no 2-D table (its weights have shapes \(stored.map(\.shape)))")
            }
            try requireConfigured(layer, name, "input_dim", table.shape[0], table.shape)
            try requireConfigured(layer, name, "output_dim", table.shape[1], table.shape)
            let embedding = EmbeddingLayer(name: name, table: Tensor(shape: table.shape, values: table.values))
            return layer.config["mask_zero"] == .bool(true) ? ZeroIdMaskLayer(embedding: embedding) : embedding
        default:
            var stored = try weights(name)[...]
            let recurrent = try recurrentLayer(layer, name, weights: &stored)
            try requireAllUsed(stored, layer, name)
            return recurrent
        }
    }

    /// `LSTM`, `GRU` or `SimpleRNN` from its config, taking its weights (kernel, recurrent kernel, bias) from the
    /// front of `stored`. `goBackwards` and `zeroOutputForMask` override the config's (for `Bidirectional`).
    func recurrentLayer(
        _ layer: LayerConfig, _ name: String, weights stored: inout ArraySlice<StoredWeight>,
        goBackwards: Bool? = nil, zeroOutputForMask: Bool? = nil
    ) throws -> RecurrentLayer {
        let config = layer.config
        let kind: RecurrentCell.Kind
        switch layer.className {
        case "LSTM": kind = .lstm
        // Keras before 2.1.3 had no reset_after and reset before; every later Keras writes the key.
        case "GRU": kind = .gru(resetAfter: config["reset_after"] == .bool(true))
        case "SimpleRNN": kind = .simple
        default:
            throw InferenceError(
                .unsupportedLayer, layer: name,
                "layer \(name) wraps a \(layer.className), which kprune's forward pass does not run")
        }
        for key in ["time_major", "stateful"] where config[key] == .bool(true) { throw unsupported(layer, name, key) }
        let flag = { (key: String) in config[key] == .bool(true) }
        return RecurrentLayer(
            name: name, cell: try cell(kind, layer, name, weights: &stored),
            returnSequences: flag("return_sequences"), returnState: flag("return_state"),
            goBackwards: goBackwards ?? flag("go_backwards"),
            zeroOutputForMask: zeroOutputForMask ?? flag("zero_output_for_mask"), blas: blas)
    }

    /// The cell's weights checked against its kind and units, and split as `RecurrentCell` holds them.
    private func cell(
        _ kind: RecurrentCell.Kind, _ layer: LayerConfig, _ name: String,
        weights stored: inout ArraySlice<StoredWeight>
    ) throws -> RecurrentCell {
        let gates = RecurrentCell.gates(kind)
        let useBias = layer.config["use_bias"] != .bool(false)
        guard let kernel = stored.popFirst(), let recurrent = stored.popFirst() else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) (\(layer.className)) lacks a kernel and recurrent kernel of \(gates) gates")
        }
        guard kernel.shape.count == 2, recurrent.shape.count == 2,
            (kernel.shape + recurrent.shape).allSatisfy({ $0 > 0 }),
            recurrent.shape[0] <= Self.largestSize, recurrent.shape[0] * gates == recurrent.shape[1],
            kernel.shape[1] == recurrent.shape[1]
        else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) (\(layer.className)) has a kernel of shape \(kernel.shape) and a recurrent kernel "
                    + "of shape \(recurrent.shape); they must be [inputs, \(gates) × units] and "
                    + "[units, \(gates) × units]")
        }
        let units = recurrent.shape[0], width = gates * units
        try requireConfigured(layer, name, "units", units, recurrent.shape)
        var inputBias = [Float](repeating: 0, count: width), recurrentBias: [Float] = []
        if useBias {
            guard let bias = stored.popFirst() else {
                throw InferenceError(.shapeMismatch, layer: name, "layer \(name) lacks its bias")
            }
            switch (kind, bias.shape) {
            case (.gru(resetAfter: true), [2, width]):
                inputBias = Array(bias.values[0..<width])
                recurrentBias = Array(bias.values[width...])
            case (.gru(resetAfter: false), [width]), (.lstm, [width]), (.simple, [width]): inputBias = bias.values
            default:
                throw InferenceError(
                    .shapeMismatch, layer: name, "layer \(name)'s bias has shape \(bias.shape) for \(units) units")
            }
        }
        let recurrentKernel = Tensor(shape: recurrent.shape, values: recurrent.values)
        let resetBefore = kind == .gru(resetAfter: false)
        return RecurrentCell(
            kind: kind, units: units, kernel: Tensor(shape: kernel.shape, values: kernel.values),
            recurrentKernel: resetBefore ? Self.columns(recurrentKernel, 0..<(2 * units)) : recurrentKernel,
            candidateKernel: resetBefore ? Self.columns(recurrentKernel, (2 * units)..<width) : nil,
            inputBias: inputBias, recurrentBias: recurrentBias,
            activation: try namedActivation(layer, name, "activation"),
            recurrentActivation: kind == .simple ? .linear : try namedActivation(layer, name, "recurrent_activation"))
    }

    /// `Bidirectional` over `LSTM`, `GRU` or `SimpleRNN`: the forward layer's weights first, then the backward's.
    private func bidirectional(_ layer: LayerConfig, _ name: String) throws -> BidirectionalLayer {
        guard let forwardConfig = layer.wrappedLayer(named: layer.name) else {
            throw unsupported(layer, name, "no wrapped layer")
        }
        let backwardConfig = layer.wrappedLayer(key: "backward_layer", named: layer.name)
        var merge: BidirectionalLayer.Merge? = .concat
        switch layer.config["merge_mode"] {
        case nil: break
        case .null?: merge = nil
        case let mode?:
            guard let known = mode.string.flatMap(BidirectionalLayer.Merge.init(rawValue:)) else {
                throw unsupported(layer, name, "merge_mode \(mode)")
            }
            merge = known
        }
        var stored = try weights(name)[...]
        let sequences = forwardConfig.config["return_sequences"] == .bool(true)
        let forward = try recurrentLayer(forwardConfig, name, weights: &stored, zeroOutputForMask: sequences)
        let backward = try recurrentLayer(
            backwardConfig ?? forwardConfig, name, weights: &stored,
            goBackwards: backwardConfig == nil ? !forward.goBackwards : nil,
            zeroOutputForMask: sequences)
        try requireAllUsed(stored, layer, name)
        return BidirectionalLayer(name: name, forwardLayer: forward, backwardLayer: backward, merge: merge)
    }

    /// Refuses a layer with weights left over: the config asks for fewer than the file holds.
    private func requireAllUsed(_ stored: ArraySlice<StoredWeight>, _ layer: LayerConfig, _ name: String) throws {
        guard stored.isEmpty else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) (\(layer.className)) has \(stored.count) more weights than its config uses")
        }
    }

    /// The activation a config names under `key`; refused when it is not a name the forward pass knows.
    private func namedActivation(_ layer: LayerConfig, _ name: String, _ key: String) throws -> ForwardActivation {
        guard let text = layer.config[key]?.string, let activation = ForwardActivation(keras: text, keras3: isKeras3)
        else {
            throw unsupported(layer, name, "the \(key) \(layer.config[key] ?? .null)")
        }
        return activation
    }

    /// Columns `range` of a matrix.
    static func columns(_ matrix: Tensor, _ range: Range<Int>) -> Tensor {
        var values = [Float]()
        values.reserveCapacity(matrix.rows * range.count)
        for row in 0..<matrix.rows {
            let start = row * matrix.columns
            values += matrix.values[(start + range.lowerBound)..<(start + range.upperBound)]
        }
        return Tensor(rows: matrix.rows, columns: range.count, values: values)
    }

    /// What a layer that does not handle masks itself does with a masked input, as Keras's layer of its class.
    func maskRule(_ layer: LayerConfig) -> MaskRule {
        let className = layer.className
        if Self.maskPassingClasses.contains(className) || Identity.classes.contains(className) { return .passes }
        if ["Rescaling", "Normalization"].contains(layer.className) { return isKeras3 ? .passes : .drops }
        if layer.model == nil, Self.maskDroppingClasses.contains(layer.className) { return .drops }
        return .refuses
    }

    /// Classes that support masks without using them: their output carries the input's mask.
    static let maskPassingClasses: Set<String> = [
        "Dense", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "LayerNormalization", "BatchNormalization",
    ]

    /// Classes that do not support masks: Keras computes them as if unmasked and their output has none.
    static let maskDroppingClasses: Set<String> = [
        "Flatten", "Reshape", "Permute", "RepeatVector", "EinsumDense", "Embedding",
        "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D",
        "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
        "SeparableConvolution2D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
        "AveragePooling2D", "AveragePooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D",
        "AvgPool3D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
        "GlobalMaxPooling3D", "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D",
        "GlobalMaxPool3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
        "UpSampling1D", "UpSampling2D", "UpSampling3D",
    ]
}
