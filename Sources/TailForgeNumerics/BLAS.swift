import COpenBLAS

/// Thin helpers over OpenBLAS.
///
/// OpenBLAS keeps its own thread pool, but TailForge always parallelises over classes, blocks or shards itself
/// (``ComputePool``), so BLAS runs single-threaded inside each of those threads. The count is process-wide, so it
/// is set once, at start-up (``useOneThread()``), and never toggled: a worker that balances while it serves
/// gradients, or two test suites at once, would otherwise undo each other's setting.
public enum BLAS {
    private static let pinned: Void = openblas_set_num_threads(1)

    /// Pins OpenBLAS to one thread for the rest of the process (idempotent). Executables call it at start-up;
    /// the compute pool calls it when first used, so library callers get the same setting.
    public static func useOneThread() { pinned }

    /// The number of threads OpenBLAS uses (1 once ``useOneThread()`` has run).
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// The kernel family OpenBLAS chose for this CPU (e.g. "Haswell", "SkylakeX"). In some virtual machines
    /// its detection falls back to "Prescott" (SSE3 kernels, several times slower); the environment variable
    /// `OPENBLAS_CORETYPE` set before the process starts overrides the choice.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// C = op(A)·op(B) for row-major matrices, where op transposes when asked.
    public static func sgemm(_ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false) -> Matrix {
        let m = transposeA ? a.columns : a.rows, k = transposeA ? a.rows : a.columns
        let n = transposeB ? b.rows : b.columns, kb = transposeB ? b.columns : b.rows
        precondition(k == kb, "BLAS.sgemm: inner dimensions differ (\(k) vs \(kb))")
        precondition([m, n, k, a.columns, b.columns].allSatisfy { $0 <= Int(Int32.max) }, "BLAS.sgemm: a dimension exceeds Int32.max")
        var c = Matrix(rows: m, columns: n)
        guard m > 0, n > 0 else { return c }
        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                c.storage.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(
                        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), 1, pa.baseAddress, Int32(max(a.columns, 1)),
                        pb.baseAddress, Int32(max(b.columns, 1)), 0, pc.baseAddress, Int32(n))
                }
            }
        }
        return c
    }
}
