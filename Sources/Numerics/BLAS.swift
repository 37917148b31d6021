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
        prepare(m, n, k)
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

    /// A row-major matrix lent by its buffer: `rows` × `columns` values starting at the buffer's first
    /// element, `stride` apart from row to row (at least `columns`), so a block of columns of a wider matrix
    /// is one too.
    public struct Matrix {
        /// The buffer holding the matrix.
        public let buffer: UnsafeBufferPointer<Float>
        /// Rows and columns.
        public let rows: Int, columns: Int
        /// Elements from one row's start to the next's.
        public let stride: Int

        /// The matrix of `rows` × `columns` in `buffer`, rows `stride` elements apart (default `columns`).
        /// - Precondition: the buffer holds every element.
        public init(_ buffer: UnsafeBufferPointer<Float>, rows: Int, columns: Int, stride: Int? = nil) {
            let stride = stride ?? columns
            precondition(stride >= columns && rows >= 0 && columns >= 0, "a \(rows)×\(columns) matrix with stride \(stride)")
            precondition(rows == 0 || (rows - 1) * stride + columns <= buffer.count,
                         "\(buffer.count) values hold no \(rows)×\(columns) matrix with stride \(stride)")
            self.buffer = buffer
            self.rows = rows
            self.columns = columns
            self.stride = stride
        }
    }

    /// `c = op(a) · op(b) + beta · c` on matrices lent by their buffers (`c`: `rows` × `columns`, rows
    /// `cStride` apart), for products that read or write part of a tensor without copying it. The thread
    /// choice and the count of operations are those of the tensor product, unless `threaded` is false: then
    /// the product runs on the calling thread alone, for callers that split their work over threads
    /// themselves (OpenBLAS's own threads would only spin beside them). The corresponding C function is
    /// `cblas_sgemm`.
    /// - Precondition: the shapes fit the product and `c` holds every element written.
    public func gemm(_ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false,
                     into c: UnsafeMutableBufferPointer<Float>, cStride: Int, beta: Float = 0, threaded: Bool = true)
    {
        let m = transposeA ? a.columns : a.rows, k = transposeA ? a.rows : a.columns
        let kb = transposeB ? b.columns : b.rows, n = transposeB ? b.rows : b.columns
        precondition(k == kb, "inner dimensions \(k) and \(kb) differ")
        precondition(cStride >= n && (m == 0 || (m - 1) * cStride + n <= c.count), "the result does not fit")
        if m == 0 || n == 0 { return }
        prepare(m, n, k, threaded: threaded)
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a.buffer.baseAddress, Int32(a.stride), b.buffer.baseAddress,
                    Int32(b.stride), beta, c.baseAddress, Int32(cStride))
    }

    /// Counts an `m` × `n` × `k` product and sets OpenBLAS's threads for it.
    private func prepare(_ m: Int, _ n: Int, _ k: Int, threaded: Bool = true) {
        operations.add(2 * m * n * k, ordering: .relaxed)
        // Setting takes a lock inside OpenBLAS; reading its setting does not, and most products keep it.
        let wanted = Int32(!threaded || m * n * k < Self.threadedSize ? 1 : threads)
        if openblas_get_num_threads() != wanted { openblas_set_num_threads(wanted) }
    }
}
