internal import CBLAS
import Foundation

/// A row-major matrix of float32, the layout of a Dense kernel (fan-in × units) and of a batch of inputs
/// (samples × features).
struct Matrix: Sendable, Equatable {
    var rows: Int
    var columns: Int
    var values: [Float]

    init(rows: Int, columns: Int, values: [Float]) {
        precondition(values.count == rows * columns, "\(values.count) values for \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    init(zeros rows: Int, _ columns: Int) {
        self.init(rows: rows, columns: columns, values: [Float](repeating: 0, count: rows * columns))
    }

    /// Sets every element whose `mask` entry is false to zero, in one pass over raw buffers (no per-element
    /// copy-on-write checks), which the compiler vectorizes.
    mutating func zero(outside mask: [Bool]) {
        precondition(mask.count == values.count, "mask does not fit the matrix")
        values.withUnsafeMutableBufferPointer { values in
            mask.withUnsafeBufferPointer { mask in
                for i in 0..<values.count { values[i] = mask[i] ? values[i] : 0 }
            }
        }
    }

    subscript(row: Int, column: Int) -> Float {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }
}

/// Counts the floating-point operations of matrix products, for reporting GFLOP/s.
final class FlopCounter: @unchecked Sendable {
    static let shared = FlopCounter()
    private let lock = NSLock()
    private var flops = 0

    func add(_ count: Int) { lock.withLock { flops += count } }
    func reset() { lock.withLock { flops = 0 } }
    var gflop: Double { lock.withLock { Double(flops) / 1e9 } }
}

/// Matrix products through OpenBLAS.
enum BLAS {
    /// OpenBLAS runs large products on this many threads and small ones on one: for a small product the
    /// threads cost more in waking and waiting than they save. The choice depends on the shapes alone, so
    /// products (and so fine-tunes) are reproducible from run to run on a machine.
    static let threads = Workers.available

    /// Below this many multiply-adds a product runs on one thread.
    static let threadedSize = 1 << 22

    private static let threadSetting = ThreadSetting()

    private final class ThreadSetting: @unchecked Sendable {
        private let lock = NSLock()
        private var current: Int32 = -1

        func use(_ count: Int32) {
            lock.withLock {
                if current != count {
                    openblas_set_num_threads(count)
                    current = count
                }
            }
        }
    }

    /// `c = alpha · op(a) · op(b) + beta · c`, with `op` transposing when asked. Shapes are checked.
    /// The corresponding C function is `cblas_sgemm`.
    static func gemm(_ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false,
                     into c: inout Matrix, alpha: Float = 1, beta: Float = 0)
    {
        let m = transposeA ? a.columns : a.rows
        let k = transposeA ? a.rows : a.columns
        let kb = transposeB ? b.columns : b.rows
        let n = transposeB ? b.rows : b.columns
        precondition(k == kb, "inner dimensions \(k) and \(kb) differ")
        precondition(c.rows == m && c.columns == n, "result is \(c.rows)×\(c.columns), product \(m)×\(n)")
        if m == 0 || n == 0 { return }
        FlopCounter.shared.add(2 * m * n * k)
        threadSetting.use(Int32(m * n * k < threadedSize ? 1 : threads))
        a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                c.values.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                                transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), alpha,
                                pa.baseAddress, Int32(a.columns), pb.baseAddress, Int32(b.columns), beta,
                                pc.baseAddress, Int32(c.columns))
                }
            }
        }
    }
}
