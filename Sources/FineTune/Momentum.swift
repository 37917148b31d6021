/// Stochastic gradient descent with Nesterov momentum over the kernel and the bias. Plain gradient steps keep
/// the weights' magnitudes comparable with one another, which magnitude ranking relies on (a per-coordinate
/// normalising optimizer such as Adam does not).
package struct Momentum {
    package var kernelVelocity: [Float]
    package var biasVelocity: [Float]
    package let rate: Float
    package let momentum: Float = 0.9

    package init(kernel: Int, bias: Int, rate: Float) {
        kernelVelocity = [Float](repeating: 0, count: kernel)
        biasVelocity = [Float](repeating: 0, count: bias)
        self.rate = rate
    }

    /// `v <- mu v - rate g`, `w <- w + mu v - rate g`, with the rate multiplied by `scale` (a decay).
    package mutating func step(
        _ kernel: inout [Float], _ bias: inout [Float], _ gradKernel: [Float], _ gradBias: [Float],
        scale: Float = 1
    ) {
        let (mu, rate) = (momentum, rate * scale)
        func update(
            _ values: UnsafeMutableBufferPointer<Float>, _ velocity: UnsafeMutableBufferPointer<Float>,
            _ gradients: UnsafeBufferPointer<Float>
        ) {
            for i in 0..<values.count {
                let g = gradients[i]
                let v = mu * velocity[i] - rate * g
                velocity[i] = v
                values[i] += mu * v - rate * g
            }
        }
        kernel.withUnsafeMutableBufferPointer { values in
            kernelVelocity.withUnsafeMutableBufferPointer { velocity in
                gradKernel.withUnsafeBufferPointer { update(values, velocity, $0) }
            }
        }
        bias.withUnsafeMutableBufferPointer { values in
            biasVelocity.withUnsafeMutableBufferPointer { velocity in
                gradBias.withUnsafeBufferPointer { update(values, velocity, $0) }
            }
        }
    }

    /// Stops the movement of the weights outside the mask.
    package mutating func stop(outside mask: [Bool]) {
        for i in kernelVelocity.indices where !mask[i] { kernelVelocity[i] = 0 }
    }
}
