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
