internal import CBLAS
import Synchronization

/// Tensor products through OpenBLAS for one run: the thread count it uses and the floating-point operations
/// it has done, both its own, never the process's.
///
/// OpenBLAS has one thread setting per process; a `BLAS` sets it before each product it runs (when it
/// differs), so two runs in one process each get their own choice. Large products run on `threads` threads and small ones on one: for
/// a small product the threads cost more in waking and waiting than they save. The choice depends on the
/// shapes alone, so products (and so fine-tunes) are reproducible from run to run on a machine.
public final class BLAS: Sendable {
    /// Threads for large products.
    public let threads: Int
    /// Below this many multiply-adds a product runs on one thread.
    public static let threadedSize = 1 << 22

    private let operations = Atomic<Int>(0)

    /// A context running large products on `threads` threads.
    /// - Precondition: `threads >= 1`.
    public init(threads: Int) {
        precondition(threads >= 1, "BLAS needs at least one thread")
        self.threads = threads
    }

    /// The floating-point operations of the products run so far, in billions.
    public var gflop: Double { Double(operations.load(ordering: .relaxed)) / 1e9 }

    /// `c = alpha · op(a) · op(b) + beta · c`, with `op` transposing when asked. The corresponding C function
    /// is `cblas_sgemm`.
    /// - Precondition: `a`, `b` and `c` are matrices whose shapes fit the product.
    public func gemm(_ a: Tensor, transposeA: Bool = false, _ b: Tensor, transposeB: Bool = false,
                     into c: inout Tensor, alpha: Float = 1, beta: Float = 0)
    {
        let m = transposeA ? a.columns : a.rows
        let k = transposeA ? a.rows : a.columns
        let kb = transposeB ? b.columns : b.rows
        let n = transposeB ? b.rows : b.columns
        precondition(k == kb, "inner dimensions \(k) and \(kb) differ")
        precondition(c.rows == m && c.columns == n, "result is \(c.rows)×\(c.columns), product \(m)×\(n)")
        if m == 0 || n == 0 { return }
        operations.add(2 * m * n * k, ordering: .relaxed)
        // Setting takes a lock inside OpenBLAS; reading its setting does not, and most products keep it.
        let wanted = Int32(m * n * k < Self.threadedSize ? 1 : threads)
        if openblas_get_num_threads() != wanted { openblas_set_num_threads(wanted) }
        let (lda, ldb, ldc) = (Int32(a.columns), Int32(b.columns), Int32(c.columns))
        a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                c.values.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                                transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), alpha,
                                pa.baseAddress, lda, pb.baseAddress, ldb, beta, pc.baseAddress, ldc)
                }
            }
        }
    }
}
