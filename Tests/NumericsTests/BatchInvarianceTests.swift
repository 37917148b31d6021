import Numerics
import Testing

/// A row of a product is the same bits whatever else is in the product: how many rows, where the row sits, how
/// many threads, whether the matrices are lent or held. The shapes include ones whose plain OpenBLAS call
/// changes rows with the row count on this project's machines (577 inner values, 10 columns, 255 or 511 rows).
@Suite struct BatchInvarianceTests {
    /// Seeded values in [-0.5, 0.5).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
    }

    static let shapes: [(k: Int, n: Int)] = [(1, 3), (17, 10), (64, 16), (577, 10), (200, 33), (1000, 128), (3, 300)]

    @Test(arguments: shapes.indices, [false, true])
    func aRowIsTheSameInAnyProduct(_ shape: Int, _ transposeA: Bool) {
        let (k, n) = Self.shapes[shape]
        let m = 511
        let a = Tensor(shape: transposeA ? [k, m] : [m, k], values: Self.values(m * k, seed: UInt64(shape)))
        let b = Tensor(shape: [k, n], values: Self.values(k * n, seed: 99))
        var whole = Tensor(zeros: m, n)
        BLAS(threads: 2).gemm(a, transposeA: transposeA, b, into: &whole)
        // Rows `range` alone, as their own product, on one thread or two.
        func part(_ range: Range<Int>, threads: Int) -> [Float] {
            let rows: Tensor
            if transposeA {
                var values: [Float] = []
                for j in 0..<k { values += a.values[(j * m + range.lowerBound)..<(j * m + range.upperBound)] }
                rows = Tensor(shape: [k, range.count], values: values)
            } else {
                rows = Tensor(
                    shape: [range.count, k], values: Array(a.values[(range.lowerBound * k)..<(range.upperBound * k)]))
            }
            var out = Tensor(zeros: range.count, n)
            BLAS(threads: threads).gemm(rows, transposeA: transposeA, b, into: &out)
            return out.values
        }
        for (start, count) in [(0, 1), (5, 1), (3, 7), (40, 64), (1, 255), (100, 411), (0, 255)] {
            let expected = Array(whole.values[(start * n)..<((start + count) * n)])
            #expect(part(start..<(start + count), threads: 1) == expected, "rows \(start)..<\(start + count)")
            #expect(
                part(start..<(start + count), threads: 2) == expected, "rows \(start)..<\(start + count), 2 threads")
        }
    }

    /// A block of columns of a wider matrix, lent without copying, gives the rows the tensor product gives.
    @Test func lentMatricesGiveTheSameRows() {
        let (m, k, n, stride) = (37, 50, 12, 20)
        let a = Self.values(m * k, seed: 1), wide = Self.values(k * stride, seed: 2)
        var b: [Float] = []
        for row in 0..<k { b += wide[(row * stride)..<(row * stride + n)] }
        var expected = Tensor(zeros: m, n)
        BLAS(threads: 1).gemm(Tensor(shape: [m, k], values: a), Tensor(shape: [k, n], values: b), into: &expected)
        var out = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { a in
            wide.withUnsafeBufferPointer { wide in
                out.withUnsafeMutableBufferPointer { out in
                    BLAS(threads: 2).gemm(
                        BLAS.Matrix(a, rows: m, columns: k), BLAS.Matrix(wide, rows: k, columns: n, stride: stride),
                        into: out, cStride: n, threaded: false)
                }
            }
        }
        #expect(out == expected.values)
    }
}
