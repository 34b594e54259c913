import Foundation
import Testing
import TailForgeNumerics
import TailForgeStorage
@testable import TailForgeTraining
import TailForgeTestSupport

/// Long-tailed classes drawn from von Mises–Fisher distributions with one shared κ on the unit sphere: then
/// log p(x | c) = κ·μ_c·x + const (the normaliser depends on κ and d only), so a softmax model is exactly
/// right for the class posteriors and the Bayes rule for balanced accuracy (a uniform test prior) is
/// argmax_c μ_c·x. A model fit with class weights w_c learns logits ≈ κ·μ_c·x + log(π_c·w_c) + const, so the
/// adjustment that restores the Bayes rule is τ* with τ*·log π_c = log(π_c·w_c) + const: τ* = 1 for an
/// unweighted fit (w = 1), 0 for balanced weights (w ∝ 1/π), and τ₀ for weights w_c = π_c^(τ₀ − 1).
func vmfLongTail(counts: [Int], dimension: Int, kappa: Double, seed: UInt64) -> (Matrix, [Int32]) {
    var rng = Xoshiro256PlusPlus(seed: seed, stream: 7)
    let sampler = VonMisesFisherSampler(dimension: dimension)
    // Means e_0 … e_{C−1}: equidistant, so no class pair is special and the prior alone sets the bias.
    let means = counts.indices.map { c in (0 ..< dimension).map { Float($0 == c ? 1 : 0) } }
    var storage = [Float](), labels = [Int32]()
    var row = [Float](repeating: 0, count: dimension)
    // Interleave classes so any prefix is long-tailed too.
    var remaining = counts
    while remaining.contains(where: { $0 > 0 }) {
        for c in counts.indices where remaining[c] > 0 {
            means[c].withUnsafeBufferPointer { m in
                row.withUnsafeMutableBufferPointer { out in sampler.sample(mean: m, kappa: kappa, into: out, using: &rng) }
            }
            storage += row
            labels.append(Int32(c))
            remaining[c] -= 1
        }
    }
    return (Matrix(rows: labels.count, columns: dimension, storage: storage), labels)
}

@Suite struct CalibrationTests {
    static let counts = [16000, 6400, 2560, 1024]
    static let prior = LogitAdjustment.prior(classCounts: counts)
    static let settings = TrainingSettings(l2: 1e-6, optimizer: LBFGSSettings(maxIterations: 200))

    enum Weighting: String, CaseIterable, Sendable { case unweighted, balanced, planted }

    /// `train --calibrate` at a given λ on one in-memory shard of real rows: the final fit on all rows from zero, then
    /// the calibration fit from its weights (``CalibrationFitPlan``).
    static func calibrateAfterTheFinalFit(_ shard: TrainingShard, classCount: Int, settings: TrainingSettings,
                                          calibration: CalibrationSettings, blockRows: Int = 512) async throws
        -> (outcome: LogitAdjustmentCalibrator.Outcome, final: SoftmaxTrainer.Result) {
        let weights = try settings.classWeighting.weights(classCounts: SoftmaxTrainer.classCounts(of: [shard], classCount: classCount))
        let source = try LocalGradientSource(shards: [shard], classCount: classCount, classWeights: weights, threads: 2, blockRows: blockRows)
        let final = try await SoftmaxTrainer.train(source: source, settings: settings)
        let outcome = try await LogitAdjustmentCalibrator.calibrate(
            shards: [shard], provenance: [.allReal], classCount: classCount, settings: settings, calibration: calibration,
            after: final, threads: 2, blockRows: blockRows)
        return (outcome, final)
    }

    /// Planted τ₀ = 0.5 through class weights π_c^(τ₀ − 1) (see ``vmfLongTail``).
    static func case_(_ w: Weighting) -> (ClassWeighting, Double) {
        switch w {
        case .unweighted: (.none, 1)
        case .balanced: (.balanced, 0)
        case .planted: (.custom(prior.map { Float(Foundation.pow($0, 0.5 - 1)) }), 0.5)
        }
    }

    // Tolerance ±0.35 (seven grid steps): the held-out balanced accuracy is flat near τ* (quadratic in τ − τ*),
    // so its sampling noise moves the arg-max by several steps. With 30 % of 25,984 rows held out (307 of the
    // smallest class, whose recall alone has a standard error ≈ 0.025), the choice over seeds 1–12 (generator
    // and hold-out) fell within ±0.30 of τ*: unweighted 0.70–1.25, balanced 0–0.15, planted 0.35–0.70 (with a
    // quarter of the rows, seeds 1–20 spread ±0.4). The ordering check below does not depend on the tolerance.
    @Test(arguments: Weighting.allCases)
    func calibrationRecoversThePlantedTau(_ weighting: Weighting) async throws {
        let (data, labels) = vmfLongTail(counts: Self.counts, dimension: 6, kappa: 6, seed: 3)
        let (classWeighting, planted) = Self.case_(weighting)
        var settings = Self.settings
        settings.classWeighting = classWeighting
        let (result, final) = try await Self.calibrateAfterTheFinalFit(
            try TrainingShard(name: "vmf", embeddings: data, labels: labels), classCount: 4, settings: settings,
            calibration: CalibrationSettings(holdOutFraction: 0.3, seed: 3))
        let fit = try #require(result.record.fit)
        #expect(fit.start == .finalFit && fit.evaluations <= final.report.evaluations)
        #expect(abs(result.record.adjustment.tau - planted) <= 0.35 + 1e-9,
                "τ̂ = \(result.record.adjustment.tau) for planted τ = \(planted) (\(weighting))")
        #expect(result.record.adjustment.prior == Self.prior)
        #expect(result.record.heldOutRows == Self.counts.map { Int((0.3 * Double($0)).rounded()) }.reduce(0, +))
    }

    @Test func theChosenTauOrdersBalancedBelowPlantedBelowUnweighted() async throws {
        let (data, labels) = vmfLongTail(counts: Self.counts, dimension: 6, kappa: 6, seed: 4)
        var taus: [Double] = []
        for weighting in [Weighting.balanced, .planted, .unweighted] {
            var settings = Self.settings
            settings.classWeighting = Self.case_(weighting).0
            taus.append(try await Self.calibrateAfterTheFinalFit(
                try TrainingShard(name: "vmf", embeddings: data, labels: labels), classCount: 4, settings: settings,
                calibration: CalibrationSettings(holdOutFraction: 0.3, seed: 4)).outcome.record.adjustment.tau)
        }
        #expect(taus[0] < taus[1] && taus[1] < taus[2], "τ̂ balanced, planted 0.5, unweighted: \(taus)")
    }

    @Test func heldOutRealRowsAndTheirSyntheticCopiesAreLeftOutOfTheFit() throws {
        // Class 0: real rows 0–9; class 1: real rows 10–13; class 2: one real row (14). Synthetic rows point at
        // their seed row; source indices are those of the long-tailed input, not of this file.
        var labels: [Int32] = Array(repeating: 0, count: 10) + Array(repeating: 1, count: 4) + [2]
        var synthetic = [Bool](repeating: false, count: 15)
        var sources = (0 ..< 15).map { Int64(100 + $0) }
        for seed in [10, 11, 12, 13, 14, 14] {
            labels.append(labels[seed]); synthetic.append(true); sources.append(Int64(100 + seed))
        }
        let provenance = RowProvenance(isSynthetic: synthetic, sourceIndex: sources)
        let split = try CalibrationHoldOut(labels: [labels], provenance: [provenance], classCount: 3, fraction: 0.2, seed: 9)
        let held = split.heldOut[0], fit = Set(split.fit[0])
        // round(0.2·10) = 2 of class 0, max(1, round(0.8)) = 1 of class 1, none of the single-row class 2.
        #expect(held.filter { labels[$0] == 0 }.count == 2)
        #expect(held.filter { labels[$0] == 1 }.count == 1)
        #expect(!held.contains(14) && fit.contains(14))
        #expect(held.allSatisfy { !synthetic[$0] })
        let heldSources = Set(held.map { sources[$0] })
        for row in labels.indices {
            #expect(fit.contains(row) == !heldSources.contains(sources[row]), "row \(row)")
        }
        #expect(split.realCounts == [10, 4, 1])
        // The same seed gives the same split; another seed, in general, another.
        #expect(try CalibrationHoldOut(labels: [labels], provenance: [provenance], classCount: 3, fraction: 0.2, seed: 9) == split)
    }

    @Test func theHoldOutIsStratifiedAndKeepsEveryClassInTheFit() throws {
        let labels = (0 ..< 1000).map { Int32($0 % 7 == 0 ? 1 : 0) } + [2, 2]
        let split = try CalibrationHoldOut(labels: [labels], provenance: [.allReal], classCount: 3, fraction: 0.25, seed: 4)
        let held = split.heldOut[0]
        #expect(held.filter { labels[$0] == 0 }.count == Int((0.25 * 857).rounded()))
        #expect(held.filter { labels[$0] == 1 }.count == Int((0.25 * 143).rounded()))
        #expect(held.filter { labels[$0] == 2 }.count == 1)
        #expect(Set(held).isDisjoint(with: split.fit[0]) && held.count + split.fit[0].count == labels.count)
    }

    @Test func nothingToHoldOutIsAnError() {
        #expect(throws: CalibrationError.nothingToHoldOut) {
            try CalibrationHoldOut(labels: [[0, 1, 2]], provenance: [.allReal], classCount: 3, fraction: 0.2, seed: 0)
        }
    }

    @Test func gridTiesGoToTheSmallestTau() {
        // One row, clearly class 0 whatever τ: every τ scores 1, so the first (smallest) wins.
        let scored = LogitAdjustmentCalibrator.scoreGrid(logits: [5, 0], labels: [0], classCount: 2, prior: [0.5, 0.5],
                                                         grid: [0, 0.5, 1])
        #expect(scored.best == 0 && scored.accuracies == [1, 1, 1])
    }

    @Test(arguments: [0.0, 0.04, 0.51, .nan])
    func holdOutFractionsOutsideTheRangeAreRefused(_ fraction: Double) {
        #expect(throws: TrainingError.self) { try CalibrationSettings(holdOutFraction: fraction).validate() }
    }
}

@Suite struct CalibratedModelFileTests {
    /// A long-tailed 4-class problem where the raw argmax and the adjusted one differ on many test rows.
    func writeProblem(_ dir: TemporaryDirectory) throws -> (train: String, test: String) {
        let (data, labels) = vmfLongTail(counts: [800, 320, 128, 52], dimension: 6, kappa: 6, seed: 5)
        try writeLabeledFile(dir.file("train.h5"), data, labels)
        let (test, testLabels) = vmfLongTail(counts: [100, 100, 100, 100], dimension: 6, kappa: 6, seed: 6)
        try writeLabeledFile(dir.file("test.h5"), test, testLabels)
        return (dir.file("train.h5"), dir.file("test.h5"))
    }

    let settings = TrainingSettings(l2: 1e-4, optimizer: LBFGSSettings(maxIterations: 100))

    @Test func evaluateAndPredictApplyTauAndNoCalibrationRestoresTheRawArgmax() async throws {
        let dir = TemporaryDirectory("training")
        let (train, test) = try writeProblem(dir)
        let model = dir.file("model.h5")
        let summary = try await TrainingRunner(inputs: [train], output: model, settings: settings, threads: 2, blockRows: 256,
                                               calibration: CalibrationSettings(holdOutFraction: 0.25, seed: 2)).run()
        let loaded = try SoftmaxModelFile.read(path: model)
        let record = try #require(loaded.calibration)
        #expect(record == summary.calibration)
        #expect(loaded.attributes["format_version"] == .int(SoftmaxModelFile.calibratedFormatVersion))
        #expect(record.adjustment.prior == LogitAdjustment.prior(classCounts: [800, 320, 128, 52]))
        #expect(record.tauGrid == CalibrationSettings.standardGrid && record.tauGrid.contains(record.adjustment.tau))
        // An unweighted long-tailed fit needs a clearly positive τ (about 1, see vmfLongTail).
        #expect(record.adjustment.tau >= 0.5)

        let testFile = try LabeledEmbeddingsFile(path: test, names: .standard)
        let x = try testFile.embeddings.readUnitMatrix(rows: 0 ..< testFile.count)
        let raw = try loaded.model.predict(x)
        let adjustedModel = try record.adjustment.adjusting(loaded.model)
        let adjusted = try adjustedModel.predict(x)
        #expect(raw != adjusted)

        let calibrated = try EvaluationRunner(model: model, test: test).run()
        let uncalibrated = try EvaluationRunner(model: model, test: test, applyCalibration: false).run()
        let labels = try testFile.readLabels()
        #expect(calibrated.correct == zip(adjusted, labels).filter { $0 == $1 }.count)
        #expect(uncalibrated.correct == zip(raw, labels).filter { $0 == $1 }.count)
        #expect(calibrated.logitAdjustmentTau == record.adjustment.tau && uncalibrated.logitAdjustmentTau == nil)
        // On a balanced test set the adjusted rule is the better one.
        #expect(calibrated.top1Accuracy > uncalibrated.top1Accuracy)
        // Both scorings from one read of the files (ablate's two rows) are the two runs' reports.
        #expect(try EvaluationRunner(model: model, test: test).evaluations(calibrations: [false, true]) == [uncalibrated, calibrated])

        try PredictionRunner(model: model, input: test, output: dir.file("on.h5"), k: 2).run()
        try PredictionRunner(model: model, input: test, output: dir.file("off.h5"), k: 2, applyCalibration: false).run()
        let on = try HDF5File.open(path: dir.file("on.h5")), off = try HDF5File.open(path: dir.file("off.h5"))
        #expect(try on.readDataset("labels", as: Int32.self).values == adjusted)
        #expect(try off.readDataset("labels", as: Int32.self).values == raw)
        #expect(try on.rootAttributes()["logit_adjustment_tau"] == .double(record.adjustment.tau))
        #expect(try off.rootAttributes()["logit_adjustment_tau"] == nil)
    }

    @Test func aModelWithoutCalibrationIsWrittenAsBeforeAndLoadsUnadjusted() async throws {
        let dir = TemporaryDirectory("training")
        let (train, test) = try writeProblem(dir)
        let model = dir.file("model.h5")
        _ = try await TrainingRunner(inputs: [train], output: model, settings: settings, threads: 2).run()
        let loaded = try SoftmaxModelFile.read(path: model)
        // --calibrate adds a fit after the final one; the final fit (the stored weights) is unchanged.
        _ = try await TrainingRunner(inputs: [train], output: dir.file("calibrated.h5"), settings: settings, threads: 2,
                                     calibration: CalibrationSettings()).run()
        let calibrated = try SoftmaxModelFile.read(path: dir.file("calibrated.h5"))
        #expect(calibrated.model == loaded.model && calibrated.calibration != nil)
        #expect(loaded.calibration == nil)
        #expect(loaded.attributes["format_version"] == .int(2))
        #expect(loaded.attributes["logit_adjustment_tau"] == nil)
        #expect(try loaded.model(applyCalibration: true) == loaded.model)
        let evaluation = try EvaluationRunner(model: model, test: test).run()
        #expect(evaluation.logitAdjustmentTau == nil)
    }

    @Test func aCalibratedModelWithoutItsPriorIsReportedDamaged() throws {
        let dir = TemporaryDirectory("training")
        let writer = try AtomicHDF5Writer(path: dir.file("m.h5"))
        try writer.writeAttributes(["format": .string(SoftmaxModelFile.format), "format_version": .int(3),
                                    "class_count": .int(2), "dimension": .int(1), "logit_adjustment_tau": .double(1)])
        try writer.writeDataset("weights", values: [Float(1), -1], shape: [2, 1])
        try writer.writeDataset("bias", values: [Float(0), 0], shape: [2])
        try writer.commit()
        #expect(throws: ModelFileError.self) { try SoftmaxModelFile.read(path: dir.file("m.h5")) }
    }

    @Test func aBalancedFileWithoutSourceIndexIsRefusedWithCalibrate() async throws {
        let dir = TemporaryDirectory("training")
        let (data, labels) = vmfLongTail(counts: [40, 10], dimension: 3, kappa: 6, seed: 1)
        let writer = try AtomicHDF5Writer(path: dir.file("b.h5"))
        try writer.writeDataset("embeddings", values: data.storage, shape: [data.rows, 3])
        try writer.writeDataset("labels", values: labels, shape: [labels.count])
        try writer.writeDataset("is_synthetic", values: [UInt8](repeating: 0, count: labels.count), shape: [labels.count])
        try writer.commit()
        await #expect(throws: CalibrationError.incompleteProvenance(file: dir.file("b.h5"), missing: "source_index")) {
            _ = try await TrainingRunner(inputs: [dir.file("b.h5")], output: dir.file("m.h5"), settings: settings,
                                         calibration: CalibrationSettings()).run()
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("m.h5")))
    }
}
