import Numerics

/// `LSTM`, `GRU` and `SimpleRNN` over a batch of sequences (samples × steps × features), as Keras runs them:
/// zero initial states, the steps in order or (`goBackwards`) from the last, and the steps a time-step mask
/// leaves out skipped: the states carry over unchanged and the output there is the carried state, or zeros
/// with `zeroOutputForMask` (which `Bidirectional` sets for sequences).
///
/// Outputs: the last output, or with `returnSequences` every step's (in the order the steps were run, so
/// reversed with `goBackwards`, as Keras returns them), carrying the input's mask; with `returnState` then the
/// final states (h, and c for an LSTM).
struct RecurrentLayer: MaskingLayer {
    let name: String
    let cell: RecurrentCell
    let returnSequences: Bool
    let returnState: Bool
    let goBackwards: Bool
    let zeroOutputForMask: Bool
    let blas: BLAS

    func forward(masked inputs: [MaskedTensor]) throws -> [MaskedTensor] {
        guard inputs.count == 1, let input = inputs.first else {
            throw InferenceError(
                .unsupportedConfig, layer: name,
                "layer \(name) takes \(inputs.count) inputs; kprune runs recurrent layers on one (no initial state)")
        }
        let result = try run(input.tensor, mask: input.mask)
        var outputs = [MaskedTensor(result.output, mask: returnSequences ? input.mask : nil)]
        if returnState { outputs += result.states.map { MaskedTensor($0) } }
        return outputs
    }

    /// The layer's output (every step's, or the last) and its final states, for `input` with its mask.
    func run(_ input: Tensor, mask: TimeMask?) throws -> (output: Tensor, states: [Tensor]) {
        guard input.rank == 3, input.shape[2] == cell.kernel.rows else {
            throw InferenceError(
                .shapeMismatch, layer: name,
                "layer \(name) takes samples × steps × \(cell.kernel.rows) features, not shape \(input.shape)")
        }
        try mask?.requireFits(input, name)
        let (batch, steps, units) = (input.shape[0], input.shape[1], cell.units)
        // The projected inputs and every step's output are counted before either is allocated.
        _ = try Allocation.count([batch, steps, cell.kernel.columns], layer: name)
        _ = try Allocation.count([batch, steps, units], layer: name)
        let projected = project(input)
        var states = [Tensor](repeating: Tensor(zeros: batch, units), count: cell.stateCount)
        var sequence = [Float](repeating: 0, count: returnSequences ? batch * steps * units : 0)
        var last = Tensor(zeros: batch, units)
        for position in 0..<steps {
            let step = goBackwards ? steps - 1 - position : position
            var next = cell.step(rows(of: projected, step: step, steps: steps, batch: batch), states, blas: blas)
            var output = next[0].values
            if let mask {
                keepMasked(mask, step: step, previous: states, next: &next, output: &output)
            }
            states = next
            last = Tensor(rows: batch, columns: units, values: output)
            guard returnSequences else { continue }
            for sample in 0..<batch {
                let target = (sample * steps + position) * units
                let source = (sample * units)..<((sample + 1) * units)
                sequence.replaceSubrange(target..<(target + units), with: output[source])
            }
        }
        let output = returnSequences ? Tensor(shape: [batch, steps, units], values: sequence) : last
        return (output, states)
    }

    /// Every step's input times the kernel plus the input bias, in one product: (samples·steps) × gates·units.
    private func project(_ input: Tensor) -> Tensor {
        let rows = input.shape[0] * input.shape[1]
        var projected = Tensor(zeros: rows, cell.kernel.columns)
        blas.dense(input.reshaped([rows, input.shape[2]]), cell.kernel, cell.inputBias, .linear, into: &projected)
        return projected
    }

    /// The projected inputs of one step, one row per sample.
    private func rows(of projected: Tensor, step: Int, steps: Int, batch: Int) -> Tensor {
        let width = projected.columns
        var values = [Float]()
        values.reserveCapacity(batch * width)
        for sample in 0..<batch {
            let start = (sample * steps + step) * width
            values += projected.values[start..<(start + width)]
        }
        return Tensor(rows: batch, columns: width, values: values)
    }

    /// For the samples whose step `step` the mask leaves out: the previous states kept, and the output the
    /// carried state (or zeros).
    private func keepMasked(
        _ mask: TimeMask, step: Int, previous: [Tensor], next: inout [Tensor], output: inout [Float]
    ) {
        let units = cell.units
        for sample in 0..<mask.batch where !mask[sample, step] {
            let range = (sample * units)..<((sample + 1) * units)
            for state in next.indices {
                next[state].values.replaceSubrange(range, with: previous[state].values[range])
            }
            if zeroOutputForMask {
                output.replaceSubrange(range, with: repeatElement(0, count: units))
            } else {
                output.replaceSubrange(range, with: previous[0].values[range])
            }
        }
    }
}
