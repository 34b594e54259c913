import COpenBLAS

/// Thin helpers over OpenBLAS.
///
/// OpenBLAS keeps its own thread pool; TailForge usually parallelises over classes or shards itself and pins
/// BLAS to one thread, so the count is set explicitly rather than left to `OPENBLAS_NUM_THREADS`.
public enum BLAS {
    /// Sets the number of threads OpenBLAS uses for every later call (process-wide).
    public static func setThreadCount(_ n: Int) {
        precondition(n >= 1, "BLAS thread count must be ≥ 1, got \(n)")
        openblas_set_num_threads(Int32(n))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// Runs `body` with OpenBLAS on `n` threads, then restores the previous count (process-wide: callers that
    /// parallelise over classes or shards themselves pin BLAS to 1 so the thread count, and the results, are theirs).
    public static func withThreadCount<T, E: Error>(_ n: Int, _ body: () throws(E) -> T) throws(E) -> T {
        let previous = threadCount
        setThreadCount(n)
        defer { setThreadCount(previous) }
        return try body()
    }

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
