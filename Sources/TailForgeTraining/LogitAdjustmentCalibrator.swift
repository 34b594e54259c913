import Foundation
import TailForgeNumerics

/// Chooses the logit adjustment τ without test labels: hold out a stratified part of the real rows
/// (``CalibrationHoldOut``), fit on the rest with the run's own settings, and keep the τ of the grid whose
/// adjusted argmax has the highest balanced accuracy (mean per-class recall) on the held-out rows — the
/// accuracy a uniform test prior rewards, as the many/medium/few-shot test splits do. Ties go to the
/// smallest τ (the least change). At a given λ > 0 the calibration fit follows the final fit, starts from its
/// weights and spends at most its evaluations (``CalibrationFitPlan``, which also says why that start does not
/// leak the held-out rows), so the cost is at most one extra fit's; scoring the grid is one GEMM of the held-out
/// rows per block. Both are cut on the final fit's blocks (``CalibrationBlocks``) and the scores are integer
/// tallies (``HeldOutTally``), so a cluster job with a `train:` section computes the same bits from its workers'
/// parts. With a λ grid (`train --l2 auto`) there is one calibration fit per
/// candidate λ along the path (``L2Path``) and the best (λ, τ) pair wins (``choose(tallies:prior:calibration:fitRows:fits:)``).
public enum LogitAdjustmentCalibrator {
    /// The held-out balanced accuracy of every τ in `grid`, and the index of the best (first on ties).
    /// `logits` is `[labels.count × classCount]`.
    public static func scoreGrid(logits: [Float], labels: [Int32], classCount: Int, prior: [Double],
                                 grid: [Double]) -> (best: Int, accuracies: [Double]) {
        var tally = HeldOutTally(classCount: classCount, gridCount: grid.count)
        tally.add(logits: logits, labels: labels, prior: prior, grid: grid)
        let accuracies = tally.balancedAccuracies
        return (best(accuracies), accuracies)
    }

    /// The index of the highest accuracy, the first (smallest τ) on ties.
    public static func best(_ accuracies: [Double]) -> Int {
        var best = 0
        for i in accuracies.indices where accuracies[i] > accuracies[best] { best = i }
        return best
    }

    /// What the calibration chose from the held-out rows' tally: the best τ of the grid and how it scored.
    /// `prior` is the real rows' class prior (``LogitAdjustment/prior(classCounts:)`` of the hold-out's `realCounts`).
    public static func record(tally: HeldOutTally, prior: [Double], calibration: CalibrationSettings,
                              fitRows: Int) throws(TrainingError) -> CalibrationRecord {
        try choose(tallies: [tally], prior: prior, calibration: calibration, fitRows: fitRows).record
    }

    /// What the calibration chose from the held-out rows' tallies, one per candidate λ of `calibration.l2Grid`
    /// fitted, in its order (a path that peaked early fits a prefix; one tally, at the run's λ, without a grid):
    /// the best (λ, τ) pair, ties going to the earlier — larger — λ, then the smaller τ; `l2Index` is the chosen
    /// λ's position in the grid. `fits` (one per tally, or none) say how each calibration fit went; the record keeps
    /// the chosen λ's.
    public static func choose(tallies: [HeldOutTally], prior: [Double], calibration: CalibrationSettings,
                              fitRows: Int, fits: [CalibrationRecord.Fit] = []) throws(TrainingError) -> (record: CalibrationRecord, l2Index: Int) {
        precondition(!tallies.isEmpty && tallies.count <= (calibration.l2Grid?.count ?? 1), "choose: one tally per candidate λ fitted")
        precondition(fits.isEmpty || fits.count == tallies.count, "choose: one fit per tally")
        let scores = tallies.map(\.balancedAccuracies)
        var l2Index = 0
        // Strictly better only: ties keep the earlier, larger λ.
        for i in scores.indices where scores[i][best(scores[i])] > scores[l2Index][best(scores[l2Index])] { l2Index = i }
        let accuracies = scores[l2Index]
        let candidates = calibration.l2Grid.map { grid in
            zip(grid, scores).map { CalibrationRecord.L2Candidate(l2: $0, balancedAccuracies: $1) }
        } ?? []
        let record = CalibrationRecord(
            adjustment: try LogitAdjustment(tau: calibration.tauGrid[best(accuracies)], prior: prior),
            holdOutFraction: calibration.holdOutFraction, seed: calibration.seed,
            heldOutRows: tallies[l2Index].rowCount, fitRows: fitRows,
            tauGrid: calibration.tauGrid, balancedAccuracies: accuracies, l2Candidates: candidates,
            fit: fits.isEmpty ? nil : fits[l2Index])
        return (record, l2Index)
    }

    /// What ``calibrate(shards:provenance:classCount:settings:calibration:after:threads:blockRows:phase:progress:)`` chose.
    public struct Outcome: Sendable {
        public var record: CalibrationRecord
        /// The settings of the final fit on all rows: the run's, with the chosen λ.
        public var settings: TrainingSettings
        /// The calibration fits, one per candidate λ fitted, in order (one when λ was given).
        public var fits: [LBFGSReport]

        /// Wall seconds of all calibration fits.
        public var seconds: Double { fits.reduce(0) { $0 + $1.seconds } }
    }

    /// Holds out, fits on the rest (once, or along the λ path of `calibration.l2Grid`: ``L2Path``), and scores
    /// the τ grid for each fit; the best (λ, τ) pair wins, ties going to the larger λ, then the smaller τ. At a
    /// given λ, `final` is the final fit on all rows, already done: the calibration fit starts from its weights
    /// under its evaluation count (``CalibrationFitPlan``; nil, or λ = 0: from zero, uncapped). The λ
    /// candidates are fitted largest first, each warm-started from the previous solution (the objective is
    /// convex, so the start changes the result only within the optimiser's tolerance) and stopped at the looser
    /// loss tolerance of ``L2Path/candidateSettings(_:l2:)``, until held-out balanced accuracy has peaked. `phase` gets a line per fit, `progress` every iteration. `shards[i]` must have `provenance[i]`'s rows; labels must be in range.
    public static func calibrate(shards: [TrainingShard], provenance: [RowProvenance], classCount: Int,
                                 settings: TrainingSettings, calibration: CalibrationSettings, after final: SoftmaxTrainer.Result? = nil,
                                 threads: Int, blockRows: Int, phase: (String) -> Void = { _ in },
                                 progress: (LBFGSIteration) -> Void = { _ in }) async throws -> Outcome {
        try calibration.validate()
        for (shard, rows) in zip(shards, provenance) where rows.isSynthetic != nil && rows.isSynthetic?.count != shard.rowCount {
            throw CalibrationError.provenanceLength(file: shard.name, dataset: "is_synthetic", rows: shard.rowCount, found: rows.isSynthetic?.count ?? 0)
        }
        let split = try CalibrationHoldOut(labels: shards.map(\.labels), provenance: provenance, classCount: classCount,
                                           fraction: calibration.holdOutFraction, seed: calibration.seed)
        // Cut on the final fit's blocks (``CalibrationBlocks``), so a cluster job's workers compute the same sums.
        var blocks: [CalibrationBlocks] = []
        var firstGlobalRow = 0
        for (index, shard) in shards.enumerated() {
            blocks.append(try CalibrationBlocks(shard: shard, firstGlobalRow: firstGlobalRow, blockRows: blockRows,
                                                fitRows: split.fit[index], heldOutRows: split.heldOut[index]))
            firstGlobalRow += shard.rowCount
        }
        let fitBlocks = blocks.flatMap(\.fit)
        guard !fitBlocks.isEmpty else { throw CalibrationError.nothingToHoldOut }
        let classWeights = try settings.classWeighting.weights(classCounts: SoftmaxTrainer.classCounts(of: fitBlocks, classCount: classCount))
        let source = try CalibrationBlocks.fitSource(fitBlocks, classCount: classCount, classWeights: classWeights, threads: threads)
        let prior = LogitAdjustment.prior(classCounts: split.realCounts)
        let candidates = calibration.l2Grid ?? [settings.l2]
        let heldOut = blocks.flatMap(\.heldOut)
        let plan = CalibrationFitPlan(settings: settings, calibration: calibration, after: final)
        let steps = try await L2Path.walk(grid: calibration.l2Grid, settings: plan.settings, first: plan.start, fit: { index, candidate, start in
            if calibration.l2Grid != nil {
                phase(String(format: "calibration fit %d of %d: λ = %g", index + 1, candidates.count, candidate.l2)
                      + (start == nil ? "" : ", warm-started from the previous λ"))
            } else {
                phase("calibration fit on \(source.rowCount) rows, " + plan.phase)
            }
            return try await SoftmaxTrainer.train(source: source, settings: candidate, warmStart: start) { iteration, _ in
                progress(iteration)
            }
        }, tally: { model in
            try CalibrationBlocks.tally(heldOut, model: model, prior: prior, grid: calibration.tauGrid)
        })
        if steps.count < candidates.count {
            phase("held-out balanced accuracy peaked: the path stops after \(steps.count) of \(candidates.count) candidates")
        }
        let fits = steps.map(\.fit.report), tallies = steps.map(\.tally)
        let chosen = try choose(tallies: tallies, prior: prior, calibration: calibration, fitRows: source.rowCount, fits: plan.fits(fits))
        var finalSettings = settings
        finalSettings.l2 = candidates[chosen.l2Index]
        return Outcome(record: chosen.record, settings: finalSettings, fits: fits)
    }
}
