import Foundation
import Testing
import TailForgeNumerics
import TailForgeStorage
@testable import TailForgeTraining
import TailForgeTestSupport

/// EM over unlabeled rows (`train --unlabeled`): a pool of a few-shot class's rows moves that class's modes to where its
/// rows really are, a long-tailed pool's class shares are estimated rather than assumed, and the result is the same
/// bits for any thread count.
@Suite struct VMFMixtureSemiSupervisedTests {
    static let dimension = 16
    static let kappa = 12.0

    /// Four classes around random directions: labelled counts `labelled`, pool counts `pool`, test rows 200 per class;
    /// each split from its own stream, all around the same class directions.
    static func problem(labelled: [Int], pool: [Int], seed: UInt64 = 3)
        -> (rows: Matrix, labels: [Int32], pool: Matrix, test: Matrix, testLabels: [Int32], means: [[Float]]) {
        var rng = Xoshiro256PlusPlus(seed: seed, stream: 0)
        let means = labelled.indices.map { _ in VMFMixtureTestData.direction(dimension, using: &rng) }
        func draw(_ counts: [Int], stream: UInt64) -> (Matrix, [Int32]) {
            var rng = Xoshiro256PlusPlus(seed: seed, stream: stream)
            var storage: [Float] = [], labels: [Int32] = []
            for (c, count) in counts.enumerated() {
                storage += VMFMixtureTestData.rows(mean: means[c], kappa: kappa, count: count, using: &rng)
                labels += repeatElement(Int32(c), count: count)
            }
            return (Matrix(rows: labels.count, columns: dimension, storage: storage), labels)
        }
        let (rows, labels) = draw(labelled, stream: 1)
        let (poolRows, _) = draw(pool, stream: 2)
        let (test, testLabels) = draw(Array(repeating: 200, count: labelled.count), stream: 3)
        return (rows, labels, poolRows, test, testLabels, means)
    }

    static func refine(_ p: (rows: Matrix, labels: [Int32], pool: Matrix, test: Matrix, testLabels: [Int32], means: [[Float]]),
                       iterations: Int = 20, threads: Int = 2, leaveOneOut: Bool = false) throws -> (base: VMFMixtureFit, outcome: VMFMixtureSemiSupervised.Outcome) {
        let settings = VMFMixtureSettings(maxModes: 1, priorConcentration: Double(dimension), seed: 4)
        let classCount = p.means.count
        let base = try VMFMixtureFitter.fit(rows: p.rows, labels: p.labels, classCount: classCount, settings: settings, threads: threads)
        let (unit, classRows) = try VMFMixtureFitter.prepare(rows: p.rows, labels: p.labels, classCount: classCount, source: "rows")
        let outcome = try VMFMixtureSemiSupervised.refine(base: base, unit: unit, classRows: classRows, maxModes: 1, kappa0: settings.priorConcentration,
                                                          seed: settings.seed, pool: p.pool, poolSource: "pool", iterations: iterations, threads: threads,
                                                          leaveOneOutEStep: leaveOneOut)
        return (base, outcome)
    }

    /// The direction of class c's (only) mode's natural parameter.
    static func modeDirection(_ fit: VMFMixtureFit, _ c: Int) -> [Double] {
        let k = fit.model.modeOffsets[c]
        return Array(fit.model.modeParameters[k * dimension ..< (k + 1) * dimension])
    }

    @Test func aPoolMovesAFewShotClassToWhereItsRowsAre() throws {
        let p = Self.problem(labelled: [80, 80, 80, 3], pool: [150, 150, 150, 150])
        let (base, outcome) = try Self.refine(p)
        let before = VMFMixtureTestData.cosine(Self.modeDirection(base, 3), p.means[3])
        let after = VMFMixtureTestData.cosine(Self.modeDirection(outcome.fit, 3), p.means[3])
        #expect(after > before + 0.05, "cosine to the true mean \(before) → \(after)")
        #expect(after > 0.97, "150 pool rows pin the direction: \(after)")
        let accuracy = { (fit: VMFMixtureFit) throws in
            VMFMixtureTestData.balancedAccuracy(try fit.model.predict(p.test, adjustment: nil), p.testLabels, classCount: 4)
        }
        #expect(try accuracy(outcome.fit) > accuracy(base) + 0.01)
        // κ, modes and the class counts are the labelled fit's.
        #expect(outcome.fit.classKappa == base.classKappa && outcome.fit.modesPerClass == base.modesPerClass)
        #expect(outcome.fit.classCounts == base.classCounts)
        #expect(outcome.iterations.first?.changedRows == p.pool.rows)
        #expect(outcome.converged && outcome.iterations.last?.changedRows == 0)
        // The pool's log-likelihood under the model rises from the labelled fit's.
        #expect(outcome.iterations.last!.meanLogLikelihood > outcome.iterations.first!.meanLogLikelihood)
    }

    @Test func aLongTailedPoolsClassSharesAreEstimated() throws {
        let p = Self.problem(labelled: [60, 60, 60, 60], pool: [400, 200, 100, 20])
        let (_, outcome) = try Self.refine(p)
        let truth = [400.0, 200, 100, 20].map { $0 / 720 }
        #expect(abs(outcome.poolClassShares.reduce(0, +) - 1) < 1e-9)
        for (estimated, share) in zip(outcome.poolClassShares, truth) {
            #expect(abs(estimated - share) < 0.03, "estimated \(outcome.poolClassShares), true \(truth)")
        }
    }

    @Test func theRefinedModelIsTheSameBitsForAnyThreadCount() throws {
        // More pool rows than one block (256), so blocks run in parallel and their sums are added in order.
        let p = Self.problem(labelled: [40, 30, 20, 5], pool: [300, 300, 300, 300])
        let one = try Self.refine(p, threads: 1).outcome, three = try Self.refine(p, threads: 3).outcome
        #expect(one == three)
        let looOne = try Self.refine(p, threads: 1, leaveOneOut: true).outcome, looThree = try Self.refine(p, threads: 3, leaveOneOut: true).outcome
        #expect(looOne == looThree && looOne != one)
    }

    /// The leave-one-out E-step's algebra: a pool row's mode terms equal those of the model refitted (M-step) from the
    /// same E-step with that row's weights taken out of the sums — for a row with weight in several modes and classes.
    @Test func aPoolRowIsScoredAsIfItsOwnWeightWereNeverAdded() throws {
        let p = Self.problem(labelled: [30, 25, 20, 4], pool: [40, 40, 40, 40])
        let settings = VMFMixtureSettings(maxModes: 2, priorConcentration: Double(Self.dimension), seed: 4)
        let base = try VMFMixtureFitter.fit(rows: p.rows, labels: p.labels, classCount: 4, settings: settings, threads: 1)
        let (unit, classRows) = try VMFMixtureFitter.prepare(rows: p.rows, labels: p.labels, classCount: 4, source: "rows")
        let labelled = try VMFMixtureSemiSupervised.labelledSums(base: base, unit: unit, classRows: classRows, maxModes: 2, seed: 4, threads: 1)
        let shares = [Double](repeating: 0.25, count: 4)
        let step = try VMFMixtureSemiSupervised.expectation(model: base.model, pool: p.pool, poolSource: "pool", shares: shares,
                                                            recordingRowWeights: true, threads: 1)
        let (model, totals) = try VMFMixtureSemiSupervised.maximization(model: base.model, step: step, labelledModeSums: labelled.modes,
                                                                       labelledClassSums: labelled.classes, kappa0: settings.priorConcentration,
                                                                       leaveOneOut: true)
        let leaveOneOut = try #require(totals)
        #expect(model.modeCount > 4, "some class has two modes: \(model.modesPerClass)")
        let poolUnit = try UnitRowBlock.doubles(p.pool, rows: 0 ..< p.pool.rows, source: "pool").get()
        let d = Self.dimension
        // The rows whose weight is most spread over classes, and one that is nearly certain.
        let spread = (0 ..< p.pool.rows).sorted { step.rowWeights[$0].count > step.rowWeights[$1].count }
        #expect(step.rowWeights[spread[0]].count >= 3)
        var checked = 0
        for row in Array(spread.prefix(5)) + [spread.last!] {
            let x = Array(poolUnit[row * d ..< (row + 1) * d])
            var terms = [Double](repeating: 0, count: model.modeCount)
            let dots = model.modeDots(x, count: 1)
            terms.withUnsafeMutableBufferPointer { t in
                dots.withUnsafeBufferPointer { z in model.scoring.modeTerms(rowDots: z.baseAddress!, into: t) }
                x.withUnsafeBufferPointer { leaveOneOut.removeOwnWeight(step.rowWeights[row], row: $0.baseAddress!, scoring: model.scoring, terms: t) }
            }
            // The reference: the same E-step's sums less this row's weights, through the ordinary M-step and scoring.
            var without = step
            for w in step.rowWeights[row] {
                for j in 0 ..< d { without.modeSums[Int(w.mode) * d + j] -= w.weight * x[j] }
            }
            let (reference, _) = try VMFMixtureSemiSupervised.maximization(model: base.model, step: without, labelledModeSums: labelled.modes,
                                                                          labelledClassSums: labelled.classes, kappa0: settings.priorConcentration,
                                                                          leaveOneOut: false)
            var expected = [Double](repeating: 0, count: model.modeCount)
            let referenceDots = reference.modeDots(x, count: 1)
            expected.withUnsafeMutableBufferPointer { t in
                referenceDots.withUnsafeBufferPointer { z in reference.scoring.modeTerms(rowDots: z.baseAddress!, into: t) }
            }
            for k in 0 ..< model.modeCount {
                #expect(abs(terms[k] - expected[k]) <= 1e-9 * max(1, abs(expected[k])), "row \(row) mode \(k): \(terms[k]) vs \(expected[k])")
            }
            // The row's own weight moved its modes' terms: the check is not vacuous.
            if step.rowWeights[row].contains(where: { $0.weight > 1e-3 }) {
                var full = [Double](repeating: 0, count: model.modeCount)
                full.withUnsafeMutableBufferPointer { t in dots.withUnsafeBufferPointer { z in model.scoring.modeTerms(rowDots: z.baseAddress!, into: t) } }
                #expect(zip(full, expected).contains { abs($0 - $1) > 1e-6 })
                checked += 1
            }
        }
        #expect(checked >= 3)
    }

    /// Transductive use (the pool is the rows to classify): scoring each pool row without its own weight keeps a row
    /// first put in the wrong class from pulling that class toward itself; the pool is classified better than with the
    /// plain E-step. High-dimensional, overlapping classes (as embeddings are): class directions drawn around a shared
    /// centre, three of six classes with 3 labelled rows, the pool their 60 test rows each.
    @Test(arguments: [(256, 80.0, 300.0), (384, 100.0, 400.0)])
    func leaveOneOutClassifiesThePoolItselfBetter(_ config: (Int, Double, Double)) throws {
        let (d, kappa, spread) = config
        var rng = Xoshiro256PlusPlus(seed: 21, stream: 0)
        let centre = VMFMixtureTestData.direction(d, using: &rng)
        let means = (0 ..< 6).map { _ in VMFMixtureTestData.rows(mean: centre, kappa: spread, count: 1, using: &rng) }
        func draw(_ counts: [Int]) -> (Matrix, [Int32]) {
            var storage: [Float] = [], labels: [Int32] = []
            for (c, count) in counts.enumerated() {
                storage += VMFMixtureTestData.rows(mean: means[c], kappa: kappa, count: count, using: &rng)
                labels += repeatElement(Int32(c), count: count)
            }
            return (Matrix(rows: labels.count, columns: d, storage: storage), labels)
        }
        let (rows, labels) = draw([80, 80, 80, 3, 3, 3])
        let (test, testLabels) = draw(Array(repeating: 30, count: 6))
        let settings = VMFMixtureSettings(maxModes: 1, priorConcentration: Double(d), seed: 4)
        let base = try VMFMixtureFitter.fit(rows: rows, labels: labels, classCount: 6, settings: settings, threads: 2)
        let (unit, classRows) = try VMFMixtureFitter.prepare(rows: rows, labels: labels, classCount: 6, source: "rows")
        func accuracy(leaveOneOut: Bool) throws -> Double {
            let outcome = try VMFMixtureSemiSupervised.refine(base: base, unit: unit, classRows: classRows, maxModes: 1, kappa0: settings.priorConcentration,
                                                              seed: 4, pool: test, poolSource: "test", iterations: 20, threads: 2,
                                                              leaveOneOutEStep: leaveOneOut)
            return VMFMixtureTestData.balancedAccuracy(try outcome.fit.model.predict(test, adjustment: nil), testLabels, classCount: 6)
        }
        let plain = try accuracy(leaveOneOut: false), loo = try accuracy(leaveOneOut: true)
        let inductive = VMFMixtureTestData.balancedAccuracy(try base.model.predict(test, adjustment: nil), testLabels, classCount: 6)
        print("\(config) transductive balanced accuracy: labelled only \(inductive), plain EM \(plain), leave-one-out EM \(loo)")
        #expect(loo > plain + 0.02)
    }

    @Test func theIterationLimitIsKept() throws {
        let p = Self.problem(labelled: [40, 30, 20, 5], pool: [50, 50, 50, 50])
        let outcome = try Self.refine(p, iterations: 1).outcome
        #expect(outcome.iterations.count == 1 && !outcome.converged)
    }

    @Test func badPoolsAndSettingsAreRefused() throws {
        let p = Self.problem(labelled: [20, 20, 20, 5], pool: [10, 10, 10, 10])
        let settings = VMFMixtureSettings(maxModes: 1, priorConcentration: 16, seed: 4)
        let base = try VMFMixtureFitter.fit(rows: p.rows, labels: p.labels, classCount: 4, settings: settings, threads: 1)
        let (unit, classRows) = try VMFMixtureFitter.prepare(rows: p.rows, labels: p.labels, classCount: 4, source: "rows")
        func refine(_ pool: Matrix, iterations: Int = 5) throws(TrainingError) {
            _ = try VMFMixtureSemiSupervised.refine(base: base, unit: unit, classRows: classRows, maxModes: 1, kappa0: 16, seed: 4,
                                                    pool: pool, poolSource: "pool.h5", iterations: iterations, threads: 1)
        }
        #expect(throws: TrainingError.dimensionMismatch(shard: "pool.h5", expected: 16, found: 8)) { try refine(Matrix(rows: 3, columns: 8)) }
        #expect(throws: TrainingError.emptyShard(shard: "pool.h5")) { try refine(Matrix(rows: 0, columns: 16)) }
        #expect(throws: TrainingError.zeroRow(shard: "pool.h5", row: 0)) { try refine(Matrix(rows: 2, columns: 16)) }
        #expect(throws: TrainingError.self) { try refine(p.pool, iterations: 0) }
    }

    /// Through the runner: the model records the pool, and a pool that is also a training file is refused before any
    /// work, leaving no model.
    @Test func theRunnerRecordsThePoolAndRefusesATrainingFileAsOne() async throws {
        let dir = TemporaryDirectory("mixture-semi")
        let p = Self.problem(labelled: [40, 30, 20, 5], pool: [60, 60, 60, 60])
        try writeLabeledFile(dir.file("train.h5"), p.rows, p.labels)
        let writer = try AtomicHDF5Writer(path: dir.file("pool.h5"))
        try writer.writeDataset("embeddings", values: p.pool.storage, shape: [p.pool.rows, p.pool.columns])
        try writer.commit()
        let settings = VMFMixtureSelectionSettings(maxModesGrid: [1], priorConcentrationMultiples: [1], calibrate: true, folds: 2, seed: 1)
        let summary = try await VMFMixtureTrainingRunner(inputs: [dir.file("train.h5")], output: dir.file("m.h5"), settings: settings, threads: 2,
                                                         unlabeled: [dir.file("pool.h5")], emIterations: 7).run()
        let loaded = try VMFMixtureModelFile.read(path: dir.file("m.h5"))
        #expect(loaded.attributes["unlabeled_rows"]?.intValue == 240)
        #expect(loaded.attributes["unlabeled_files"]?.stringValue == "pool.h5")
        #expect(loaded.attributes["unlabeled_sha256"]?.stringValue == (try SHA256.hexDigest(ofFileAt: dir.file("pool.h5"))))
        #expect(loaded.attributes["em_iterations"]?.intValue == Int64(summary.semiSupervised!.iterations.count))
        #expect(summary.semiSupervised!.iterations.count <= 7)
        #expect(summary.lines(output: "m.h5").last!.hasPrefix("EM with 240 unlabeled rows"))

        // Without a pool the file has none of these attributes.
        _ = try await VMFMixtureTrainingRunner(inputs: [dir.file("train.h5")], output: dir.file("plain.h5"), settings: settings, threads: 2).run()
        #expect(try VMFMixtureModelFile.read(path: dir.file("plain.h5")).attributes["unlabeled_rows"] == nil)

        await #expect(throws: TrainingError.self) {
            _ = try await VMFMixtureTrainingRunner(inputs: [dir.file("train.h5")], output: dir.file("twice.h5"), settings: settings, threads: 1,
                                                   unlabeled: [dir.file("train.h5")]).run()
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("twice.h5")))
    }
}
