import Numerics
import Synchronization

/// The most samples a model is run with at once: unbounded until a layer's output for a batch would pass
/// `Allocation.perBatch`, then the part size that fitted, kept for the later batches of the run.
final class PartSize: Sendable {
    private let limit = Mutex(Int.max)

    /// The current limit.
    var value: Int { limit.withLock { $0 } }

    /// Lowers the limit to `size` (never raises it).
    func lower(to size: Int) { limit.withLock { $0 = min($0, size) } }
}

extension Graph {
    /// The model's outputs for `values` (one tensor per input, samples first), run whole or, when a layer's
    /// output for the whole batch would pass `Allocation.perBatch`, in consecutive parts of fewer samples (halved
    /// until they fit; `size` keeps what fitted for later batches). A sample's outputs do not depend on the
    /// parts it is run in.
    /// - Throws: `InferenceError`; a data fault's sample is counted in `values`.
    func run(inParts values: [Tensor], size: PartSize) throws -> [Tensor] {
        let samples = values.first?.shape.first ?? 0
        guard samples > 0 else { return try run(values) }
        var results: [[Tensor]] = []
        var start = 0
        while start < samples {
            let count = min(size.value, samples - start)
            let part = count == samples ? values : values.map { $0.samples(start..<(start + count)) }
            do {
                results.append(try run(part))
                start += count
            } catch let error as InferenceError where error.code == .batchTooLarge && count > 1 {
                size.lower(to: count / 2)
            } catch var error as InferenceError where error.dataFault != nil {
                error.dataFault?.sample += start
                throw error
            }
        }
        guard results.count > 1, let first = results.first else { return results.first ?? [] }
        return first.indices.map { output in Tensor(joining: results.map { $0[output] }) }
    }
}

extension Tensor {
    /// Samples `range` of a tensor whose first axis is the samples.
    func samples(_ range: Range<Int>) -> Tensor {
        let width = shape.dropFirst().reduce(1, *)
        return Tensor(
            shape: [range.count] + shape.dropFirst(),
            values: Array(values[(range.lowerBound * width)..<(range.upperBound * width)]))
    }

    /// Tensors of one sample shape joined along the samples' axis.
    init(joining parts: [Tensor]) {
        let sample = Array(parts.first?.shape.dropFirst() ?? [])
        var values: [Float] = []
        values.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for part in parts { values += part.values }
        self.init(shape: [parts.reduce(0) { $0 + ($1.shape.first ?? 0) }] + sample, values: values)
    }
}
