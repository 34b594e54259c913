import Foundation
import Testing
@testable import TailForgeCluster

/// A training job's status names the fit its iteration and loss are of (a calibrated job runs two or more fits, each
/// counting from 0), and once committed carries the final fit's figures — the model's — not the last fit's.
@Suite struct TrainingFitLabelTests {
    static let progress = TrainingProgress(iteration: 12, maxIterations: 60, loss: 2.225873, parts: 2)

    @Test func theSummaryNamesTheFit() {
        var final = Self.progress
        final.fit = .final
        #expect(final.summary == "final fit · L-BFGS iteration 12/60 · loss 2.225873 · 2 part(s)")
        var after = Self.progress
        after.fit = TrainingFit(.calibration, fromFinalFit: true)
        #expect(after.summary == "calibration fit (from the final fit's weights) · L-BFGS iteration 12/60 · loss 2.225873 · 2 part(s)")
        var cold = Self.progress
        cold.fit = TrainingFit(.calibration, fromFinalFit: false)
        #expect(cold.summary.hasPrefix("calibration fit · L-BFGS iteration 12/60"))
        var path = Self.progress
        path.fit = TrainingFit(.calibration, candidate: 2, candidates: 5, l2: 1e-5)
        path.trainer = "w1"
        #expect(path.summary == "calibration fit 2 of 5, λ = 1e-05 · L-BFGS iteration 12/60 · loss 2.225873 · 2 part(s) · trained on w1")
        // A coordinator from before the label says what it said then.
        #expect(Self.progress.summary == "L-BFGS iteration 12/60 · loss 2.225873 · 2 part(s)")
    }

    @Test func statusWithoutTheNewFieldsStillDecodesAndTheFieldsRoundTrip() throws {
        let old = #"{"iteration":3,"maxIterations":60,"loss":1.5,"parts":2}"#
        let decoded = try JSONDecoder().decode(TrainingProgress.self, from: Data(old.utf8))
        #expect(decoded == TrainingProgress(iteration: 3, maxIterations: 60, loss: 1.5, parts: 2) && decoded.fit == nil && decoded.calibration == nil)
        var labelled = Self.progress
        labelled.fit = TrainingFit(.calibration, candidate: 1, candidates: 3, l2: 0.01)
        labelled.calibration = TrainingCalibrationSummary(tau: 0.75, evaluations: 40, l2: 0.01, fits: 3)
        #expect(try JSONDecoder().decode(TrainingProgress.self, from: JSONEncoder().encode(labelled)) == labelled)
        let trainer = #"{"session":"j-calibrate-r","iteration":2,"loss":1.5,"gradientNorm":0.25,"evaluations":3,"seconds":0.5}"#
        #expect(try JSONDecoder().decode(TrainerProgress.self, from: Data(trainer.utf8)).fit == nil)
    }

    /// The calibration fit ran last (38 iterations, loss 2.14); the committed status says the final fit's 44 and 2.2258…
    @Test func aCommittedJobCarriesTheFinalFitsFiguresAndTheCalibrationsOneLiner() {
        var status = Self.progress
        status.iteration = 38
        status.loss = 2.143630
        status.fit = TrainingFit(.calibration, fromFinalFit: true)
        var record = ResolvedManifest.Training.Calibration(tau: 0.5, balancedAccuracy: 0.4, heldOutRows: 100, fitRows: 900, iterations: 38, seconds: 3)
        record.evaluations = 41
        record.evaluationCap = 47
        status.committed(iterations: 44, loss: 2.2258727841117745, calibration: record)
        #expect(status.iteration == 44 && status.loss == 2.2258727841117745 && status.fit == .final)
        #expect(status.summary == "final fit · L-BFGS iteration 44/60 · loss 2.225873 · 2 part(s)")
        #expect(status.calibration == TrainingCalibrationSummary(tau: 0.5, evaluations: 41, evaluationCap: 47))
        #expect(status.calibration?.description == "calibration: τ = 0.5, 41 evaluations (cap 47: the final fit's)")
        // `l2: auto`: the chosen λ and the path's fits.
        var path = ResolvedManifest.Training.Calibration(tau: 1.25, balancedAccuracy: 0.4, heldOutRows: 100, fitRows: 900, iterations: 90, seconds: 9,
                                                         l2: 1e-4, l2Candidates: [.init(l2: 1e-3, balancedAccuracy: 0.3, tau: 1, iterations: 40, seconds: 4),
                                                                                  .init(l2: 1e-4, balancedAccuracy: 0.4, tau: 1.25, iterations: 50, seconds: 5)])
        path.evaluations = 120
        status.committed(iterations: 44, loss: 2.2, calibration: path)
        #expect(status.calibration?.description == "calibration: λ = 0.0001, τ = 1.25, 2 fit(s), 120 evaluations")
        // Without calibration nothing is added.
        status.committed(iterations: 44, loss: 2.2, calibration: nil)
        #expect(status.calibration == nil)
    }
}
