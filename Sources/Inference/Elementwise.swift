import Foundation
import Numerics

/// An operand of a TensorFlow function's layer: one of the call's input tensors, or a constant from the config.
enum Operand {
    /// The call's input at this position (samples first).
    case input(Int)
    /// A constant, its own shape (no samples' axis): a number has shape `[]`.
    case constant(Tensor)
}

/// A TensorFlow function of one value, applied to each element in float32.
enum UnaryFunction {
    case negative, absolute, square, squareRoot, exponential, logarithm

    /// The function's value at `x`, as TensorFlow computes it in float32 (`sqrt` and `log` of a negative
    /// number are NaN).
    func callAsFunction(_ x: Float) -> Float {
        switch self {
        case .negative: return -x
        case .absolute: return abs(x)
        case .square: return x * x
        case .squareRoot: return x.squareRoot()
        case .exponential: return exp(x)
        case .logarithm: return log(x)
        }
    }
}

/// A TensorFlow function of two values, applied element by element in float32; a comparison gives 1 for true
/// and 0 for false (TensorFlow's booleans, as `tf.cast(..., "float32")` makes them).
enum BinaryFunction {
    case add, subtract, multiply, divide, maximum, minimum, power
    case greater, greaterEqual, less, lessEqual, equal, notEqual

    /// The function's value at `x`, `y`. `maximum` and `minimum` give NaN when either is NaN, as
    /// `tf.math.maximum` does; a comparison with NaN is false (`not_equal`: true).
    func callAsFunction(_ x: Float, _ y: Float) -> Float {
        switch self {
        case .add: return x + y
        case .subtract: return x - y
        case .multiply: return x * y
        case .divide: return x / y
        case .maximum: return x.isNaN || y.isNaN ? .nan : Swift.max(x, y)
        case .minimum: return x.isNaN || y.isNaN ? .nan : Swift.min(x, y)
        case .power: return pow(x, y)
        case .greater: return x > y ? 1 : 0
        case .greaterEqual: return x >= y ? 1 : 0
        case .less: return x < y ? 1 : 0
        case .lessEqual: return x <= y ? 1 : 0
        case .equal: return x == y ? 1 : 0
        case .notEqual: return x != y ? 1 : 0
        }
    }
}

/// A TensorFlow function applied element by element (`tf.math.abs(x)`, `x + 2.0`, `tf.math.add(x, y=t)`,
/// `2.0 - x`, `x > 0.5`), with numpy's broadcasting: shapes are aligned at their last axes and an axis of
/// size 1 is repeated to the other's size. A constant never reaches the samples' axis: its rank is below the
/// output's, or its first axis has size 1.
struct ElementwiseLayer: ForwardLayer {
    enum Function {
        case unary(UnaryFunction)
        case binary(BinaryFunction)
    }

    let label: OperationLabel
    let function: Function
    /// One operand for a unary function, two (x, y) for a binary one.
    let operands: [Operand]

    func forward(_ inputs: [Tensor]) throws -> Tensor {
        let tensors = try operands.map { operand -> Tensor in
            switch operand {
            case .input(let index):
                guard inputs.indices.contains(index) else {
                    throw label.mismatch("with \(inputs.count) inputs, not the \(index + 1) its arguments name")
                }
                return inputs[index]
            case .constant(let tensor): return tensor
            }
        }
        switch function {
        case .unary(let apply):
            let x = tensors[0]
            return Tensor(shape: x.shape, values: x.values.map { apply($0) })
        case .binary(let apply):
            return try broadcast(tensors[0], tensors[1], apply)
        }
    }

    /// `apply` of each pair of elements of `x` and `y` broadcast to one shape.
    private func broadcast(_ x: Tensor, _ y: Tensor, _ apply: BinaryFunction) throws -> Tensor {
        let rank = max(x.rank, y.rank)
        let xShape = [Int](repeating: 1, count: rank - x.rank) + x.shape
        let yShape = [Int](repeating: 1, count: rank - y.rank) + y.shape
        var shape: [Int] = []
        for (a, b) in zip(xShape, yShape) {
            guard a == b || a == 1 || b == 1 else {
                throw label.mismatch("on shapes \(x.shape) and \(y.shape), which do not broadcast")
            }
            shape.append(a == 1 ? b : a)
        }
        for (operand, tensor) in zip(operands, [x, y]) {
            let movesSamples: Bool
            switch operand {
            case .input: movesSamples = tensor.rank < rank
            case .constant: movesSamples = tensor.rank == rank && rank > 0 && tensor.shape[0] != 1
            }
            if movesSamples {
                throw label.refusal(
                    "operands of shapes \(x.shape) and \(y.shape) (a tensor's first axis is its "
                        + "samples'; a constant's is not), which broadcast across the samples' axis")
            }
        }
        let count = try Allocation.count(shape, layer: label.layer)
        if x.shape == y.shape {
            return Tensor(shape: shape, values: zip(x.values, y.values).map { apply($0, $1) })
        }
        let xStrides = Self.strides(xShape), yStrides = Self.strides(yShape)
        var values: [Float] = []
        values.reserveCapacity(count)
        var index = [Int](repeating: 0, count: rank)
        var (xOffset, yOffset) = (0, 0)
        for _ in 0..<count {
            values.append(apply(x.values[xOffset], y.values[yOffset]))
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                xOffset += xStrides[axis]
                yOffset += yStrides[axis]
                if index[axis] < shape[axis] { break }
                xOffset -= xStrides[axis] * shape[axis]
                yOffset -= yStrides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return Tensor(shape: shape, values: values)
    }

    /// Row-major strides of `shape`, 0 along an axis of size 1 (which broadcasting repeats).
    private static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: shape.count)
        var stride = 1
        for axis in shape.indices.reversed() {
            strides[axis] = shape[axis] == 1 ? 0 : stride
            stride *= shape[axis]
        }
        return strides
    }
}
