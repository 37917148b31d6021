import KerasFormat
import Numerics

/// `x[...]` on a Keras tensor (`tf.__operators__.getitem`, a `SlicingOpLambda`): per axis a Python slice
/// `start:stop:step`, an integer index (the axis dropped), `None` (`tf.newaxis`, an axis of size 1 inserted),
/// or one Ellipsis standing for every axis the others leave out. The samples' axis is always taken whole.
///
/// A slice follows Python's `slice.indices`, as `tf.strided_slice` does: a negative start or stop counts from
/// the end, both are clamped to the axis, and a negative step walks backwards from the end. An index outside
/// the axis is refused, as TensorFlow refuses it.
struct SliceLayer: ForwardLayer {
    /// One element of the slice spec.
    enum Element: Equatable {
        case range(start: Int?, stop: Int?, step: Int)
        case index(Int)
        case newAxis
        case ellipsis
    }

    let label: OperationLabel
    /// The spec's elements in order; at most one ellipsis, and the first element takes the samples' axis whole
    /// (`:` or the ellipsis).
    let elements: [Element]

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        guard inputs.count == 1, let input = inputs.first else {
            throw label.mismatch("on \(inputs.count) tensors, not one")
        }
        let taking = elements.filter { $0 != .newAxis && $0 != .ellipsis }.count
        guard taking <= input.rank else {
            throw label.mismatch("with \(taking) indexes and slices for shape \(input.shape)")
        }
        let spec = expanded(rank: input.rank)
        guard let samples = spec.first, Self.takesWhole(samples) else {
            throw label.refusal(
                "the slice \(Self.written(elements)), which does not take the samples' axis of shape "
                    + "\(input.shape) whole")
        }
        // Per input axis: the first index read, the step, and how many are read.
        var reads: [(start: Int, step: Int, count: Int)] = []
        var shape: [Int] = []
        for element in spec {
            let axis = reads.count
            switch element {
            case .newAxis:
                shape.append(1)
            case .ellipsis:
                continue
            case .index(let index):
                let size = input.shape[axis]
                let resolved = index < 0 ? index + size : index
                guard resolved >= 0, resolved < size else {
                    throw label.mismatch("with index \(index) of axis \(axis), of size \(size) in shape \(input.shape)")
                }
                reads.append((resolved, 1, 1))
            case .range(let start, let stop, let step):
                let (first, count) = Self.indices(start, stop, step, size: input.shape[axis])
                reads.append((first, step, count))
                shape.append(count)
            }
        }
        let total = try Allocation.count(shape, layer: label.layer)
        var strides = [Int](repeating: 1, count: input.rank)
        for axis in input.shape.indices.dropLast().reversed() {
            strides[axis] = strides[axis + 1] * input.shape[axis + 1]
        }
        var values: [Float] = []
        values.reserveCapacity(total)
        guard total > 0 else { return Tensor(shape: shape, values: values) }
        var index = [Int](repeating: 0, count: reads.count)
        var offset = zip(reads, strides).reduce(0) { $0 + $1.0.start * $1.1 }
        for _ in 0..<total {
            values.append(input.values[offset])
            var axis = reads.count - 1
            while axis >= 0 {
                index[axis] += 1
                offset += reads[axis].step * strides[axis]
                if index[axis] < reads[axis].count { break }
                offset -= reads[axis].step * strides[axis] * reads[axis].count
                index[axis] = 0
                axis -= 1
            }
        }
        return Tensor(shape: shape, values: values)
    }

    /// A slice spec as Python writes it: `[:, 1:3]`, `[..., 0]`, `[:, None, ::-1]`.
    static func written(_ elements: [Element]) -> String {
        func text(_ element: Element) -> String {
            switch element {
            case .range(let start, let stop, let step):
                let bounds = (start.map(String.init) ?? "") + ":" + (stop.map(String.init) ?? "")
                return step == 1 ? bounds : bounds + ":\(step)"
            case .index(let index): return String(index)
            case .newAxis: return "None"
            case .ellipsis: return "..."
            }
        }
        return "[" + elements.map(text).joined(separator: ", ") + "]"
    }

    /// Whether an element takes its axis whole, in order (`:`, `0:`, `::1`).
    static func takesWhole(_ element: Element) -> Bool {
        guard case .range(let start, let stop, let step) = element else { return false }
        return (start ?? 0) == 0 && stop == nil && step == 1
    }

    /// The elements with the ellipsis (or, without one, the end of the spec) standing for whole slices of the
    /// axes the others leave out.
    private func expanded(rank: Int) -> [Element] {
        let taking = elements.filter { $0 != .newAxis && $0 != .ellipsis }.count
        let whole = [Element](repeating: .range(start: nil, stop: nil, step: 1), count: rank - taking)
        guard let at = elements.firstIndex(of: .ellipsis) else { return elements + whole }
        return Array(elements[..<at]) + whole + Array(elements[(at + 1)...])
    }

    /// The first index and the count of `start:stop:step` on an axis of `size`, as Python's `slice.indices`.
    static func indices(_ start: Int?, _ stop: Int?, _ step: Int, size: Int) -> (first: Int, count: Int) {
        func clamped(_ value: Int, _ low: Int, _ high: Int) -> Int {
            let resolved = value < 0 ? value + size : value
            return Swift.min(Swift.max(resolved, low), high)
        }
        let first: Int, last: Int
        if step > 0 {
            first = start.map { clamped($0, 0, size) } ?? 0
            last = stop.map { clamped($0, 0, size) } ?? size
            return (first, last > first ? (last - first + step - 1) / step : 0)
        }
        first = start.map { clamped($0, -1, size - 1) } ?? size - 1
        last = stop.map { clamped($0, -1, size - 1) } ?? -1
        return (first, first > last ? (first - last - step - 1) / -step : 0)
    }
}

extension GraphBuilder {
    /// The largest magnitude of a slice's start or stop read from a config (they are clamped to the axis).
    static let largestSliceBound = 1 << 48

    /// `x[...]`: the call's `slice_spec`, one element or a list of them, each a slice
    /// (`{"start": 1, "stop": 3, "step": null}`), an integer, null (`tf.newaxis`) or the Ellipsis
    /// (`{"class_name": "__ellipsis__"}`).
    /// - Throws: `InferenceError` for an element of another kind, a step of 0, two Ellipses, a number out of
    ///   range, or a first element that does not take the samples' axis whole.
    func slice(_ operation: OperationCall) throws -> SliceLayer {
        try operation.requireOnly(["slice_spec"])
        _ = try operation.tensorArgument()
        guard let spec = operation.arguments.keywords["slice_spec"] else { throw operation.refusal("no slice_spec") }
        guard case .constant(let value) = spec else {
            throw operation.refusal("a tensor in its slice_spec, which kprune's forward pass does not run")
        }
        let items = value.array ?? [value]
        guard items.count <= OperationCall.largestRank else {
            throw operation.invalid("slice_spec", value, "at most \(OperationCall.largestRank) elements")
        }
        let elements = try items.map { try sliceElement($0, operation) }
        guard elements.filter({ $0 == .ellipsis }).count <= 1 else {
            throw operation.invalid("slice_spec", value, "a spec with one Ellipsis at most")
        }
        guard let first = elements.first, first == .ellipsis || SliceLayer.takesWhole(first) else {
            throw operation.refusal(
                "the slice \(SliceLayer.written(elements)), which does not take the samples' axis whole")
        }
        return SliceLayer(label: operation.label, elements: elements)
    }

    /// One element of a slice spec.
    private func sliceElement(_ item: JSONValue, _ operation: OperationCall) throws -> SliceLayer.Element {
        let bound = Self.largestSliceBound
        switch item {
        case .null: return .newAxis
        case .number: return .index(try operation.whole("the slice_spec element", item, in: -bound...bound))
        case .object(let members) where members["class_name"] == .string("__ellipsis__") && members.count == 1:
            return .ellipsis
        case .object(let members) where Set(members.keys).isSubset(of: ["start", "stop", "step"]):
            func number(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
                guard let value = members[key], value != .null else { return nil }
                return try operation.whole("the slice_spec element's \(key)", value, in: range)
            }
            let step = try number("step", -Self.largestSize...Self.largestSize) ?? 1
            guard step != 0 else {
                throw operation.invalid("the slice_spec element", item, "a slice whose step is not 0")
            }
            return .range(
                start: try number("start", -bound...bound), stop: try number("stop", -bound...bound), step: step)
        default:
            throw operation.invalid("the slice_spec element", item, "a slice, an integer, None or an Ellipsis")
        }
    }
}
