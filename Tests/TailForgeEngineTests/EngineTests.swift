import Foundation
import Testing
@testable import TailForgeEngine
@testable import TailForgeNumerics

/// Unit-norm random rows around a direction, for engine-level tests.
func clusteredRows(count: Int, dimension: Int, kappa: Double, seed: UInt64) -> Matrix {
    var rng = Philox4x32(seed: seed, stream: 99)
    var mean = [Float](repeating: 0, count: dimension)
    mean[0] = 1
    let vmf = VonMisesFisherSampler(dimension: dimension)
    var m = Matrix(rows: count, columns: dimension)
    mean.withUnsafeBufferPointer { mu in
        m.withUnsafeMutableBufferPointer { o in
            for i in 0..<count {
                vmf.sample(mean: mu, kappa: kappa, into: UnsafeMutableBufferPointer(rebasing: o[i * dimension ..< (i + 1) * dimension]), using: &rng)
            }
        }
    }
    return m
}

@Suite struct ConcentrationEstimatorTests {
    @Test func localKappaIsBanerjeeOfTheNearestNeighbour() {
        let rows = clusteredRows(count: 40, dimension: 16, kappa: 50, seed: 1)
        let kappas = ConcentrationEstimator.concentrations(classRows: rows, settings: BalanceSettings())
        let nn = NearestNeighbours.search(rows, k: 1)
        for i in 0..<rows.rows {
            let expected = BanerjeeConcentration.kappa(nearestNeighbourCosine: Double(nn.cosines[i]), dimension: 16)
            // κ is stored as Float and the engine recomputes r from the pair in Double while the search's
            // cosine went through float32 GEMM: at κ ≈ 100, d = 16, a cosine error of 1e-7 moves κ by ~1e-4 relative.
            #expect(abs(Double(kappas[i]) - expected) <= 1e-4 * expected)
        }
    }

    @Test func exactDuplicatesClampToKappaMax() {
        var rows = clusteredRows(count: 5, dimension: 8, kappa: 10, seed: 2)
        for j in 0..<8 { rows[1, j] = rows[0, j] }  // row 1 = row 0
        let kappas = ConcentrationEstimator.concentrations(classRows: rows, settings: BalanceSettings(kappaMax: 1e6))
        #expect(kappas[0] == 1e6 && kappas[1] == 1e6)
        #expect(kappas.allSatisfy { $0.isFinite })
    }

    @Test func singleSampleClassGetsTheMedianFallback() throws {
        var perClass: [[Float]] = [[10, 30, 20], [.nan], [40]]
        let (fallback, classes) = try ConcentrationEstimator.applyFallback(&perClass, file: "x.h5")
        #expect(fallback == 25)  // median of 10, 20, 30, 40
        #expect(classes == [1])
        #expect(perClass[1] == [25])
    }

    @Test func allSingletonClassesAskForAFixedKappa() {
        var perClass: [[Float]] = [[.nan], [.nan]]
        #expect(throws: BalanceError.self) { try ConcentrationEstimator.applyFallback(&perClass, file: "x.h5") }
    }

    @Test func classPolicyGivesOneKappaFromTheMeanResultant() {
        let rows = clusteredRows(count: 200, dimension: 10, kappa: 20, seed: 3)
        let kappas = ConcentrationEstimator.concentrations(classRows: rows, settings: BalanceSettings(kappa: .classwise))
        #expect(Set(kappas).count == 1)
        // 200 draws from vMF(κ = 20): the estimate should land within a factor 1.5 of the truth (standard error of R̄ ≈ 1%).
        #expect(kappas[0] > 20 / 1.5 && kappas[0] < 20 * 1.5)
    }
}

@Suite struct LeaveOneOutKappaTests {
    /// For one vMF(κ) class in high dimension with n ≪ eᵈ members, two members differ by twice the spread a
    /// member has around the mean, so the leave-one-out KDE bandwidth is κ/2: measured with numpy/scipy at
    /// d = 768 (κ = 500, 2,000; n = 20, 100): 1.01–1.13 × κ/2, the nearest-neighbour weighting pulling it up
    /// slowly with n. The bound [0.9, 1.3] × κ/2 holds that with room for sampling noise at n = 20, and a
    /// test of the estimator returning κ itself (or the clamp, or local κ's 2–3× κ) fails it.
    @Test(arguments: [(500.0, 20), (500, 100), (2000, 20), (2000, 100)])
    func looKappaOfOneVMFClassIsHalfItsConcentration(kappa: Double, count: Int) {
        let rows = clusteredRows(count: count, dimension: 768, kappa: kappa, seed: UInt64(count))
        let kappas = ConcentrationEstimator.concentrations(classRows: rows, settings: BalanceSettings(kappa: .leaveOneOut))
        #expect(Set(kappas).count == 1 && kappas.count == count)
        let ratio = Double(kappas[0]) / (kappa / 2)
        #expect(ratio > 0.9 && ratio < 1.3, "κ = \(kappa), n = \(count): loo κ \(kappas[0]) = \(ratio) × κ/2")
    }

    /// At the optimum the leave-one-out score is zero: the softmax-weighted mean cosine of each left-out row
    /// to the others equals A_d(κ̂) (checked to the 4-digit rounding of κ̂ through the score's slope).
    @Test func looKappaZeroesTheScore() {
        let rows = clusteredRows(count: 60, dimension: 64, kappa: 80, seed: 4)
        let kappa = LeaveOneOutConcentration.kappa(rows: rows, range: 1...1e6)
        let objective = LeaveOneOutConcentration.Objective(cosines: BLAS.sgemm(rows, rows, transposeB: true), queries: Array(0..<60), dimension: 64)
        #expect(objective.slope(kappa: kappa * 0.999) > 0 && objective.slope(kappa: kappa * 1.001) < 0, "κ̂ \(kappa)")
    }

    /// L rising across the whole range lands on the upper clamp (near-duplicates), falling on the lower (a
    /// nearly uniform class at d = 32, whose optimum, about 6, lies below a lower clamp of 20).
    @Test func looKappaRespectsTheClamp() {
        var rows = clusteredRows(count: 6, dimension: 32, kappa: 1e5, seed: 5)
        #expect(LeaveOneOutConcentration.kappa(rows: rows, range: 1...1000) == 1000)
        rows = clusteredRows(count: 30, dimension: 32, kappa: 1e-3, seed: 6)
        #expect(LeaveOneOutConcentration.kappa(rows: rows, range: 20...1e6) == 20)
    }

    /// The stated shrinkage: pooled = median κ̂ of classes with ≥ 20 rows; log κ = (n log κ̂ + 10 log pooled)/(n + 10);
    /// single-row classes are left to the fallback.
    @Test func smallClassesShrinkTowardThePooledValue() throws {
        var perClass: [[Float]] = [[Float](repeating: 100, count: 5), [Float](repeating: 400, count: 30),
                                   [Float](repeating: 600, count: 40), [.nan]]
        let (fallback, classes) = try ConcentrationEstimator.applyFallback(&perClass, policy: .leaveOneOut, file: "x.h5")
        func shrunk(_ k: Double, _ n: Double) -> Double { exp((n * log(k) + 10 * log(500)) / (n + 10)) }
        #expect(abs(Double(perClass[0][0]) - shrunk(100, 5)) < 1e-3 * shrunk(100, 5))
        #expect(abs(Double(perClass[1][0]) - shrunk(400, 30)) < 1e-3 * shrunk(400, 30))
        #expect(abs(Double(perClass[2][0]) - shrunk(600, 40)) < 1e-3 * shrunk(600, 40))
        #expect(classes == [3] && perClass[3][0] == fallback)
    }
}

@Suite struct SynthesisTests {
    static let rows = clusteredRows(count: 6, dimension: 32, kappa: 40, seed: 4)

    func block(_ sampler: SamplerKind, classId: Int = 3, seed: UInt64 = 7, reusing buffer: consuming [Float] = []) -> ClassBlock {
        let entry = BalancePlan.ClassEntry(classId: classId, realCount: 6, keptCount: 6, syntheticCount: 50, offset: 0)
        let kappas = [Float](repeating: 200, count: 6)
        return BalanceEngine.synthesize(entry: entry, classRows: Self.rows, sourceRows: (100..<106).map(Int64.init),
                                        kappas: kappas, settings: BalanceSettings(sampler: sampler, seed: seed), reusing: consume buffer)
    }

    @Test(arguments: [SamplerKind.vmf, .gaussian, .smote])
    func aReusedBufferGivesTheSameBlock(sampler: SamplerKind) {
        // Storage left over from a larger block of other rows: only its capacity may be used, never its contents.
        #expect(block(sampler, reusing: [Float](repeating: .nan, count: 300 * 32)) == block(sampler))
        #expect(block(sampler, reusing: [Float](repeating: 9, count: 3)) == block(sampler))
    }

    @Test func recycledStorageIsWhereTheNextBlockIsBuilt() {
        let buffers = ClassBlockBuffers()
        #expect(buffers.take().capacity == 0, "nothing to reuse yet")
        // The first block is written and dropped (its storage handed back) inside this function.
        func writeAndDrop() -> UnsafePointer<Float>? {
            let first = block(.vmf, reusing: buffers.take())
            let address = first.embeddings.storage.withUnsafeBufferPointer { $0.baseAddress }
            buffers.recycle(first)
            return address
        }
        let address = writeAndDrop()
        let second = block(.vmf, classId: 4, reusing: buffers.take())
        #expect(second.embeddings.storage.withUnsafeBufferPointer { $0.baseAddress } == address, "built in the first block's memory")
        #expect(second == block(.vmf, classId: 4))
    }

    /// A recycled block comes back with its old rows, which the next block overwrites instead of clearing them
    /// first (the clearing was the engine's largest cost beyond the draws); the next block is the same either way.
    @Test func recycledStorageKeepsItsRowsUntilOverwritten() {
        let buffers = ClassBlockBuffers()
        do {
            let first = block(.vmf)
            buffers.recycle(first)
        }
        let taken = buffers.take()
        #expect(taken == block(.vmf).embeddings.storage, "the old rows, not an emptied buffer")
        #expect(block(.vmf, classId: 4, reusing: taken) == block(.vmf, classId: 4))
    }

    /// Resizing keeps what storage holds (shrinking drops the tail), zero-fills only what it never held, and
    /// allocates storage too small afresh, zeroed.
    @Test func resizingStorageKeepsItsValuesAndZeroFillsOnlyWhatItNeverHeld() {
        var shrunk: [Float] = [1, 2, 3, 4, 5]
        BalanceEngine.resizeWithoutClearing(&shrunk, to: 3)
        #expect(shrunk == [1, 2, 3])
        var grown = [Float](repeating: 7, count: 2)
        grown.reserveCapacity(6)
        let address = grown.withUnsafeBufferPointer { $0.baseAddress }
        BalanceEngine.resizeWithoutClearing(&grown, to: 5)
        #expect(grown == [7, 7, 0, 0, 0])
        #expect(grown.withUnsafeBufferPointer { $0.baseAddress } == address, "grown in place")
        var fresh: [Float] = [9]
        BalanceEngine.resizeWithoutClearing(&fresh, to: 4096)
        #expect(fresh.count == 4096 && fresh.allSatisfy { $0 == 0 })
        var same: [Float] = [.nan, 2]
        BalanceEngine.resizeWithoutClearing(&same, to: 2)
        #expect(same[0].isNaN && same[1] == 2)
    }

    @Test(arguments: [32, 45, 7])
    func meanSyntheticCosineIsTheMeanOverSyntheticRowsOfTheCosineToTheirSeed(dimension: Int) {
        let rows = clusteredRows(count: 6, dimension: dimension, kappa: 40, seed: 4)
        let entry = BalancePlan.ClassEntry(classId: 0, realCount: 6, keptCount: 6, syntheticCount: 50, offset: 0)
        let block = BalanceEngine.synthesize(entry: entry, classRows: rows, sourceRows: (0..<6).map(Int64.init),
                                             kappas: [Float](repeating: 30, count: 6), settings: BalanceSettings(seed: 7))
        let input = BalanceInput(normalizedEmbeddings: rows, labels: [Int32](repeating: 0, count: 6), classCount: 1)
        let (sum, count) = BalanceRunner.syntheticCosines(block, input: input)
        var expected = 0.0
        for i in 6..<56 {
            let seed = Int(block.sourceIndex[i])
            expected += zip(block.embeddings.row(i), rows.row(seed)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        #expect(count == 50)
        #expect(abs(sum - expected) <= 50 * 1e-5, "sum \(sum), in Double \(expected)")
        #expect(sum / Double(count) < 0.99, "κ = 30 in d = \(dimension) keeps draws away from their seed")
    }

    @Test func aClassThatAddsNoRowsLeavesTheBufferUnused() {
        let entry = BalancePlan.ClassEntry(classId: 2, realCount: 6, keptCount: 6, syntheticCount: 0, offset: 0)
        let made = BalanceEngine.synthesize(entry: entry, classRows: Self.rows, sourceRows: (100..<106).map(Int64.init),
                                            kappas: [Float](repeating: 200, count: 6), settings: BalanceSettings(seed: 7),
                                            reusing: [Float](repeating: .nan, count: 100 * 32))
        #expect(made.embeddings.storage == Self.rows.storage)
    }

    @Test(arguments: [SamplerKind.vmf, .gaussian, .smote])
    func blockHasRealRowsThenUnitNormSyntheticRows(sampler: SamplerKind) {
        let b = block(sampler)
        #expect(b.count == 56)
        #expect(Array(b.embeddings.storage[0 ..< 6 * 32]) == Self.rows.storage)
        #expect(b.isSynthetic == [UInt8](repeating: 0, count: 6) + [UInt8](repeating: 1, count: 50))
        #expect(Array(b.sourceIndex[0..<6]) == (100..<106).map(Int64.init))
        #expect(b.sourceIndex[6...].allSatisfy { (100..<106).contains($0) })
        #expect(b.kappa[0..<6].allSatisfy { $0 == 0 })
        for i in 0..<b.count {
            let norm = b.embeddings.row(i).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
        }
    }

    @Test func drawsDependOnlyOnSeedAndClass() {
        #expect(block(.vmf) == block(.vmf))
        #expect(block(.vmf, classId: 3) != block(.vmf, classId: 4))
        #expect(block(.vmf, seed: 7) != block(.vmf, seed: 8))
    }
}

/// The vMF kernel makes each centre's envelope once; a draw asked at another κ than the centre's must still use
/// the κ it is given (the drift guard and any caller pass κ per draw).
@Suite struct VMFKernelSamplerTests {
    @Test func drawsUseTheKappaTheyAreGiven() {
        let centres = clusteredRows(count: 3, dimension: 64, kappa: 50, seed: 4)
        let kernel = VMFKernelSampler(centres: centres, kappas: [10, 200, 3000])
        let plain = VonMisesFisherSampler(dimension: 64)
        for (centre, kappa) in [(0, Float(10)), (1, 200), (2, 3000), (1, 7), (2, 1e6)] {
            var kernelRNG = ClassRandomStream(seed: 5, stream: UInt64(centre)), plainRNG = kernelRNG
            var a = [Float](repeating: 0, count: 64), b = [Float](repeating: 0, count: 64)
            let recorded = a.withUnsafeMutableBufferPointer { kernel.drawOne(centre: centre, kappa: kappa, into: $0, using: &kernelRNG) }
            centres.storage.withUnsafeBufferPointer { c in
                b.withUnsafeMutableBufferPointer {
                    plain.sample(mean: UnsafeBufferPointer(rebasing: c[centre * 64 ..< (centre + 1) * 64]), kappa: Double(kappa), into: $0, using: &plainRNG)
                }
            }
            #expect(recorded == kappa)
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "centre \(centre), κ \(kappa)")
        }
    }
}
