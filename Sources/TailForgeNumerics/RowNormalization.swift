/// Scales each row of a matrix to unit Euclidean length (norms accumulated in Double).
///
/// Every command that reads embeddings goes through here, so `balance`, `train`, `evaluate` and `predict` see
/// the same unit rows for the same input, whatever its scale or on-disk precision.
public enum RowNormalization {
    /// Normalises every row of `m` in place. On error, rows before the offending one are already normalised
    /// and the rest untouched. `firstRowIndex` is added to reported row numbers.
    public static func normalizeRows(_ m: inout Matrix, firstRowIndex: Int = 0) throws(RowNormalizationError) {
        let columns = m.columns, rows = m.rows
        guard columns > 0 else {
            if rows > 0 { throw .zeroRow(row: firstRowIndex) }
            return
        }
        let failure: RowNormalizationError? = m.storage.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return nil }
            return normalizeFloatRows(UnsafePointer(base), into: base, rows: rows, columns: columns, firstRowIndex: firstRowIndex)
        }
        if let failure { throw failure }
    }

    /// Writes the unit rows of `source` (`rows × columns` float32 values) into `output`.
    public static func normalizeRows(
        _ source: UnsafeBufferPointer<Float>, columns: Int, into output: UnsafeMutableBufferPointer<Float>, firstRowIndex: Int = 0
    ) throws(RowNormalizationError) {
        precondition(columns > 0 && source.count % columns == 0 && output.count >= source.count,
                     "row normalisation: \(source.count) values do not fit \(columns) columns and \(output.count) outputs")
        guard let input = source.baseAddress, let out = output.baseAddress else { return }
        if let error = normalizeFloatRows(input, into: out, rows: source.count / columns, columns: columns, firstRowIndex: firstRowIndex) {
            throw error
        }
    }

    /// Writes the unit rows of `source` (`rows × columns` float64 values) into `output` as float32. The norm is
    /// taken in Double before anything is rounded to Float, so rows at any finite Double scale (1e-300 or
    /// 1e300) are valid: casting them to Float first would make them all zeros or infinite.
    public static func normalizeRows(
        _ source: UnsafeBufferPointer<Double>, columns: Int, into output: UnsafeMutableBufferPointer<Float>, firstRowIndex: Int = 0
    ) throws(RowNormalizationError) {
        try normalizeAll(source, columns: columns, into: output, firstRowIndex: firstRowIndex)
    }

    private static func normalizeAll<Source: BinaryFloatingPoint>(
        _ source: UnsafeBufferPointer<Source>, columns: Int, into output: UnsafeMutableBufferPointer<Float>, firstRowIndex: Int
    ) throws(RowNormalizationError) {
        precondition(columns > 0 && source.count % columns == 0 && output.count >= source.count,
                     "row normalisation: \(source.count) values do not fit \(columns) columns and \(output.count) outputs")
        guard let input = source.baseAddress, let out = output.baseAddress else { return }
        for row in 0 ..< source.count / columns {
            if let error = normalizeRow(input + row * columns, into: out + row * columns, columns: columns, row: firstRowIndex + row) {
                throw error
            }
        }
    }

    /// Float rows, eight at a time, with the same bits as ``normalizeRow(_:into:columns:row:)`` one by one: each
    /// row's sum of squares is still one Double chain in column order, but eight rows' chains interleave, so their
    /// adds overlap instead of each waiting on the one before (one chain took ≈ 1.5 µs per 768-d row, as long as
    /// drawing a vMF sample, and every read and regeneration of a balanced set goes through here). For Float values
    /// the squares are exact in Double and cannot overflow it, and a non-zero one is far above 2⁻⁴⁰⁰, so the sum
    /// alone tells a plain row (finite and positive) from one the per-row code must settle (an error). The sums
    /// of a group are taken before any of its rows is written (`source` and `output` may be the same memory),
    /// and rows are written in order, so on an error the rows before it are done and the rest untouched.
    private static func normalizeFloatRows(
        _ input: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int, columns: Int, firstRowIndex: Int
    ) -> RowNormalizationError? {
        var row = 0
        while row + 8 <= rows {
            let p = input + row * columns
            var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0
            for j in 0..<columns {
                let v0 = Double(p[j]), v1 = Double(p[columns + j]), v2 = Double(p[2 * columns + j]), v3 = Double(p[3 * columns + j])
                let v4 = Double(p[4 * columns + j]), v5 = Double(p[5 * columns + j]), v6 = Double(p[6 * columns + j])
                let v7 = Double(p[7 * columns + j])
                s0 += v0 * v0
                s1 += v1 * v1
                s2 += v2 * v2
                s3 += v3 * v3
                s4 += v4 * v4
                s5 += v5 * v5
                s6 += v6 * v6
                s7 += v7 * v7
            }
            let sums = SIMD8<Double>(s0, s1, s2, s3, s4, s5, s6, s7)
            for l in 0..<8 {
                let sum = sums[l]
                let source = p + l * columns, output = out + (row + l) * columns
                guard sum > 0, sum.isFinite else {
                    if let error = normalizeRow(source, into: output, columns: columns, row: firstRowIndex + row + l) { return error }
                    continue
                }
                let inverse = 1 / sum.squareRoot()
                for j in 0..<columns { output[j] = Float(Double(source[j]) * inverse) }
            }
            row += 8
        }
        for r in row..<rows {
            if let error = normalizeRow(input + r * columns, into: out + r * columns, columns: columns, row: firstRowIndex + r) { return error }
        }
        return nil
    }

    /// One row; `source` and `output` may be the same memory. Returns the problem instead of throwing so the
    /// loops above stay free of error boxing.
    @inline(__always)
    private static func normalizeRow<Source: BinaryFloatingPoint>(
        _ source: UnsafePointer<Source>, into output: UnsafeMutablePointer<Float>, columns: Int, row: Int
    ) -> RowNormalizationError? {
        var largest = 0.0, sum = 0.0
        for j in 0..<columns {
            let v = Double(source[j])
            guard v.isFinite else { return .nonFiniteRow(row: row, column: j) }
            largest = max(largest, abs(v))
            sum += v * v
        }
        guard largest > 0 else { return .zeroRow(row: row) }
        // Squares of every float32 value fit in Double, so such rows (and float64 rows of ordinary scale) take
        // the plain path. Only float64 rows whose squares overflow or underflow Double are divided by their
        // largest entry first.
        if largest <= 0x1p400 && largest >= 0x1p-400 {
            let inverse = 1 / sum.squareRoot()
            for j in 0..<columns { output[j] = Float(Double(source[j]) * inverse) }
        } else {
            sum = 0
            for j in 0..<columns {
                let v = Double(source[j]) / largest
                sum += v * v
            }
            let norm = sum.squareRoot()
            for j in 0..<columns { output[j] = Float(Double(source[j]) / largest / norm) }
        }
        return nil
    }
}
