@testable import Numerics
import Testing

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
        let a = Tensor(rows: transposeA ? k : m, columns: transposeA ? m : k,
                       values: (0..<(m * k)).map { Float(($0 * 37) % 11) / 4 - 1 })
        let b = Tensor(rows: transposeB ? n : k, columns: transposeB ? k : n,
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
