import Testing
@testable import TailForgeNumerics

@Suite struct RowNormalizationTests {
    @Test func rowsBecomeUnitLength() throws {
        var m = Matrix(rows: 3, columns: 2, storage: [3, 4, 0, -2, 1e30, 1e30])
        try RowNormalization.normalizeRows(&m)
        #expect(m.storage[0] == 0.6 && m.storage[1] == 0.8)
        #expect(m.storage[2] == 0 && m.storage[3] == -1)
        // 1e30² overflows Float; the Double norm does not.
        #expect(abs(m.storage[4] - Float(0.5.squareRoot())) < 1e-7)
    }

    @Test func zeroRowIsReportedWithInputRowNumber() {
        var m = Matrix(rows: 3, columns: 2, storage: [1, 0, 0, 0, 1, 1])
        #expect(throws: RowNormalizationError.zeroRow(row: 101)) {
            try RowNormalization.normalizeRows(&m, firstRowIndex: 100)
        }
    }

    @Test func nonFiniteValueIsReportedWithRowAndColumn() {
        var m = Matrix(rows: 2, columns: 3, storage: [1, 0, 0, 1, .infinity, 0])
        #expect(throws: RowNormalizationError.nonFiniteRow(row: 1, column: 1)) { try RowNormalization.normalizeRows(&m) }
        var n = Matrix(rows: 1, columns: 3, storage: [0, 0, .nan])
        #expect(throws: RowNormalizationError.nonFiniteRow(row: 7, column: 2)) {
            try RowNormalization.normalizeRows(&n, firstRowIndex: 7)
        }
        #expect(RowNormalizationError.zeroRow(row: 4).description.contains("row 4"))
    }
}

@Suite struct RowNormalizationFromDoubleTests {
    /// A float32 row, its float64 copy scaled by `scale` (exactly, as the scales are powers of ten applied in
    /// Double, within one Double ulp), and the float32 unit row both should give.
    func unitRows(scale: Double) throws -> (expected: [Float], fromDouble: [Float]) {
        let row: [Float] = [0.3, -1.7, 2.25, 0.001, -0.5, 4]
        var expected = Matrix(rows: 1, columns: row.count, storage: row)
        try RowNormalization.normalizeRows(&expected)
        let wide = row.map { Double($0) * scale }
        var out = [Float](repeating: .nan, count: row.count)
        try wide.withUnsafeBufferPointer { source in
            try out.withUnsafeMutableBufferPointer { try RowNormalization.normalizeRows(source, columns: row.count, into: $0) }
        }
        return (expected.storage, out)
    }

    /// Rows far outside float32's range are valid float64 embeddings: casting first would make them zeros or
    /// infinities. The scaled copy differs from the original by at most one Double ulp per value, far below
    /// half a Float ulp, so the unit rows agree to within one Float ulp (in practice exactly).
    @Test(arguments: [1e-50, 1e39, 1e300, 1e-300, Double.leastNormalMagnitude / 1024, 20, 0.1])
    func float64RowsAtAnyScaleNormaliseToTheSameUnitRow(scale: Double) throws {
        let (expected, actual) = try unitRows(scale: scale)
        for (e, a) in zip(expected, actual) { #expect(abs(e - a) <= e.ulp, "scale \(scale)") }
    }

    /// Without the rescue for huge rows, 1e300² overflows to +∞ and every value would come out 0.
    @Test func hugeFloat64RowsAreNotZeroedByOverflow() throws {
        let (_, actual) = try unitRows(scale: 1e300)
        #expect(actual.allSatisfy { $0 != 0 && $0.isFinite })
    }

    /// Float rows take the same arithmetic through the buffer entry point as in place.
    @Test func floatBufferPathIsBitIdenticalToInPlace() throws {
        let values: [Float] = [3e38, -Float.leastNonzeroMagnitude, 2, 7, 1e-20, -3e38, 0.5, 0.25]
        var inPlace = Matrix(rows: 2, columns: 4, storage: values)
        try RowNormalization.normalizeRows(&inPlace)
        var out = [Float](repeating: 0, count: 8)
        try values.withUnsafeBufferPointer { source in
            try out.withUnsafeMutableBufferPointer { try RowNormalization.normalizeRows(source, columns: 4, into: $0) }
        }
        #expect(out == inPlace.storage)
    }

    @Test func badDoubleRowsAreReportedWithTheirRowNumbers() {
        let zeros: [Double] = [1, 2, 0, 0]
        var out = [Float](repeating: 0, count: 4)
        #expect(throws: RowNormalizationError.zeroRow(row: 11)) {
            try zeros.withUnsafeBufferPointer { source in
                try out.withUnsafeMutableBufferPointer { try RowNormalization.normalizeRows(source, columns: 2, into: $0, firstRowIndex: 10) }
            }
        }
        let infinite: [Double] = [1, .infinity]
        #expect(throws: RowNormalizationError.nonFiniteRow(row: 0, column: 1)) {
            try infinite.withUnsafeBufferPointer { source in
                try out.withUnsafeMutableBufferPointer { try RowNormalization.normalizeRows(source, columns: 2, into: $0) }
            }
        }
    }
}

/// Float rows are normalised eight at a time (interleaved sums); the bits must be those of the one-row-at-a-time
/// formula every balanced file and model was made with, and errors must stop at the offending row.
@Suite struct RowNormalizationGroupTests {
    /// The per-row formula: the Double sum of squares in column order, then each value times 1/√sum.
    static func reference(_ row: ArraySlice<Float>) -> [Float] {
        var sum = 0.0
        for v in row { sum += Double(v) * Double(v) }
        let inverse = 1 / sum.squareRoot()
        return row.map { Float(Double($0) * inverse) }
    }

    static func rows(count: Int, columns: Int, seed: UInt64) -> [Float] {
        var rng = Philox4x32(seed: seed, stream: 0)
        var values = [Float](repeating: 0, count: count * columns)
        values.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &rng) }
        // Rows at very different scales, including Float's extremes.
        let scales: [Float] = [1, 1e-30, 1e30, Float.leastNormalMagnitude / 4, 1e18, 0.5, 7, 1e-3]
        for r in 0..<count { for j in 0..<columns { values[r * columns + j] *= scales[r % scales.count] } }
        return values
    }

    @Test(arguments: [(19, 768), (8, 3), (17, 1), (7, 5), (64, 33)])
    func groupsGiveTheBitsOfOneRowAtATime(count: Int, columns: Int) throws {
        let values = Self.rows(count: count, columns: columns, seed: UInt64(count * 1000 + columns))
        let expected = (0..<count).flatMap { Self.reference(values[$0 * columns ..< ($0 + 1) * columns]) }
        var inPlace = Matrix(rows: count, columns: columns, storage: values)
        try RowNormalization.normalizeRows(&inPlace)
        #expect(inPlace.storage.map(\.bitPattern) == expected.map(\.bitPattern))
        var out = [Float](repeating: .nan, count: values.count)
        try values.withUnsafeBufferPointer { source in
            try out.withUnsafeMutableBufferPointer { try RowNormalization.normalizeRows(source, columns: columns, into: $0) }
        }
        #expect(out.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    /// A bad row inside a group of eight: reported with its number; rows before it done, rows after untouched.
    @Test(arguments: [Float.infinity, .nan, 0])
    func badRowInsideAGroupStopsThere(bad: Float) {
        let columns = 4
        var values = Self.rows(count: 12, columns: columns, seed: 5)
        let badRow = 5
        if bad == 0 {
            for j in 0..<columns { values[badRow * columns + j] = 0 }
        } else {
            values[badRow * columns + 2] = bad
        }
        var m = Matrix(rows: 12, columns: columns, storage: values)
        let expectedError: RowNormalizationError = bad == 0 ? .zeroRow(row: 105) : .nonFiniteRow(row: 105, column: 2)
        #expect(throws: expectedError) { try RowNormalization.normalizeRows(&m, firstRowIndex: 100) }
        for r in 0..<badRow {
            #expect(Array(m.storage[r * columns ..< (r + 1) * columns]) == Self.reference(values[r * columns ..< (r + 1) * columns]))
        }
        for r in (badRow + 1)..<12 {
            #expect(Array(m.storage[r * columns ..< (r + 1) * columns]).map(\.bitPattern)
                    == Array(values[r * columns ..< (r + 1) * columns]).map(\.bitPattern))
        }
    }
}
