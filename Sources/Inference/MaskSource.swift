import Numerics

/// `Embedding(mask_zero=True)`: the embedding of integer ids, and a mask leaving out the steps whose id is 0.
struct ZeroIdMaskLayer: MaskingLayer {
    let embedding: EmbeddingLayer

    func forward(masked inputs: [MaskedTensor]) throws -> [MaskedTensor] {
        let ids = try single(inputs.map(\.tensor), embedding.name)
        guard ids.rank == 2 else {
            throw InferenceError(
                .unsupportedConfig, layer: embedding.name,
                "layer \(embedding.name) (Embedding) masks ids of shape \(ids.shape); kprune masks samples × steps only"
            )
        }
        let mask = TimeMask(batch: ids.shape[0], steps: ids.shape[1], values: ids.values.map { $0 != 0 })
        return [MaskedTensor(try embedding.forward([ids]), mask: mask)]
    }
}

/// `Masking`: leaves out the steps whose features all equal `value`, and sets them to zero.
struct ValueMaskLayer: MaskingLayer {
    let name: String
    let value: Float

    func forward(masked inputs: [MaskedTensor]) throws -> [MaskedTensor] {
        let input = try single(inputs.map(\.tensor), name)
        guard input.rank == 3 else {
            throw InferenceError(
                .unsupportedConfig, layer: name,
                "layer \(name) (Masking) takes samples × steps × features; kprune does not mask shape \(input.shape)")
        }
        let (batch, steps, width) = (input.shape[0], input.shape[1], input.shape[2])
        var values = input.values
        var flags = [Bool](repeating: false, count: batch * steps)
        for row in 0..<(batch * steps) {
            let range = (row * width)..<((row + 1) * width)
            flags[row] = values[range].contains { $0 != value }
            if !flags[row] { values.replaceSubrange(range, with: repeatElement(0, count: width)) }
        }
        return [
            MaskedTensor(
                Tensor(shape: input.shape, values: values),
                mask: TimeMask(batch: batch, steps: steps, values: flags))
        ]
    }
}
