import Foundation
import Testing
import TailForgeNumerics
import TailForgeStorage
@testable import TailForgeTraining
import TailForgeTestSupport

/// Classes at means `separation·e_c` with isotropic unit Gaussian noise in `dimension` dimensions, `perClass`
/// rows each, and a share `labelNoise` of the labels redrawn uniformly: with a few fit rows per dimension, a
/// weakly penalised fit bends around the mislabelled rows, while a strongly penalised one stays near the
/// class-mean direction, which is the Bayes rule here.
func gaussianClasses(classes: Int, perClass: Int, dimension: Int, separation: Float, labelNoise: Double, seed: UInt64) -> (Matrix, [Int32]) {
    var rng = Xoshiro256PlusPlus(seed: seed, stream: 11)
    var storage = [Float](), labels = [Int32]()
    for _ in 0 ..< perClass {
        for c in 0 ..< classes {
            for j in 0 ..< dimension {
                storage.append(Float(StandardNormal.next(using: &rng)) + (j == c ? separation : 0))
            }
            let flipped = Double.random(in: 0 ..< 1, using: &rng) < labelNoise
            labels.append(flipped ? Int32.random(in: 0 ..< Int32(classes), using: &rng) : Int32(c))
        }
    }
    return (Matrix(rows: labels.count, columns: dimension, storage: storage), labels)
}

/// `train --l2 auto`: the λ search on held-out real rows (``LogitAdjustmentCalibrator``).
@Suite struct L2SearchTests {
    static let optimizer = LBFGSSettings(maxIterations: 300)

    static func search(_ data: Matrix, _ labels: [Int32], classCount: Int, weighting: ClassWeighting = .none,
                       calibration: CalibrationSettings) async throws -> LogitAdjustmentCalibrator.Outcome {
        try await LogitAdjustmentCalibrator.calibrate(
            shards: [try TrainingShard(name: "data", embeddings: data, labels: labels)], provenance: [.allReal], classCount: classCount,
            settings: TrainingSettings(l2: 1e-4, optimizer: optimizer, classWeighting: weighting), calibration: calibration,
            threads: 2, blockRows: 256)
    }

    @Test func aSmallLambdaWinsWhenTheLargeOneUnderfitsTheTail() async throws {
        // Unweighted and τ fixed at 0: a heavy penalty shrinks the weights until the unpenalised biases (the
        // log prior) decide, and the tail classes are never predicted; a light one keeps the class directions.
        let (data, labels) = vmfLongTail(counts: [3000, 600, 120, 60], dimension: 6, kappa: 8, seed: 21)
        let grid = [1e-1, 1e-2, 1e-6]
        let outcome = try await Self.search(data, labels, classCount: 4, calibration: .l2SearchOnly(holdOutFraction: 0.3, seed: 1, l2Grid: grid))
        let scores = outcome.record.l2Candidates.map(\.bestBalancedAccuracy)
        // Seen: 0.31, 0.51, 0.82 — each step down in λ gains over 20 pt.
        #expect(scores[2] - scores[1] > 0.1, "held-out balanced accuracies \(scores)")
        #expect(outcome.record.l2Candidates.map(\.l2) == grid)
        #expect(outcome.settings.l2 == 1e-6, "held-out balanced accuracies \(scores)")
        #expect(outcome.record.adjustment.tau == 0 && outcome.record.tauGrid == [0])
        #expect(outcome.fits.count == 3)
    }

    @Test func aLargeLambdaWinsWhenTheSmallOneFitsTheLabelNoise() async throws {
        // 200 fit rows for 244 parameters with 30 % of the labels redrawn: λ = 1e-6 fits the mislabelled rows.
        // Held-out balanced accuracy over generator and hold-out seeds 1–5: 0.43–0.54 at λ = 0.1 against
        // 0.36–0.45 at 1e-6, the large λ ahead by 8–14 pt on every seed (200 held-out rows: one row is 0.5 pt).
        let (data, labels) = gaussianClasses(classes: 4, perClass: 100, dimension: 60, separation: 2, labelNoise: 0.3, seed: 1)
        let grid = [1e-1, 1e-6]
        let outcome = try await Self.search(data, labels, classCount: 4, calibration: .l2SearchOnly(holdOutFraction: 0.5, seed: 1, l2Grid: grid))
        let scores = outcome.record.l2Candidates.map(\.bestBalancedAccuracy)
        #expect(outcome.settings.l2 == 1e-1, "held-out balanced accuracies \(scores)")
        #expect(scores[0] - scores[1] > 0.05, "held-out balanced accuracies \(scores)")
    }
}

extension L2SearchTests {
    @Test func warmStartedFitsReachTheColdFitsMinimum() async throws {
        // The objective is convex: a warm start changes the minimiser only within the optimiser's tolerance.
        let (data, labels) = vmfLongTail(counts: [400, 120, 40], dimension: 5, kappa: 6, seed: 8)
        let source = try LocalGradientSource(shards: [try TrainingShard(name: "d", embeddings: data, labels: labels)], classCount: 3,
                                             threads: 2, blockRows: 256)
        let settings = TrainingSettings(l2: 1e-3, optimizer: LBFGSSettings(maxIterations: 500, gradientTolerance: 1e-6))
        let previous = try await SoftmaxTrainer.train(source: source, settings: settings)
        var smaller = settings
        smaller.l2 = 1e-5
        let cold = try await SoftmaxTrainer.train(source: source, settings: smaller)
        let warm = try await SoftmaxTrainer.train(source: source, settings: smaller,
                                                  warmStart: .warm(previous.state.x, initialGradientNorm: previous.report.initialGradientNorm))
        #expect(cold.report.converged && warm.report.converged)
        // The stopping test is relative to the same ‖g(0)‖ (λ does not change the gradient at zero).
        #expect(warm.report.initialGradientNorm == cold.report.initialGradientNorm)
        // Both stop within ‖g‖ ≤ 1e-6·‖g₀‖ of the minimum, so their losses agree far below float32 data noise.
        #expect(abs(warm.report.finalLoss - cold.report.finalLoss) <= 1e-6 * cold.report.finalLoss,
                "warm \(warm.report.finalLoss), cold \(cold.report.finalLoss)")
        #expect(warm.report.iterations <= cold.report.iterations, "warm \(warm.report.iterations), cold \(cold.report.iterations) iterations")
    }

    @Test func tiesGoToTheLargerLambdaThenTheSmallerTau() async throws {
        // Two well-separated balanced classes: every λ and τ classifies the held-out rows perfectly.
        let (data, labels) = vmfLongTail(counts: [60, 60], dimension: 4, kappa: 200, seed: 3)
        let outcome = try await Self.search(data, labels, classCount: 2,
                                            calibration: CalibrationSettings(holdOutFraction: 0.25, seed: 0, tauGrid: [0, 0.5, 1], l2Grid: [1e-2, 1e-4]))
        #expect(outcome.record.l2Candidates.allSatisfy { $0.balancedAccuracies == [1, 1, 1] })
        #expect(outcome.settings.l2 == 1e-2 && outcome.record.adjustment.tau == 0)
    }

    @Test func theFinalModelIsTheSameAsAPlainFitAtTheChosenLambda() async throws {
        let dir = TemporaryDirectory("training")
        let (data, labels) = vmfLongTail(counts: [600, 150, 40], dimension: 6, kappa: 8, seed: 12)
        try writeLabeledFile(dir.file("train.h5"), data, labels)
        let settings = TrainingSettings(l2: 1e-4, optimizer: LBFGSSettings(maxIterations: 200), classWeighting: .balanced)
        let searched = try await TrainingRunner(
            inputs: [dir.file("train.h5")], output: dir.file("auto.h5"), settings: settings, threads: 2, blockRows: 256,
            calibration: CalibrationSettings(holdOutFraction: 0.25, seed: 4, l2Grid: [1e-1, 1e-3, 1e-5])).run()
        #expect(searched.calibrationReports.count == 3)
        // The search must have moved λ off the run's own 1e-4 for the comparison to mean anything.
        #expect([1e-1, 1e-3, 1e-5].contains(searched.settings.l2))
        var plainSettings = settings
        plainSettings.l2 = searched.settings.l2
        let plain = try await TrainingRunner(inputs: [dir.file("train.h5")], output: dir.file("plain.h5"), settings: plainSettings,
                                             threads: 2, blockRows: 256).run()
        let a = try SoftmaxModelFile.read(path: dir.file("auto.h5")), b = try SoftmaxModelFile.read(path: dir.file("plain.h5"))
        #expect(a.model.weights.map(\.bitPattern) == b.model.weights.map(\.bitPattern))
        #expect(a.model.bias.map(\.bitPattern) == b.model.bias.map(\.bitPattern))
        #expect(searched.report.iterations == plain.report.iterations && searched.report.finalLoss == plain.report.finalLoss)
        #expect(a.attributes["l2"] == .double(searched.settings.l2))
        // The search is stored and read back: every candidate with its held-out score per τ.
        let record = try #require(a.calibration)
        #expect(record == searched.calibration)
        #expect(record.l2Candidates.map(\.l2) == [1e-1, 1e-3, 1e-5])
        #expect(record.l2Candidates.allSatisfy { $0.balancedAccuracies.count == CalibrationSettings.standardGrid.count })
        #expect(record.l2Candidates.first { $0.l2 == searched.settings.l2 }?.balancedAccuracies == record.balancedAccuracies)
        #expect(record.balancedAccuracy == record.l2Candidates.map(\.bestBalancedAccuracy).max())
    }

    @Test func aFixedLambdaRunIsWrittenExactlyAsBefore() async throws {
        // No λ datasets: the file has the same layout as a calibrated model from before the search existed, and
        // such a file reads back with no candidates.
        let dir = TemporaryDirectory("training")
        let (data, labels) = vmfLongTail(counts: [300, 80, 20], dimension: 5, kappa: 6, seed: 2)
        try writeLabeledFile(dir.file("train.h5"), data, labels)
        try writeLabeledFile(dir.file("test.h5"), data, labels)
        _ = try await TrainingRunner(inputs: [dir.file("train.h5")], output: dir.file("m.h5"),
                                     settings: TrainingSettings(l2: 1e-4, optimizer: LBFGSSettings(maxIterations: 50)), threads: 2,
                                     calibration: CalibrationSettings()).run()
        let file = try HDF5File.open(path: dir.file("m.h5"))
        #expect(!file.contains("calibration_l2_grid") && !file.contains("calibration_l2_balanced_accuracies"))
        let loaded = try SoftmaxModelFile.read(path: dir.file("m.h5"))
        #expect(loaded.calibration?.l2Candidates == [])
        #expect(try EvaluationRunner(model: dir.file("m.h5"), test: dir.file("test.h5")).run().logitAdjustmentTau != nil)
    }

    @Test func aModelWithHalfTheSearchRecordIsReportedDamaged() throws {
        let dir = TemporaryDirectory("training")
        let writer = try AtomicHDF5Writer(path: dir.file("m.h5"))
        try writer.writeAttributes(["format": .string(SoftmaxModelFile.format), "format_version": .int(3),
                                    "class_count": .int(2), "dimension": .int(1), "logit_adjustment_tau": .double(0)])
        try writer.writeDataset("weights", values: [Float(1), -1], shape: [2, 1])
        try writer.writeDataset("bias", values: [Float(0), 0], shape: [2])
        try writer.writeDataset("class_prior", values: [0.5, 0.5], shape: [2])
        try writer.writeDataset("calibration_l2_grid", values: [1e-4, 1e-5], shape: [2])
        try writer.commit()
        #expect(throws: ModelFileError.self) { try SoftmaxModelFile.read(path: dir.file("m.h5")) }
    }

    @Test(arguments: ["", " ", ",", "1e-6,,1e-5", "abc", "1e-6;1e-5", "1e-6,1e-5x", "-1e-6", "nan", "inf", "2e6", "1e-6,1e-6", "auto"])
    func badGridsAreRefusedNamingTheProblem(_ text: String) {
        #expect(throws: TrainingError.self) { try CalibrationSettings.l2Grid(parsing: text) }
    }

    @Test func gridsAreParsedInAnyOrderAndSearchedLargestFirst() throws {
        #expect(try CalibrationSettings.l2Grid(parsing: "1e-6, 1e-4,3e-5 ,0") == [1e-4, 3e-5, 1e-6, 0])
        #expect(throws: TrainingError.self) { try CalibrationSettings(l2Grid: [1e-6, 1e-4]).validate() }
        #expect(throws: TrainingError.self) { try CalibrationSettings(l2Grid: []).validate() }
        try CalibrationSettings(l2Grid: CalibrationSettings.standardL2Grid).validate()
    }
}
