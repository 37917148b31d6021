import Testing

@testable import Numerics

@Suite struct TensorTests {
    /// The reference: the plain triple loop that gemm replaces.
    func naive(_ a: Tensor, _ transposeA: Bool, _ b: Tensor, _ transposeB: Bool) -> Tensor {
        let m = transposeA ? a.columns : a.rows
        let k = transposeA ? a.rows : a.columns
        let n = transposeB ? b.rows : b.columns
        var c = Tensor(zeros: m, n)
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = 0
                for p in 0..<k {
                    sum += (transposeA ? a[p, i] : a[i, p]) * (transposeB ? b[j, p] : b[p, j])
                }
                c[i, j] = sum
            }
        }
        return c
    }

    @Test(arguments: [false, true], [false, true])
    func gemmMatchesTheDefinition(_ transposeA: Bool, _ transposeB: Bool) {
        let (m, k, n) = (7, 5, 3)
        let a = Tensor(
            rows: transposeA ? k : m, columns: transposeA ? m : k,
            values: (0..<(m * k)).map { Float(($0 * 37) % 11) / 4 - 1 })
        let b = Tensor(
            rows: transposeB ? n : k, columns: transposeB ? k : n,
            values: (0..<(k * n)).map { Float(($0 * 53) % 13) / 8 - 0.5 })
        var c = Tensor(zeros: m, n)
        BLAS(threads: 2).gemm(a, transposeA: transposeA, b, transposeB: transposeB, into: &c)
        let expected = naive(a, transposeA, b, transposeB)
        for index in c.values.indices {
            #expect(abs(c.values[index] - expected.values[index]) <= 1e-5 * max(1, abs(expected.values[index])))
        }
        // beta accumulates onto what c held.
        BLAS(threads: 2).gemm(a, transposeA: transposeA, b, transposeB: transposeB, into: &c, alpha: 2, beta: 1)
        for index in c.values.indices {
            #expect(abs(c.values[index] - 3 * expected.values[index]) <= 1e-4 * max(1, abs(expected.values[index])))
        }
    }
}

@Suite struct BLASContextTests {
    /// Each context counts its own products: two runs in one process never see each other's FLOPs.
    @Test func countsItsOwnOperations() {
        let a = Tensor(rows: 4, columns: 3, values: (0..<12).map(Float.init))
        let b = Tensor(rows: 3, columns: 2, values: (0..<6).map(Float.init))
        var c = Tensor(zeros: 4, 2)
        let first = BLAS(threads: 1), second = BLAS(threads: 2)
        first.gemm(a, b, into: &c)
        first.gemm(a, b, into: &c)
        second.gemm(a, b, into: &c)
        #expect(first.gflop == 2 * 2 * 4 * 3 * 2 / 1e9)
        #expect(second.gflop == 2 * 4 * 3 * 2 / 1e9)
    }

    /// A Dense layer's outputs: `activation(x · kernel + bias)`, row by row.
    @Test func denseAddsTheBiasAndApplies() {
        let x = Tensor(rows: 2, columns: 2, values: [1, 2, 3, 4])
        let kernel = Tensor(rows: 2, columns: 2, values: [1, -1, 0, 1])
        var out = Tensor(zeros: 2, 2)
        var pre = Tensor(zeros: 2, 2)
        BLAS(threads: 1).dense(x, kernel, [0.5, -3], .relu, into: &out, preActivations: &pre)
        #expect(pre.values == [1.5, -2, 3.5, -2])
        #expect(out.values == [1.5, 0, 3.5, 0])
    }
}

@Suite struct ActivationTests {
    /// Each elementwise derivative against a central difference of the activation itself.
    @Test(arguments: [Activation.sigmoid, .tanh, .relu, .linear])
    func derivativesMatchFiniteDifferences(_ activation: Activation) {
        for z in [-2.5, -0.7, 0.3, 1.9] as [Float] {
            let h: Float = 1e-3
            var points = Tensor(rows: 1, columns: 3, values: [z - h, z, z + h])
            activation.apply(&points)
            let numeric = (points.values[2] - points.values[0]) / (2 * h)
            let analytic = activation.derivative(output: points.values[1], input: z)
            #expect(abs(numeric - analytic) <= 2e-3, "\(activation) at \(z): \(numeric) vs \(analytic)")
        }
    }
}
