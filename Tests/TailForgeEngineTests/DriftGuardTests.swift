import Foundation
import Testing
@testable import TailForgeEngine
@testable import TailForgeNumerics
import TailForgeStorage
import TailForgeTestSupport

/// Unit rows drawn from vMF(mean, κ).
func vmfRows(mean: [Float], count: Int, kappa: Double, seed: UInt64) -> Matrix {
    var rng = Philox4x32(seed: seed, stream: 7)
    let d = mean.count
    var m = Matrix(rows: count, columns: d)
    let vmf = VonMisesFisherSampler(dimension: d)
    mean.withUnsafeBufferPointer { mu in
        m.withUnsafeMutableBufferPointer { o in
            for i in 0..<count { vmf.sample(mean: mu, kappa: kappa, into: UnsafeMutableBufferPointer(rebasing: o[i * d ..< (i + 1) * d]), using: &rng) }
        }
    }
    return m
}

/// A unit vector at angle θ from e₀ in the (e₀, e₁) plane.
func direction(_ d: Int, angle: Double) -> [Float] {
    var v = [Float](repeating: 0, count: d)
    v[0] = Float(cos(angle))
    v[1] = Float(sin(angle))
    return v
}

/// `balance --drift-guard`: the class posterior under every class's real-row vMF-KDE, and what the engine does
/// with rows that fail it.
@Suite struct DriftGuardTests {
    static let d = 32
    /// Two classes whose means are 60° apart, each 20 rows of vMF(μ, 200) (mean cosine to μ ≈ 0.92).
    static let classA = vmfRows(mean: direction(d, angle: 0), count: 20, kappa: 200, seed: 1)
    static let classB = vmfRows(mean: direction(d, angle: .pi / 3), count: 20, kappa: 200, seed: 2)

    static func twoClassGuard(threshold: Double = 0.5, retries: Int = 10) -> DriftGuard {
        var rows = classA
        rows.appendRows(classB)
        let kappas = ConcentrationEstimator.concentrations(classRows: classA, settings: BalanceSettings())
            + ConcentrationEstimator.concentrations(classRows: classB, settings: BalanceSettings())
        return DriftGuard(rows: rows, kappas: kappas, classRanges: [0..<20, 20..<40], threshold: threshold, retries: retries)
    }

    @Test func rejectsRowsPlantedInsideAnotherClassAndKeepsTheClassesOwnDraws() {
        let guardian = Self.twoClassGuard()
        // Fresh draws from each class's own distribution, labelled class A.
        let own = vmfRows(mean: direction(Self.d, angle: 0), count: 300, kappa: 200, seed: 11)
        let planted = vmfRows(mean: direction(Self.d, angle: .pi / 3), count: 300, kappa: 200, seed: 12)
        let ownPosterior = guardian.posterior(of: own, classId: 0)
        let plantedPosterior = guardian.posterior(of: planted, classId: 0)
        #expect(ownPosterior.allSatisfy { $0 >= 0.5 }, "kept: \(ownPosterior.filter { $0 >= 0.5 }.count) of 300")
        #expect(plantedPosterior.allSatisfy { $0 < 0.5 }, "rejected: \(plantedPosterior.filter { $0 < 0.5 }.count) of 300")
    }

    @Test func posteriorsOfAllClassesSumToOne() {
        let guardian = Self.twoClassGuard()
        // Rows between the classes, where neither posterior is 0 or 1.
        let between = vmfRows(mean: direction(Self.d, angle: .pi / 6), count: 50, kappa: 400, seed: 13)
        let a = guardian.posterior(of: between, classId: 0), b = guardian.posterior(of: between, classId: 1)
        for i in 0..<50 { #expect(abs(a[i] + b[i] - 1) < 1e-9) }
        #expect(a.contains { $0 > 0.01 && $0 < 0.99 }, "some row must be genuinely between the classes")
    }

    /// Against the posterior computed directly in Double with the closed-form normaliser C₃(κ) = κ/(4π sinh κ),
    /// for classes with very different κ (so the normaliser decides). Tolerance 1e-5: the cosines are single
    /// precision (relative error ~1e-7, times κ ≤ 50).
    @Test func matchesTheDirectPosteriorWithClassesOfDifferentKappa() {
        let a = vmfRows(mean: [1, 0, 0], count: 15, kappa: 50, seed: 3)
        let b = vmfRows(mean: [0, 1, 0], count: 25, kappa: 3, seed: 4)
        var rows = a
        rows.appendRows(b)
        let kappas = [Float](repeating: 50, count: 15) + [Float](repeating: 3, count: 25)
        let guardian = DriftGuard(rows: rows, kappas: kappas, classRanges: [0..<15, 15..<40], threshold: 0.5, retries: 1)
        let queries = vmfRows(mean: [0.6, 0.8, 0], count: 40, kappa: 2, seed: 5)
        let got = guardian.posterior(of: queries, classId: 0)
        func density(_ x: ArraySlice<Float>, _ range: Range<Int>) -> Double {
            range.reduce(0.0) { sum, j in
                let k = Double(kappas[j])
                let cosine = zip(x, rows.row(j)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                return sum + k / (4 * .pi * sinh(k)) * exp(k * cosine)
            } / Double(range.count)
        }
        for i in 0..<40 {
            let pa = density(queries.row(i), 0..<15), pb = density(queries.row(i), 15..<40)
            #expect(abs(got[i] - pa / (pa + pb)) < 1e-5, "row \(i): \(got[i]) vs \(pa / (pa + pb))")
        }
    }

    /// Class A's 20 real rows plus one mislabelled row sitting inside class B: draws around it land in B.
    static func classWithOutlier() -> (rows: Matrix, guardian: DriftGuard, kappas: [Float]) {
        var rowsA = classA
        rowsA.appendRows(Matrix(rows: 1, columns: d, storage: Array(classB.row(0))))
        let kappas = [Float](repeating: 300, count: 21)
        var all = rowsA
        all.appendRows(classB)
        let guardian = DriftGuard(rows: all, kappas: kappas + [Float](repeating: 300, count: 20), classRanges: [0..<21, 21..<41],
                                  threshold: 0.5, retries: 10)
        return (rowsA, guardian, kappas)
    }

    func synthesize(rows: Matrix, kappas: [Float], guardian: DriftGuard?, count: Int = 200) -> ClassBlock {
        let entry = BalancePlan.ClassEntry(classId: 0, realCount: rows.rows, keptCount: rows.rows, syntheticCount: count, offset: 0)
        return BalanceEngine.synthesize(entry: entry, classRows: rows, sourceRows: (0..<rows.rows).map(Int64.init), kappas: kappas,
                                        settings: BalanceSettings(seed: 3), driftGuard: guardian)
    }

    @Test func theEngineRedrawsRowsThatDriftIntoAnotherClass() {
        let (rows, guardian, kappas) = Self.classWithOutlier()
        let plain = synthesize(rows: rows, kappas: kappas, guardian: nil)
        let guarded = synthesize(rows: rows, kappas: kappas, guardian: guardian)
        let synthetic = Matrix(rows: 200, columns: Self.d, storage: Array(plain.embeddings.storage[21 * Self.d ..< 221 * Self.d]))
        let drifted = guardian.posterior(of: synthetic, classId: 0).filter { $0 < 0.5 }.count
        #expect(drifted > 0, "without the guard, rows drawn around the outlier lie inside class B")
        #expect(plain.sourceIndex.filter { $0 == 20 }.count >= drifted)

        let report = try! #require(guarded.driftGuard)
        #expect(report.rejected >= drifted && report.replacedBySeed == 0)
        let kept = Matrix(rows: 200, columns: Self.d, storage: Array(guarded.embeddings.storage[21 * Self.d ..< 221 * Self.d]))
        #expect(guardian.posterior(of: kept, classId: 0).allSatisfy { $0 >= 0.5 })
        #expect(guarded.count == plain.count && guarded.isSynthetic == plain.isSynthetic)
        // Rows that passed at the first check are the plain run's rows, untouched.
        let firstPass = guardian.posterior(of: synthetic, classId: 0)
        for i in 0..<200 where firstPass[i] >= 0.5 {
            #expect(guarded.embeddings.row(21 + i) == plain.embeddings.row(21 + i))
        }
    }

    @Test func aClassThatDoesNotDriftIsLeftBitIdentical() {
        let guardian = Self.twoClassGuard()
        let kappas = [Float](repeating: 200, count: 20)
        let plain = synthesize(rows: Self.classA, kappas: kappas, guardian: nil)
        let guarded = synthesize(rows: Self.classA, kappas: kappas, guardian: guardian)
        #expect(guarded.driftGuard == DriftGuardClassReport(rejected: 0, replacedBySeed: 0))
        #expect(guarded.embeddings == plain.embeddings && guarded.sourceIndex == plain.sourceIndex && guarded.kappa == plain.kappa)
    }

    @Test func withoutRetriesARejectedSlotBecomesACopyOfItsSeed() {
        let (rows, full, kappas) = Self.classWithOutlier()
        let guardian = DriftGuard(rows: full.rows, kappas: kappas + [Float](repeating: 300, count: 20), classRanges: full.classRanges,
                                  threshold: 0.5, retries: 0)
        let block = synthesize(rows: rows, kappas: kappas, guardian: guardian)
        let report = try! #require(block.driftGuard)
        #expect(report.rejected > 0 && report.replacedBySeed == report.rejected)
        let copies = (21..<221).filter { block.kappa[$0] == 0 }
        #expect(copies.count == report.replacedBySeed)
        for r in copies { #expect(block.embeddings.row(r) == rows.row(Int(block.sourceIndex[r]))) }
    }

    // MARK: - Whole jobs

    /// Wide kernels over classes that all sit around one direction: many draws land where another class is denser.
    static let guarded = BalanceSettings(kappa: .fixed(20), seed: 5, driftGuard: 0.5, driftRetries: 3)

    @Test func guardedOutputIsTheSameBytesForAnyThreadCount() throws {
        let dir = TemporaryDirectory("engine")
        let input = try BalanceRunnerTests.smallInput(in: dir)
        let one = dir.file("one.h5"), three = dir.file("three.h5")
        let s1 = try BalanceRunner(input: InputSpec(path: input), outputPath: one, settings: Self.guarded, threads: 1).run()
        let s3 = try BalanceRunner(input: InputSpec(path: input), outputPath: three, settings: Self.guarded, threads: 3).run()
        #expect(try Data(contentsOf: URL(fileURLWithPath: one)) == Data(contentsOf: URL(fileURLWithPath: three)))
        let g = try #require(s1.driftGuard)
        #expect(g.rejectedPerClass == s3.driftGuard?.rejectedPerClass && g.rejectedPerClass.count == 5)
        // The small input's classes all sit around one direction, so the guard has work to do.
        #expect(g.rejected > 0)
        #expect(s1.render().contains("drift guard"))

        let attributes = try HDF5File.open(path: one).rootAttributes()
        #expect(attributes["drift_guard_threshold"] == .double(0.5) && attributes["drift_guard_retries"] == .int(3))
        #expect(try BalanceSettings(attributes: attributes) == Self.guarded)
        // The guard changes the set, so its identity differs from the unguarded set's.
        let plain = dir.file("plain.h5")
        _ = try BalanceRunner(input: InputSpec(path: input), outputPath: plain, settings: BalanceSettings(kappa: .fixed(20), seed: 5), threads: 2).run()
        let plainAttributes = try HDF5File.open(path: plain).rootAttributes()
        #expect(plainAttributes["drift_guard_threshold"] == nil)
        #expect(plainAttributes["balanced_sha256"] != attributes["balanced_sha256"])
    }

    @Test(arguments: [(0.0, 10), (1.0, 10), (-0.5, 10), (0.5, -1), (0.5, 1_001)])
    func settingsOutOfRangeAreRefused(threshold: Double, retries: Int) {
        #expect(throws: BalanceSettingsError.self) { try BalanceSettings(driftGuard: threshold, driftRetries: retries).validate() }
    }

    @Test func manifestSettingsRoundTrip() throws {
        let encoded = try JSONEncoder().encode(Self.guarded)
        #expect(try JSONDecoder().decode(BalanceSettings.self, from: encoded) == Self.guarded)
        let unguarded = try JSONEncoder().encode(BalanceSettings(kappa: .fixed(20), seed: 5))
        #expect(!String(decoding: unguarded, as: UTF8.self).contains("drift"), "unguarded records keep their bytes")
    }
}
