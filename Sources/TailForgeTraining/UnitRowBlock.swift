import TailForgeNumerics

/// A block of a matrix's rows scaled to unit length exactly as every TailForge reader does (``RowNormalization``),
/// widened to exactly unit Double rows for the vMF mixture's dot products (‖θ‖ reaches 1e5, so Float dots would lose the
/// differences between classes).
enum UnitRowBlock {
    /// Rows `rows` of `matrix` as unit rows, `[rows.count × columns]` row-major; a zero or non-finite row is
    /// reported by its row number in `matrix`, under `source`.
    static func doubles(_ matrix: Matrix, rows: Range<Int>, source: String) -> Result<[Double], TrainingError> {
        let columns = matrix.columns
        var unit = [Float](repeating: 0, count: rows.count * columns)
        let failure: RowNormalizationError? = matrix.storage.withUnsafeBufferPointer { all in
            unit.withUnsafeMutableBufferPointer { out in
                do throws(RowNormalizationError) {
                    try RowNormalization.normalizeRows(UnsafeBufferPointer(rebasing: all[rows.lowerBound * columns ..< rows.upperBound * columns]),
                                                       columns: columns, into: out, firstRowIndex: rows.lowerBound)
                    return nil
                } catch {
                    return error
                }
            }
        }
        switch failure {
        case .zeroRow(let row): return .failure(.zeroRow(shard: source, row: row))
        case .nonFiniteRow(let row, let column): return .failure(.nonFiniteValue(shard: source, row: row, column: column))
        case nil: return .success(unit.withUnsafeBufferPointer { widen($0, columns: columns) })
        }
    }

    /// Unit Float rows widened to Double and divided by their Double norm: a unit Float row's ‖x‖² is 1 only to
    /// ~1e-7, and the density's ‖θ + κx‖² = ‖θ‖² + 2κθ·x + κ² takes it as 1, which at κ ~ 1e4 would move log p by
    /// ~1e-4.
    static func widen(_ unit: UnsafeBufferPointer<Float>, columns: Int) -> [Double] {
        var out = [Double](repeating: 0, count: unit.count)
        for start in stride(from: 0, to: unit.count, by: columns) {
            var sum = 0.0
            for t in start ..< start + columns { sum += Double(unit[t]) * Double(unit[t]) }
            let inverse = 1 / sum.squareRoot()
            for t in start ..< start + columns { out[t] = Double(unit[t]) * inverse }
        }
        return out
    }
}
