import Testing
@testable import TailForgeNumerics

@Suite struct NearestNeighboursTests {
    static func randomUnitRows(_ n: Int, _ d: Int, seed: UInt64) -> Matrix {
        var rng = Philox4x32(seed: seed, stream: 0)
        var m = Matrix(rows: n, columns: d)
        m.withUnsafeMutableBufferPointer { StandardNormal.fill($0, using: &rng) }
        try! RowNormalization.normalizeRows(&m)
        return m
    }

    static func dot(_ m: Matrix, _ i: Int, _ j: Int) -> Double {
        var s = 0.0
        for c in 0..<m.columns { s += Double(m.storage[i * m.columns + c]) * Double(m.storage[j * m.columns + c]) }
        return s
    }

    /// Brute force in Double: every pair, full sort.
    static func bruteForce(_ m: Matrix, k: Int) -> [[Int32]] {
        (0..<m.rows).map { i in
            let candidates = (0..<m.rows).filter { $0 != i }.map { j in (j, dot(m, i, j)) }
            return candidates.sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }.prefix(k).map { Int32($0.0) }
        }
    }

    @Test(arguments: [(2, 1, 1), (7, 3, 2), (100, 5, 7), (150, 10, 64), (150, 1, 512), (130, 20, 50)])
    func equalsBruteForce(n: Int, k: Int, blockRows: Int) {
        let m = Self.randomUnitRows(n, 16, seed: UInt64(n * 31 + k))
        let result = NearestNeighbours.search(m, k: k, blockRows: blockRows)
        let expected = Self.bruteForce(m, k: min(k, n - 1))
        #expect(result.k == min(k, n - 1))
        for i in 0..<n {
            #expect(Array(result.neighbours(of: i)) == expected[i], "row \(i)")
            let cosines = Array(result.neighbourCosines(of: i))
            #expect(cosines == cosines.sorted(by: >))
            for (j, c) in zip(result.neighbours(of: i), cosines) {
                let exact = Self.dot(m, i, Int(j))
                #expect(abs(Double(c) - exact) < 1e-5)  // Float sgemm over 16 terms
            }
        }
    }

    /// Each pair's similarity is computed once, in the block of its lower row. With a single block every pair
    /// is computed both ways, each row taking its own GEMM row (as the search did before it computed pairs
    /// once): the results must be the same bits, cosines included, at the engine's shape (d = 768) and with
    /// several selection threads, or κ and every synthetic row downstream would change.
    @Test func pairsComputedOnceGiveTheBitsOfEveryPairBothWays() {
        let m = Self.randomUnitRows(700, 768, seed: 11)
        let bothWays = NearestNeighbours.search(m, k: 3, blockRows: 700)
        for (blockRows, threads) in [(512, 1), (64, 2), (100, 1)] {
            let once = NearestNeighbours.search(m, k: 3, blockRows: blockRows, threads: threads)
            #expect(once.indices == bothWays.indices, "blocks of \(blockRows)")
            #expect(once.cosines.map(\.bitPattern) == bothWays.cosines.map(\.bitPattern), "blocks of \(blockRows)")
        }
    }

    @Test func duplicatesAreNeighboursWithCosineOne() {
        var m = Self.randomUnitRows(50, 32, seed: 9)
        // Row 40 becomes an exact copy of row 3.
        for j in 0..<32 { m[40, j] = m[3, j] }
        let result = NearestNeighbours.search(m, k: 2, blockRows: 16)
        #expect(result.neighbours(of: 3).first == 40)
        #expect(result.neighbours(of: 40).first == 3)
        #expect(abs(result.neighbourCosines(of: 3).first! - 1) < 1e-6)
    }

    /// Exactly representable cosines (0 or 1) make ties exact: ties go to the lower index.
    @Test func tiesBreakByLowerIndex() {
        var m = Matrix(rows: 5, columns: 3)
        for i in [0, 1, 2, 4] { m[i, 0] = 1 }
        m[3, 1] = 1
        let result = NearestNeighbours.search(m, k: 4, blockRows: 2)
        #expect(Array(result.neighbours(of: 3)) == [0, 1, 2, 4])
        #expect(Array(result.neighbours(of: 4)) == [0, 1, 2, 3])
        #expect(Array(result.neighbourCosines(of: 4)) == [1, 1, 1, 0])
    }

    @Test func kIsCappedAndSingleRowHasNoNeighbours() {
        let m = Self.randomUnitRows(4, 8, seed: 2)
        let capped = NearestNeighbours.search(m, k: 10)
        #expect(capped.k == 3)
        #expect(capped.indices.count == 12)
        for i in 0..<4 { #expect(Set(capped.neighbours(of: i)) == Set((0..<4).filter { $0 != i }.map(Int32.init))) }
        let single = NearestNeighbours.search(Self.randomUnitRows(1, 8, seed: 3), k: 5)
        #expect(single.k == 0 && single.indices.isEmpty && single.cosines.isEmpty)
        let empty = NearestNeighbours.search(Matrix(rows: 0, columns: 8), k: 5)
        #expect(empty.k == 0 && empty.indices.isEmpty)
    }
}
