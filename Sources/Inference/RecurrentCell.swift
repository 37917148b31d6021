import Numerics

/// One step of Keras's recurrent cells, forward only: `LSTM`, `GRU` (reset gate after or before the recurrent
/// product) and `SimpleRNN`.
///
/// Weights are in Keras's layout: the kernel is features × gates·units and the recurrent kernel units ×
/// gates·units, gate blocks side by side in Keras's order (LSTM input, forget, cell, output; GRU update, reset,
/// candidate). The input's product with the kernel is done for all steps at once by the caller; `step` adds the
/// recurrent part.
struct RecurrentCell {
    enum Kind: Equatable {
        case lstm
        /// `resetAfter`: the reset gate scales the recurrent product (Keras 3 and TF2's default, a 2 × 3·units
        /// bias); otherwise it scales the state before the product (a 3·units bias).
        case gru(resetAfter: Bool)
        case simple
    }

    let kind: Kind
    let units: Int
    /// features × gates·units.
    let kernel: Tensor
    /// units × the gate columns the recurrent product feeds: all of them, except for a GRU with the reset gate
    /// before, where it holds update and reset only.
    let recurrentKernel: Tensor
    /// units × units: a GRU's candidate recurrent kernel when the reset gate comes before the product.
    let candidateKernel: Tensor?
    /// gates·units, added to the input's product (zeros without a bias).
    let inputBias: [Float]
    /// Added to the recurrent product (a GRU's second bias row with the reset gate after; else empty).
    let recurrentBias: [Float]
    let activation: ForwardActivation
    let recurrentActivation: ForwardActivation

    /// The gate blocks of each kind: 4 for LSTM, 3 for GRU, 1 for SimpleRNN.
    static func gates(_ kind: Kind) -> Int {
        switch kind {
        case .lstm: 4
        case .gru: 3
        case .simple: 1
        }
    }

    /// The states the cell carries: h and c for an LSTM, h otherwise.
    var stateCount: Int { kind == .lstm ? 2 : 1 }

    /// The next states (h first) from `projected`, the step's input times the kernel plus bias (batch ×
    /// gates·units), and `states`, each batch × units.
    func step(_ projected: Tensor, _ states: [Tensor], blas: BLAS) -> [Tensor] {
        let batch = projected.rows
        let h = states[0]
        var recurrent = Tensor(zeros: batch, recurrentKernel.columns)
        blas.gemm(h, recurrentKernel, into: &recurrent)
        if !recurrentBias.isEmpty {
            for i in recurrent.values.indices { recurrent.values[i] += recurrentBias[i % recurrentBias.count] }
        }
        switch kind {
        case .simple:
            return [
                Tensor(rows: batch, columns: units, values: apply(activation, sum(projected.values, recurrent.values)))
            ]
        case .lstm:
            return lstmStep(sum(projected.values, recurrent.values), c: states[1].values, batch: batch)
        case .gru(let resetAfter):
            return [gruStep(projected, recurrent, h: h, resetAfter: resetAfter, blas: blas)]
        }
    }

    private func lstmStep(_ z: [Float], c previous: [Float], batch: Int) -> [Tensor] {
        let input = apply(recurrentActivation, gate(z, 0, batch)),
            forget = apply(recurrentActivation, gate(z, 1, batch))
        let candidate = apply(activation, gate(z, 2, batch)), output = apply(recurrentActivation, gate(z, 3, batch))
        var c = [Float](repeating: 0, count: previous.count)
        for i in c.indices { c[i] = forget[i] * previous[i] + input[i] * candidate[i] }
        var h = apply(activation, c)
        for i in h.indices { h[i] *= output[i] }
        return [Tensor(rows: batch, columns: units, values: h), Tensor(rows: batch, columns: units, values: c)]
    }

    private func gruStep(_ projected: Tensor, _ recurrent: Tensor, h: Tensor, resetAfter: Bool, blas: BLAS) -> Tensor {
        let x = projected.values, r = recurrent.values, batch = projected.rows
        let update = apply(recurrentActivation, sum(gate(x, 0, batch), gate(r, 0, batch)))
        let reset = apply(recurrentActivation, sum(gate(x, 1, batch), gate(r, 1, batch)))
        var candidate = gate(x, 2, batch)
        if resetAfter {
            let recurrentCandidate = gate(r, 2, batch)
            for i in candidate.indices { candidate[i] += reset[i] * recurrentCandidate[i] }
        } else if let candidateKernel {
            var scaled = h
            for i in scaled.values.indices { scaled.values[i] *= reset[i] }
            var product = Tensor(zeros: batch, units)
            blas.gemm(scaled, candidateKernel, into: &product)
            candidate = sum(candidate, product.values)
        }
        candidate = apply(activation, candidate)
        var next = h.values
        for i in next.indices { next[i] = update[i] * h.values[i] + (1 - update[i]) * candidate[i] }
        return Tensor(rows: batch, columns: units, values: next)
    }

    /// Gate block `index` of a `batch` × gates·units matrix: batch × units.
    private func gate(_ matrix: [Float], _ index: Int, _ batch: Int) -> [Float] {
        let columns = batch == 0 ? 0 : matrix.count / batch
        var block = [Float]()
        block.reserveCapacity(batch * units)
        for row in 0..<batch {
            let start = row * columns + index * units
            block += matrix[start..<(start + units)]
        }
        return block
    }

    /// The activation applied to a batch × units block.
    private func apply(_ activation: ForwardActivation, _ values: [Float]) -> [Float] {
        var result = values
        activation.apply(&result, lastAxis: units)
        return result
    }

    /// The element-wise sum.
    private func sum(_ a: [Float], _ b: [Float]) -> [Float] {
        var result = a
        for i in result.indices { result[i] += b[i] }
        return result
    }
}
