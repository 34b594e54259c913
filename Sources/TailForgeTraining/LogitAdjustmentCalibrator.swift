import Foundation
import TailForgeNumerics

/// Chooses the logit adjustment τ without test labels: hold out a stratified part of the real rows
/// (``CalibrationHoldOut``), fit on the rest with the run's own settings, and keep the τ of the grid whose
/// adjusted argmax has the highest balanced accuracy (mean per-class recall) on the held-out rows — the
/// accuracy a uniform test prior rewards, as the many/medium/few-shot test splits do. Ties go to the
/// smallest τ (the least change). The cost is one extra fit on `1 − fraction` of the rows; scoring the grid
/// is one GEMM of the held-out rows per block. Both are cut on the final fit's blocks (``CalibrationBlocks``)
/// and the scores are integer tallies (``HeldOutTally``), so a cluster job with a `train:` section computes
/// the same bits from its workers' parts.
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
    static func best(_ accuracies: [Double]) -> Int {
        var best = 0
        for i in accuracies.indices where accuracies[i] > accuracies[best] { best = i }
        return best
    }

    /// What the calibration chose from the held-out rows' tally: the best τ of the grid and how it scored.
    /// `prior` is the real rows' class prior (``LogitAdjustment/prior(classCounts:)`` of the hold-out's `realCounts`).
    public static func record(tally: HeldOutTally, prior: [Double], calibration: CalibrationSettings,
                              fitRows: Int) throws(TrainingError) -> CalibrationRecord {
        let accuracies = tally.balancedAccuracies
        return CalibrationRecord(
            adjustment: try LogitAdjustment(tau: calibration.tauGrid[best(accuracies)], prior: prior),
            holdOutFraction: calibration.holdOutFraction, seed: calibration.seed,
            heldOutRows: tally.rowCount, fitRows: fitRows,
            tauGrid: calibration.tauGrid, balancedAccuracies: accuracies)
    }

    /// Holds out, fits once on the rest (reporting its iterations to `progress`), and scores the grid.
    /// `shards[i]` must have `provenance[i]`'s rows; labels must be in range.
    public static func calibrate(shards: [TrainingShard], provenance: [RowProvenance], classCount: Int,
                                 settings: TrainingSettings, calibration: CalibrationSettings,
                                 threads: Int, blockRows: Int,
                                 progress: (LBFGSIteration) -> Void = { _ in }) async throws -> (record: CalibrationRecord, fit: LBFGSReport) {
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
        let fitted = try await SoftmaxTrainer.train(source: source, settings: settings) { iteration, _ in progress(iteration) }
        let prior = LogitAdjustment.prior(classCounts: split.realCounts)
        let tally = try CalibrationBlocks.tally(blocks.flatMap(\.heldOut), model: fitted.model, prior: prior, grid: calibration.tauGrid)
        let record = try record(tally: tally, prior: prior, calibration: calibration, fitRows: source.rowCount)
        return (record, fitted.report)
    }
}
