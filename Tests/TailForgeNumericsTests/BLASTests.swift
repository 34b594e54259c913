import Testing
@testable import TailForgeNumerics

@Suite struct BLASTests {
    @Test func sgemmMultipliesWithTransposes() {
        let a = Matrix(rows: 2, columns: 3, storage: [1, 2, 3, 4, 5, 6])
        let b = Matrix(rows: 3, columns: 2, storage: [7, 8, 9, 10, 11, 12])
        #expect(BLAS.sgemm(a, b).storage == [58, 64, 139, 154])
        // A·Aᵀ.
        #expect(BLAS.sgemm(a, a, transposeB: true).storage == [14, 32, 32, 77])
        // Aᵀ·A is 3×3.
        let ata = BLAS.sgemm(a, transposeA: true, a)
        #expect(ata.rows == 3 && ata.columns == 3 && ata.storage == [17, 22, 27, 22, 29, 36, 27, 36, 45])
    }

    @Test func useOneThreadPinsOpenBLASToOneThread() {
        BLAS.useOneThread()
        #expect(BLAS.threadCount == 1)
    }
}
