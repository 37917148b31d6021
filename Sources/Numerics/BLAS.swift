internal import CBLAS
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Tensor products through OpenBLAS for one run: the threads it uses and the floating-point operations it has
/// done, both its own, never the process's.
///
/// **The same bits for a row, whatever shares its product.** OpenBLAS's kernels accumulate a row's dot products
/// in an order that depends on how many rows share the product and on the row's place among them (on Zen and
/// Haswell kernels, 13 of 23 rows change when run alone), and threaded products split the work by thread count.
/// So every product here is computed in tiles of `tileRows` rows of its result, each tile one OpenBLAS call of
/// exactly that shape on one thread (the last tile padded with zero rows), with the tile's rows in OpenBLAS's
/// vectorized dimension, where each row is computed by the same instructions. A row of the result is then a
/// function of that row of `op(a)` and of `op(b)` alone: the same bytes for any batch size, sample order,
/// memory limit, thread count, and other work in the process, on one machine. Across CPU models (another
/// kernel, FMA or not) results agree within float rounding, not bit for bit.
///
/// Large products split their tiles over `threads` threads of kprune's own; OpenBLAS itself is set to one
/// thread once, when the first `BLAS` is made, and no product changes a process-wide setting.
public final class BLAS: Sendable {
    /// Threads for large products.
    public let threads: Int
    /// Below this many multiply-adds a product runs on the calling thread alone.
    public static let threadedSize = 1 << 22
    /// Rows of the result computed by one OpenBLAS call.
    public static let tileRows = 16

    private let operations = Atomic<Int>(0)

    /// OpenBLAS runs every call on the calling thread: the threads are kprune's, over tiles.
    private static let singleThreaded: Void = openblas_set_num_threads(1)

    /// A context running large products on `threads` threads.
    /// - Precondition: `threads >= 1`.
    public init(threads: Int) {
        precondition(threads >= 1, "BLAS needs at least one thread")
        self.threads = threads
        _ = Self.singleThreaded
    }

    /// The floating-point operations of the products run so far, in billions.
    public var gflop: Double { Double(operations.load(ordering: .relaxed)) / 1e9 }

    /// The floating-point operations of the products run so far: a difference of two counts is exact.
    public var operationCount: Int { operations.load(ordering: .relaxed) }

    /// `c = alpha · op(a) · op(b) + beta · c`, with `op` transposing when asked, in tiles of rows (see the type's
    /// documentation). The corresponding C function is `cblas_sgemm`.
    /// - Precondition: `a`, `b` and `c` are matrices whose shapes fit the product.
    public func gemm(
        _ a: Tensor, transposeA: Bool = false, _ b: Tensor, transposeB: Bool = false,
        into c: inout Tensor, alpha: Float = 1, beta: Float = 0
    ) {
        let (rows, columns) = (c.rows, c.columns)
        a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                c.values.withUnsafeMutableBufferPointer { pc in
                    gemm(
                        Matrix(pa, rows: a.rows, columns: a.columns), transposeA: transposeA,
                        Matrix(pb, rows: b.rows, columns: b.columns), transposeB: transposeB, into: pc,
                        cStride: columns, alpha: alpha, beta: beta, rows: rows, columns: columns)
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
            precondition(
                stride >= columns && rows >= 0 && columns >= 0, "a \(rows)×\(columns) matrix with stride \(stride)")
            precondition(
                rows == 0 || (rows - 1) * stride + columns <= buffer.count,
                "\(buffer.count) values hold no \(rows)×\(columns) matrix with stride \(stride)")
            self.buffer = buffer
            self.rows = rows
            self.columns = columns
            self.stride = stride
        }

    }

    /// `c = op(a) · op(b) + beta · c` on matrices lent by their buffers (`c`: rows `cStride` apart), for
    /// products that read or write part of a tensor without copying it. Large products split their tiles over
    /// the threads unless `threaded` is false (for callers that split their work over threads themselves). The
    /// corresponding C function is `cblas_sgemm`.
    /// - Precondition: the shapes fit the product and `c` holds every element written.
    public func gemm(
        _ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false,
        into c: UnsafeMutableBufferPointer<Float>, cStride: Int, beta: Float = 0, threaded: Bool = true
    ) {
        let m = transposeA ? a.columns : a.rows, n = transposeB ? b.rows : b.columns
        gemm(
            a, transposeA: transposeA, b, transposeB: transposeB, into: c, cStride: cStride, alpha: 1, beta: beta,
            rows: m, columns: n, threaded: threaded)
    }

    /// The product in tiles of `tileRows` result rows: `rows` × `columns` of `c`.
    private func gemm(
        _ a: Matrix, transposeA: Bool, _ b: Matrix, transposeB: Bool,
        into c: UnsafeMutableBufferPointer<Float>, cStride: Int, alpha: Float, beta: Float,
        rows m: Int, columns n: Int, threaded: Bool = true
    ) {
        let k = transposeA ? a.rows : a.columns
        let kb = transposeB ? b.columns : b.rows
        precondition(
            (transposeA ? a.columns : a.rows) == m && (transposeB ? b.rows : b.columns) == n,
            "the result is \(m)×\(n), the product \(transposeA ? a.columns : a.rows)×\(transposeB ? b.rows : b.columns)"
        )
        precondition(k == kb, "inner dimensions \(k) and \(kb) differ")
        precondition(cStride >= n && (m == 0 || (m - 1) * cStride + n <= c.count), "the result does not fit")
        if m == 0 || n == 0 { return }
        operations.add(2 * m * n * k, ordering: .relaxed)
        let tiles = (m + Self.tileRows - 1) / Self.tileRows
        let parts = threaded && m * n * k >= Self.threadedSize ? min(threads, tiles) : 1
        let product = TileProduct(
            a: a, transposeA: transposeA, b: b, transposeB: transposeB, k: k, n: n, alpha: alpha,
            beta: beta, c: c, cStride: cStride, rows: m)
        guard parts > 1 else {
            product.run(tiles: 0..<tiles)
            return
        }
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            product.run(tiles: (part * tiles / parts)..<((part + 1) * tiles / parts))
        }
    }
}

/// One product's tiles, each computed alike wherever it runs. Threads write disjoint rows of `c`, which the
/// caller lends for the duration of the product.
private struct TileProduct: @unchecked Sendable {
    let a: BLAS.Matrix, transposeA: Bool
    let b: BLAS.Matrix, transposeB: Bool
    let k: Int, n: Int
    let alpha: Float, beta: Float
    let c: UnsafeMutableBufferPointer<Float>, cStride: Int
    let rows: Int

    /// Computes `tiles` in order with scratch of its own: the tile's rows of `op(a)` (the last tile's packed,
    /// with zero rows past the end), the product `op(b)ᵀ · packedᵀ` (columns × tile rows, the rows in OpenBLAS's vectorized
    /// dimension), then each result row scaled and written. Every step is one OpenBLAS call (a copy, a product,
    /// a transposing copy), so a debug build costs what a release build does.
    func run(tiles: Range<Int>) {
        let t = BLAS.tileRows
        withUnsafeTemporaryAllocation(of: Float.self, capacity: t * max(k, 1)) { packed in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n * t) { result in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: beta == 0 ? 1 : t * n) { scaled in
                    guard let packed = packed.baseAddress, let result = result.baseAddress,
                        let scaled = scaled.baseAddress, let from = a.buffer.baseAddress, let to = c.baseAddress
                    else { return }
                    for tile in tiles {
                        let first = tile * t, count = min(t, rows - first)
                        guard k > 0 else {
                            // An empty inner dimension: the product is zero, c is beta · c.
                            for row in first..<(first + count) {
                                if beta == 0 {
                                    (to + row * cStride).update(repeating: 0, count: n)
                                } else {
                                    cblas_sscal(Int32(n), beta, to + row * cStride, 1)
                                }
                            }
                            continue
                        }
                        // The tile's rows of op(a): read in place when the tile is whole (OpenBLAS reads a
                        // matrix by its leading dimension, so where it lies changes no sum); the last tile's
                        // rows are copied side by side, zero rows after them.
                        let operand: UnsafePointer<Float>, order: CBLAS_TRANSPOSE, leading: Int
                        if count == t {
                            operand = UnsafePointer(transposeA ? from + first : from + first * a.stride)
                            (order, leading) = (transposeA ? CblasNoTrans : CblasTrans, a.stride)
                        } else {
                            cblas_somatcopy(
                                CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                                Int32(transposeA ? k : count), Int32(transposeA ? count : k), 1,
                                transposeA ? from + first : from + first * a.stride, Int32(a.stride),
                                packed, Int32(k))
                            memset(packed + count * k, 0, (t - count) * k * MemoryLayout<Float>.size)
                            (operand, order, leading) = (UnsafePointer(packed), CblasTrans, k)
                        }
                        cblas_sgemm(
                            CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans, order, Int32(n),
                            Int32(t), Int32(k), 1, b.buffer.baseAddress, Int32(b.stride), operand,
                            Int32(leading), 0, result, Int32(t))
                        // result is n × t: its first `count` columns, transposed and scaled, are the rows of c.
                        let target = to + first * cStride
                        if beta == 0 {
                            cblas_somatcopy(
                                CblasRowMajor, CblasTrans, Int32(n), Int32(count), alpha, result, Int32(t),
                                target, Int32(cStride))
                        } else {
                            cblas_somatcopy(
                                CblasRowMajor, CblasTrans, Int32(n), Int32(count), alpha, result, Int32(t),
                                scaled, Int32(n))
                            for i in 0..<count {
                                cblas_saxpby(Int32(n), 1, scaled + i * n, 1, beta, target + i * cStride, 1)
                            }
                        }
                    }
                }
            }
        }
    }
}
