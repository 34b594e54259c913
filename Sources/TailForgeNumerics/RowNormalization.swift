/// Scales each row of a matrix to unit Euclidean length (norms accumulated in Double).
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
            let base = buffer.baseAddress!
            for row in 0..<rows {
                let p = base + row * columns
                var sum = 0.0
                for j in 0..<columns {
                    let v = p[j]
                    guard v.isFinite else { return .nonFiniteRow(row: firstRowIndex + row, column: j) }
                    sum += Double(v) * Double(v)
                }
                guard sum > 0 else { return .zeroRow(row: firstRowIndex + row) }
                let inverse = 1 / sum.squareRoot()
                for j in 0..<columns { p[j] = Float(Double(p[j]) * inverse) }
            }
            return nil
        }
        if let failure { throw failure }
    }
}
