import Numerics
import Testing

@testable import Inference

/// What tf_keras's TensorFlow-op layers compute, on small tensors worked out by hand as TensorFlow computes them.
@Suite struct OperationForwardTests {
    let label = OperationLabel(layer: "op", className: "TFOpLambda", function: "tf.test")
    /// Two samples of shape [2, 3]: 0...5 and 6...11.
    let x = Tensor(shape: [2, 2, 3], values: (0..<12).map(Float.init))

    /// Python's slices on a [2, 2, 3] tensor: a negative step from the end, a negative start, an index that drops
    /// its axis, `None` and the Ellipsis.
    @Test func slicesAsPythonDoes() throws {
        func sliced(_ elements: [SliceLayer.Element]) throws -> Tensor {
            try SliceLayer(label: label, elements: elements).forward([x])
        }
        let all = SliceLayer.Element.range(start: nil, stop: nil, step: 1)
        let reversed = try sliced([all, .index(-1), .range(start: nil, stop: nil, step: -2)])
        #expect(reversed == Tensor(shape: [2, 2], values: [5, 3, 11, 9]))
        let tail = try sliced([.ellipsis, .range(start: -2, stop: nil, step: 1)])
        #expect(tail == Tensor(shape: [2, 2, 2], values: [1, 2, 4, 5, 7, 8, 10, 11]))
        let column = try sliced([.ellipsis, .index(0), .newAxis])
        #expect(column == Tensor(shape: [2, 2, 1], values: [0, 3, 6, 9]))
        let empty = try sliced([all, .range(start: 5, stop: 9, step: 1)])
        #expect(empty.shape == [2, 0, 3])
        let error = try #require(throws: InferenceError.self) { try sliced([all, .index(2)]) }
        #expect(
            error.message == "layer op (TFOpLambda) calls tf.test with index 2 of axis 1, of size 2 in shape [2, 2, 3]")
        // The Ellipsis stands for no axis here, so the index would take one sample.
        #expect(throws: InferenceError.self) { try sliced([.ellipsis, .index(0), .index(0), .index(0)]) }
    }

    /// numpy's broadcasting: a constant of shape [3] along the last axis, a tensor of [2, 1, 3] against one of
    /// [2, 2, 3], a constant first (`10 - x`), and comparisons as 1 and 0.
    @Test func broadcastsAsNumpyDoes() throws {
        let row = Tensor(shape: [3], values: [1, 2, 3])
        let scaled = try ElementwiseLayer(
            label: label, function: .binary(.multiply), operands: [.input(0), .constant(row)]
        )
        .forward([x])
        #expect(scaled.values == [0, 2, 6, 3, 8, 15, 6, 14, 24, 9, 20, 33])
        let firstSteps = Tensor(shape: [2, 1, 3], values: [0, 1, 2, 6, 7, 8])
        let difference = try ElementwiseLayer(
            label: label, function: .binary(.subtract), operands: [.input(0), .input(1)]
        )
        .forward([x, firstSteps])
        #expect(difference.values == [0, 0, 0, 3, 3, 3, 0, 0, 0, 3, 3, 3])
        let ten = Tensor(shape: [], values: [10])
        let reflected = try ElementwiseLayer(
            label: label, function: .binary(.subtract), operands: [.constant(ten), .input(0)]
        )
        .forward([x])
        #expect(reflected.values == (0..<12).map { 10 - Float($0) })
        let greater = try ElementwiseLayer(
            label: label, function: .binary(.greater),
            operands: [.input(0), .constant(Tensor(shape: [], values: [4.5]))]
        )
        .forward([x])
        #expect(greater.values == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
        // A constant as long as the samples' axis would be broadcast across the samples.
        let across = Tensor(shape: [2, 1, 1], values: [1, 2])
        #expect(throws: InferenceError.self) {
            try ElementwiseLayer(label: label, function: .binary(.add), operands: [.input(0), .constant(across)])
                .forward([x])
        }
    }

    /// A broadcast whose output would pass `Allocation.perSample` is refused before it is allocated.
    @Test func refusesAnOutputTooLarge() throws {
        let tall = Tensor(zeros: [1, 1 << 13, 1])
        let wide = Tensor(zeros: [1 << 14])
        let error = try #require(throws: InferenceError.self) {
            try ElementwiseLayer(label: label, function: .binary(.add), operands: [.input(0), .constant(wide)]).forward(
                [tall])
        }
        #expect(error.code == .shapeMismatch)
        #expect(error.layer == "op")
    }

    /// Each reduction over one axis and two, keeping dimensions or not; NaN wins the maximum, and over no
    /// elements the mean is NaN.
    @Test func reducesAsTensorFlowDoes() throws {
        func reduced(_ kind: ReductionLayer.Kind, _ axes: [Int], keep: Bool = false, _ input: Tensor? = nil) throws
            -> Tensor
        {
            try ReductionLayer(label: label, kind: kind, axes: axes, keepDimensions: keep).forward([input ?? x])
        }
        #expect(try reduced(.sum, [-1]) == Tensor(shape: [2, 2], values: [3, 12, 21, 30]))
        #expect(
            try reduced(.mean, [1], keep: true) == Tensor(shape: [2, 1, 3], values: [1.5, 2.5, 3.5, 7.5, 8.5, 9.5]))
        #expect(try reduced(.maximum, [1, 2]) == Tensor(shape: [2], values: [5, 11]))
        #expect(try reduced(.minimum, [2, 1]) == Tensor(shape: [2], values: [0, 6]))
        #expect(try reduced(.product, [2]) == Tensor(shape: [2, 2], values: [0, 60, 336, 990]))
        let withNaN = Tensor(shape: [1, 3], values: [1, .nan, 2])
        #expect(try reduced(.maximum, [1], withNaN).values[0].isNaN)
        let nothing = Tensor(zeros: [2, 0])
        #expect(try reduced(.mean, [1], nothing).values.allSatisfy(\.isNaN))
        #expect(try reduced(.maximum, [1], nothing).values == [-.infinity, -.infinity])
        let twice = try #require(throws: InferenceError.self) { try reduced(.sum, [1, -2]) }
        #expect(twice.message.contains("names axis 1 twice"))
        let samples = try #require(throws: InferenceError.self) { try reduced(.sum, [-3]) }
        #expect(
            samples.message == "layer op (TFOpLambda) calls tf.test with axis -3 (the samples' axis of shape [2, 2, 3])"
        )
    }

    /// `tf.stack` along a middle axis, `tf.expand_dims` and `tf.squeeze`.
    @Test func stacksAndReshapes() throws {
        let stacked = try ShapeOperationLayer(label: label, kind: .stack(-1)).forward([x, x])
        #expect(stacked.shape == [2, 2, 3, 2])
        #expect(Array(stacked.values.prefix(6)) == [0, 0, 1, 1, 2, 2])
        let expanded = try ShapeOperationLayer(label: label, kind: .expand(-1)).forward([x])
        #expect(expanded.shape == [2, 2, 3, 1])
        let squeezed = try ShapeOperationLayer(label: label, kind: .squeeze([3])).forward([expanded])
        #expect(squeezed == x)
        #expect(throws: InferenceError.self) { try ShapeOperationLayer(label: label, kind: .squeeze([1])).forward([x]) }
    }
}
