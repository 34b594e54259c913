import Foundation
import Synchronization
import Testing
import TailForgeNumerics
import TailForgeStorage
@testable import TailForgeTraining
import TailForgeTestSupport

/// Counts the evaluations an objective really performs.
final class CountingObjective<Base: DifferentiableObjective>: DifferentiableObjective {
    let base: Base
    let count = Mutex(0)
    init(_ base: Base) { self.base = base }
    var parameterCount: Int { base.parameterCount }
    var parameterPrecision: ParameterPrecision { base.parameterPrecision }
    func evaluate(_ x: [Double]) async throws -> ObjectiveEvaluation {
        count.withLock { $0 += 1 }
        return try await base.evaluate(x)
    }
}

/// `--calibrate` at a given λ costs at most one extra fit by construction: the calibration fit follows the final fit,
/// starts from its weights and may not spend more evaluations than it did (``CalibrationFitPlan``).
@Suite struct CalibrationCostTests {
    /// Rosenbrock from (−1.2, …) takes 60 evaluations to the gradient tolerance below; every cap under that stops the
    /// run there — never one evaluation later, whatever a line search still wanted — and a cap above it changes nothing.
    @Test(arguments: [1, 2, 3, 5, 8, 13, 21, 34, 1_000])
    func anEvaluationCapIsNeverExceeded(cap: Int) async throws {
        var settings = LBFGSSettings(maxIterations: 500, gradientTolerance: 1e-10, lossTolerance: 0)
        let start = [Double](repeating: -1.2, count: 4)
        let free = try await LBFGS(settings: settings).minimize(Rosenbrock(parameterCount: 4), from: .point(start))
        settings.maxEvaluations = cap
        let objective = CountingObjective(Rosenbrock(parameterCount: 4))
        let capped = try await LBFGS(settings: settings).minimize(objective, from: .point(start))
        #expect(objective.count.withLock { $0 } == capped.report.evaluations)
        if cap >= free.report.evaluations {
            #expect(capped.x == free.x && capped.report == free.report.with(seconds: capped.report.seconds))
        } else {
            #expect(capped.report.evaluations <= cap, "\(capped.report.evaluations) evaluations under a cap of \(cap)")
            #expect(capped.report.reason == .maxEvaluations && !capped.report.converged)
        }
    }

    @Test func anEvaluationCapBelowOneIsRefused() {
        var settings = LBFGSSettings()
        settings.maxEvaluations = 0
        #expect(throws: TrainingError.self) { try settings.validate() }
    }

    /// An unweighted and a class-weighted fit, converged or stopped at the iteration cap: the calibration fit runs after
    /// the final fit, from its weights, under its evaluation count, and the model records how it went.
    @Test(arguments: [(ClassWeighting.none, 200), (.balanced, 200), (.none, 6)])
    func theCalibrationFitNeverSpendsMoreEvaluationsThanTheFinalFit(weighting: ClassWeighting, maxIterations: Int) async throws {
        let dir = TemporaryDirectory("training")
        let (data, labels) = vmfLongTail(counts: [1600, 640, 256, 104], dimension: 6, kappa: 6, seed: 8)
        try writeLabeledFile(dir.file("train.h5"), data, labels)
        let settings = TrainingSettings(l2: 1e-4, optimizer: LBFGSSettings(maxIterations: maxIterations), classWeighting: weighting)
        let phases = Mutex<[String]>([])
        let summary = try await TrainingRunner(inputs: [dir.file("train.h5")], output: dir.file("model.h5"), settings: settings, threads: 2,
                                               blockRows: 512, calibration: CalibrationSettings(seed: 1))
            .run(phase: { line in phases.withLock { $0.append(line) } })
        let record = try #require(summary.calibration)
        let fit = try #require(record.fit)
        #expect(fit.start == .finalFit && fit.evaluationCap == summary.report.evaluations)
        #expect(fit.evaluations <= summary.report.evaluations, "calibration \(fit.evaluations), final \(summary.report.evaluations)")
        #expect(summary.calibrationReports.map(\.evaluations) == [fit.evaluations])
        #expect(fit.converged == summary.calibrationReports[0].converged && fit.stopReason == summary.calibrationReports[0].reason)
        // And each of its evaluations sums fewer rows: the cost in final fits is at most the fit rows' share.
        #expect(record.fitRows < summary.rows)
        #expect(try #require(summary.calibrationCost) <= Double(record.fitRows) / Double(summary.rows))
        let lines = phases.withLock { $0 }
        let final = try #require(lines.firstIndex { $0.hasPrefix("final fit on all") }), calibration = try #require(lines.firstIndex { $0.hasPrefix("calibration fit on") })
        #expect(final < calibration, "\(lines)")
        let loaded = try SoftmaxModelFile.read(path: dir.file("model.h5"))
        #expect(loaded.calibration == record)
        #expect(loaded.attributes["calibration_fit_start"] == .string("final-fit"))
        #expect(loaded.attributes["calibration_fit_evaluation_cap"] == .int(Int64(summary.report.evaluations)))
        #expect(loaded.attributes["calibration_fit_stop_reason"] == .string(fit.stopReason.rawValue))
        // The final fit's weights are those of the same fit without --calibrate.
        _ = try await TrainingRunner(inputs: [dir.file("train.h5")], output: dir.file("plain.h5"), settings: settings, threads: 2, blockRows: 512).run()
        #expect(try SoftmaxModelFile.read(path: dir.file("plain.h5")).model == loaded.model)
    }

    /// With λ > 0 the objective is strictly convex on the slice the optimiser moves in, so a calibration fit reaches the
    /// same optimum from the final fit's weights as from zero (which never saw the held-out rows). Tolerance: on this
    /// λ = 1e-3 problem the cold fit converges and the warm one ends (converged unweighted; at its cap, 28 evaluations,
    /// with class weights) within 2e-8 of its loss, relative; 1e-6 leaves room for float32 rounding on another kernel
    /// while staying far below the 1e-2 gap between the calibration and the final fit's losses. The held-out scores,
    /// hence τ, agree.
    @Test(arguments: [ClassWeighting.none, .balanced])
    func aWarmCalibrationFitEndsAtTheColdFitsOptimum(weighting: ClassWeighting) async throws {
        let (data, labels) = vmfLongTail(counts: [1600, 640, 256, 104], dimension: 6, kappa: 6, seed: 9)
        let shard = try TrainingShard(name: "vmf", embeddings: data, labels: labels)
        let settings = TrainingSettings(l2: 1e-3, optimizer: LBFGSSettings(maxIterations: 500), classWeighting: weighting)
        let calibration = CalibrationSettings(holdOutFraction: 0.25, seed: 2)
        let (warm, final) = try await CalibrationTests.calibrateAfterTheFinalFit(shard, classCount: 4, settings: settings, calibration: calibration)
        let cold = try await LogitAdjustmentCalibrator.calibrate(shards: [shard], provenance: [.allReal], classCount: 4, settings: settings,
                                                                 calibration: calibration, threads: 2, blockRows: 512)
        #expect(warm.record.fit?.start == .finalFit && cold.record.fit?.start == .zero && cold.record.fit?.evaluationCap == nil)
        #expect(cold.fits[0].converged, "cold \(cold.fits[0])")
        #expect(warm.fits[0].converged || warm.fits[0].reason == .maxEvaluations, "warm \(warm.fits[0])")
        #expect(warm.fits[0].evaluations <= final.report.evaluations)
        #expect(abs(warm.fits[0].finalLoss - cold.fits[0].finalLoss) <= 1e-6 * cold.fits[0].finalLoss,
                "warm \(warm.fits[0].finalLoss), cold \(cold.fits[0].finalLoss)")
        #expect(warm.record.adjustment.tau == cold.record.adjustment.tau)
    }

    /// At λ = 0 the weights are not pinned and a warm start would carry the held-out rows' fit into the scores: the
    /// calibration fit starts from zero without a cap, as before, and the choice is the cold fit's exactly.
    @Test func atLambdaZeroTheCalibrationFitStartsFromZeroWithoutACap() async throws {
        let (data, labels) = vmfLongTail(counts: [400, 160, 64, 26], dimension: 6, kappa: 6, seed: 10)
        let shard = try TrainingShard(name: "vmf", embeddings: data, labels: labels)
        let settings = TrainingSettings(l2: 0, optimizer: LBFGSSettings(maxIterations: 40))
        let calibration = CalibrationSettings(holdOutFraction: 0.25, seed: 2)
        let (after, _) = try await CalibrationTests.calibrateAfterTheFinalFit(shard, classCount: 4, settings: settings, calibration: calibration)
        let cold = try await LogitAdjustmentCalibrator.calibrate(shards: [shard], provenance: [.allReal], classCount: 4, settings: settings,
                                                                 calibration: calibration, threads: 2, blockRows: 512)
        let fit = try #require(after.record.fit)
        #expect(fit.start == .zero && fit.evaluationCap == nil)
        #expect(after.record == cold.record)
        #expect(after.fits[0].evaluations == cold.fits[0].evaluations && after.fits[0].finalLoss == cold.fits[0].finalLoss)
        let plan = CalibrationFitPlan(settings: settings, calibration: calibration, after: nil)
        #expect(plan.start == nil && plan.settings.optimizer.maxEvaluations == nil)
    }
}
