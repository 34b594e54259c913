import Foundation
import Testing
import TailForgeNumerics
@testable import TailForgeTraining

/// Fitting a vMF mixture: mode recovery, the choice of K, κ, a classifier, determinism, bad input.
@Suite struct VMFMixtureFitterTests {
    static let dimension = 64
    static func settings(maxModes: Int = 3) -> VMFMixtureSettings {
        VMFMixtureSettings(maxModes: maxModes, priorConcentration: 2 * Double(dimension), seed: 7)
    }

    /// Two random (so nearly orthogonal) modes at d = 64, 150 rows each at κ = 300: the clusters' directions are
    /// within cos 0.99 of the modes (a mode's 150-row mean direction is within ~1 − 63/(2·300·150) ≈ 0.9993).
    @Test func kMeansRecoversTwoModes() {
        let data = VMFMixtureTestData.classes(dimension: Self.dimension, counts: [300], modes: [2], kappa: 300, seed: 11)
        var generator = Xoshiro256PlusPlus(seed: 1, stream: 1)
        let clustering = SphericalKMeans.cluster(rows: data.rows.storage.map(Double.init), count: 300, dimension: Self.dimension,
                                                 clusters: 2, using: &generator)
        #expect(clustering.counts == [150, 150])
        let sums = (0 ..< 2).map { Array(clustering.sums[$0 * Self.dimension ..< ($0 + 1) * Self.dimension]) }
        let direct = VMFMixtureTestData.cosine(sums[0], data.modes[0][0]) + VMFMixtureTestData.cosine(sums[1], data.modes[0][1])
        let swapped = VMFMixtureTestData.cosine(sums[0], data.modes[0][1]) + VMFMixtureTestData.cosine(sums[1], data.modes[0][0])
        let (first, second) = direct > swapped ? (sums[0], sums[1]) : (sums[1], sums[0])
        #expect(VMFMixtureTestData.cosine(first, data.modes[0][0]) > 0.99)
        #expect(VMFMixtureTestData.cosine(second, data.modes[0][1]) > 0.99)
    }

    /// The marginal likelihood gives the two-mode class two modes and the one-mode class one, out of K ≤ 3.
    @Test(arguments: [100, 300])
    func marginalLikelihoodChoosesTheNumberOfModes(rowsPerClass: Int) throws {
        let data = VMFMixtureTestData.classes(dimension: Self.dimension, counts: [rowsPerClass, rowsPerClass], modes: [2, 1], kappa: 300, seed: 12)
        let fit = try VMFMixtureFitter.fit(rows: data.rows, labels: data.labels, classCount: 2, settings: Self.settings(), threads: 2)
        #expect(fit.modesPerClass == [2, 1])
        #expect(fit.classCounts == [rowsPerClass, rowsPerClass])
        #expect(fit.model.modesPerClass == [2, 1])
    }

    /// κ from the pooled unbiased mean resultant and Banerjee's approximation, one mode per class, n = 50…400 at
    /// d = 64, κ = 100…1000. Banerjee's approximation is within ~1 % here; the estimate's sampling spread at
    /// n = 50 is about (d − 1)/(κ·n·A²)… ≈ 3 % relative, so 10 % is over three spreads.
    @Test(arguments: [(50, 100.0), (50, 1000.0), (400, 300.0)])
    func concentrationIsEstimatedWithinTenPercent(rows: Int, kappa: Double) throws {
        let data = VMFMixtureTestData.classes(dimension: Self.dimension, counts: [rows, rows], modes: [1, 1], kappa: kappa, seed: 13)
        let fit = try VMFMixtureFitter.fit(rows: data.rows, labels: data.labels, classCount: 2, settings: Self.settings(maxModes: 1), threads: 1)
        for estimate in fit.classKappa { #expect(abs(estimate / kappa - 1) < 0.1, "κ \(kappa), n \(rows): estimated \(estimate)") }
    }

    /// Ten classes of 1–3 modes around well-separated class directions: nearly every held-out row is right.
    @Test func separatedClassesAreClassifiedCorrectly() throws {
        let counts = [200, 120, 80, 60, 40, 30, 20, 12, 8, 5], modes = [1, 2, 3, 1, 2, 3, 1, 2, 1, 1]
        let train = VMFMixtureTestData.classes(dimension: Self.dimension, counts: counts, modes: modes, kappa: 200, modeKappa: 400, seed: 14)
        let fit = try VMFMixtureFitter.fit(rows: train.rows, labels: train.labels, classCount: 10, settings: Self.settings(), threads: 2)
        // Test rows from the same modes as the training rows, 50 per class.
        var rng = Xoshiro256PlusPlus(seed: 99, stream: 0)
        var storage: [Float] = [], labels: [Int32] = []
        for c in 0 ..< 10 {
            for i in 0 ..< 50 {
                storage += VMFMixtureTestData.rows(mean: train.modes[c][i % modes[c]], kappa: 200, count: 1, using: &rng)
                labels.append(Int32(c))
            }
        }
        let predicted = try fit.model.predict(Matrix(rows: 500, columns: Self.dimension, storage: storage), adjustment: nil)
        #expect(VMFMixtureTestData.balancedAccuracy(predicted, labels, classCount: 10) >= 0.99)
    }

    @Test func resultsDoNotDependOnTheThreadCount() throws {
        let data = VMFMixtureTestData.classes(dimension: Self.dimension, counts: [90, 60, 30, 10, 3, 1], modes: [3, 2, 2, 1, 1, 1],
                                              kappa: 150, modeKappa: 150, seed: 15)
        let one = try VMFMixtureFitter.fit(rows: data.rows, labels: data.labels, classCount: 6, settings: Self.settings(), threads: 1)
        let two = try VMFMixtureFitter.fit(rows: data.rows, labels: data.labels, classCount: 6, settings: Self.settings(), threads: 2)
        #expect(one.model.modeParameters.withUnsafeBytes(Array.init) == two.model.modeParameters.withUnsafeBytes(Array.init))
        #expect(one.classKappa.withUnsafeBytes(Array.init) == two.classKappa.withUnsafeBytes(Array.init))
        #expect(one == two)
    }

    /// A single-row class gets one mode and the median κ of the others.
    @Test func aSingleRowClassBorrowsTheMedianConcentration() throws {
        let data = VMFMixtureTestData.classes(dimension: Self.dimension, counts: [40, 40, 40, 1], modes: [1, 1, 1, 1], kappa: 200, seed: 16)
        let fit = try VMFMixtureFitter.fit(rows: data.rows, labels: data.labels, classCount: 4, settings: Self.settings(), threads: 2)
        #expect(fit.modesPerClass[3] == 1)
        #expect(fit.classKappa[3] == fit.classKappa[0 ..< 3].sorted()[1])
    }

    /// Listing every row of a class twice (each copy right after its row, as a scraped set repeats an image) changes
    /// nothing: the fit sees the class's distinct rows in the same order, so κ and θ keep their bits.
    @Test func duplicatedRowsLeaveTheFitUnchanged() throws {
        let data = VMFMixtureTestData.classes(dimension: Self.dimension, counts: [60, 40, 30], modes: [2, 1, 1], kappa: 150, seed: 18)
        var order: [Int] = []
        for i in 0 ..< data.labels.count { order += data.labels[i] == 0 ? [i, i] : [i] }
        let plain = try VMFMixtureFitter.fit(rows: data.rows, labels: data.labels, classCount: 3, settings: Self.settings(), threads: 2)
        let doubled = try VMFMixtureFitter.fit(rows: data.rows.gatherRows(order), labels: order.map { data.labels[$0] }, classCount: 3,
                                               settings: Self.settings(), threads: 2)
        #expect(doubled.classCounts == [60, 40, 30], "the distinct rows fitted")
        #expect(doubled.model.modeParameters.map(\.bitPattern) == plain.model.modeParameters.map(\.bitPattern))
        #expect(doubled.classKappa.map(\.bitPattern) == plain.classKappa.map(\.bitPattern))
        #expect(doubled.modesPerClass == plain.modesPerClass)
    }

    /// A class of identical rows has one distinct row: one mode and the median κ, not the clamp's 1e7 (which would
    /// give the class only exact copies of its row).
    @Test func aClassOfIdenticalRowsBorrowsTheMedianConcentration() throws {
        let data = VMFMixtureTestData.classes(dimension: Self.dimension, counts: [40, 40, 40, 1], modes: [1, 1, 1, 1], kappa: 200, seed: 16)
        let copies = Array(repeating: 120, count: 5)
        let fit = try VMFMixtureFitter.fit(rows: data.rows.gatherRows(Array(0 ..< 121) + copies), labels: data.labels + [Int32](repeating: 3, count: 5),
                                           classCount: 4, settings: Self.settings(), threads: 2)
        #expect(fit.modesPerClass[3] == 1)
        #expect(fit.classKappa[3] == fit.classKappa[0 ..< 3].sorted()[1])
        #expect(fit.classCounts[3] == 1)
        // Every class of identical rows: no class has a κ of its own to lend.
        #expect(throws: TrainingError.singleRowClasses(classCount: 2)) {
            try VMFMixtureFitter.fit(rows: data.rows.gatherRows([0, 0, 40, 40, 40]), labels: [0, 0, 1, 1, 1], classCount: 2,
                                     settings: Self.settings(), threads: 1)
        }
    }

    @Test func badInputIsRefusedWithAClearError() throws {
        let data = VMFMixtureTestData.classes(dimension: Self.dimension, counts: [10, 10], modes: [1, 1], kappa: 200, seed: 17)
        let settings = Self.settings()
        func fit(_ rows: Matrix = data.rows, _ labels: [Int32] = data.labels, classCount: Int = 2,
                 settings: VMFMixtureSettings = settings) throws -> VMFMixtureFit {
            try VMFMixtureFitter.fit(rows: rows, labels: labels, classCount: classCount, settings: settings, threads: 2, source: "train.h5")
        }
        #expect(throws: TrainingError.emptyClass(shard: "train.h5", classIndex: 1, classCount: 3)) {
            try fit(data.rows, data.labels.map { $0 == 1 ? 2 : $0 }, classCount: 3)
        }
        #expect(throws: TrainingError.labelOutOfRange(shard: "train.h5", row: 10, label: 2, classCount: 2)) {
            try fit(data.rows, data.labels.map { $0 == 1 ? 2 : $0 })
        }
        #expect(throws: TrainingError.labelCountMismatch(shard: "train.h5", rows: 20, labels: 19)) { try fit(data.rows, Array(data.labels.dropLast())) }
        var bad = data.rows
        bad[4, 7] = .nan
        #expect(throws: TrainingError.nonFiniteValue(shard: "train.h5", row: 4, column: 7)) { try fit(bad) }
        bad[4, 7] = 0
        for j in 0 ..< Self.dimension { bad[4, j] = 0 }
        #expect(throws: TrainingError.zeroRow(shard: "train.h5", row: 4)) { try fit(bad) }
        #expect(throws: TrainingError.singleRowClasses(classCount: 2)) { try fit(data.rows.gatherRows([0, 10]), [0, 1]) }
        #expect(throws: TrainingError.self) { try fit(settings: VMFMixtureSettings(maxModes: 0, priorConcentration: 1)) }
        #expect(throws: TrainingError.self) { try fit(settings: VMFMixtureSettings(maxModes: 2, priorConcentration: -1)) }
        #expect(throws: TrainingError.emptyShard(shard: "train.h5")) { try fit(Matrix(rows: 0, columns: Self.dimension), []) }
    }
}
