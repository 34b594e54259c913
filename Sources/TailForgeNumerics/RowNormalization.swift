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
            let p = UnsafeBufferPointer(buffer)
            for row in 0..<rows {
                if let error = normalizeRow(p.baseAddress! + row * columns, into: buffer.baseAddress! + row * columns,
                                            columns: columns, row: firstRowIndex + row) {
                    return error
                }
            }
            return nil
        }
        if let failure { throw failure }
    }

    /// Writes the unit rows of `source` (`rows × columns` float32 values) into `output`.
    public static func normalizeRows(
        _ source: UnsafeBufferPointer<Float>, columns: Int, into output: UnsafeMutableBufferPointer<Float>, firstRowIndex: Int = 0
    ) throws(RowNormalizationError) {
        try normalizeAll(source, columns: columns, into: output, firstRowIndex: firstRowIndex)
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
