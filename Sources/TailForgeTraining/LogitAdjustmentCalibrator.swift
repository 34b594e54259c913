import Foundation
import TailForgeNumerics

/// Chooses the logit adjustment τ without test labels: hold out a stratified part of the real rows
/// (``CalibrationHoldOut``), fit on the rest with the run's own settings, and keep the τ of the grid whose
/// adjusted argmax has the highest balanced accuracy (mean per-class recall) on the held-out rows — the
/// accuracy a uniform test prior rewards, as the many/medium/few-shot test splits do. Ties go to the
/// smallest τ (the least change). The cost is one extra fit on `1 − fraction` of the rows; scoring the grid
/// is one GEMM of the held-out rows.
public enum LogitAdjustmentCalibrator {
    /// Mean over classes with at least one row of the share of that class's rows predicted right.
    public static func balancedAccuracy(predictions: [Int32], labels: [Int32], classCount: Int) -> Double {
        var rows = [Int](repeating: 0, count: classCount), right = [Int](repeating: 0, count: classCount)
        for (p, y) in zip(predictions, labels) {
            rows[Int(y)] += 1
            if p == y { right[Int(y)] += 1 }
        }
        var sum = 0.0, classes = 0
        for c in 0 ..< classCount where rows[c] > 0 {
            sum += Double(right[c]) / Double(rows[c])
            classes += 1
        }
        return classes > 0 ? sum / Double(classes) : 0
    }

    /// The held-out balanced accuracy of every τ in `grid`, and the index of the best (first on ties).
    /// `logits` is `[labels.count × classCount]`.
    public static func scoreGrid(logits: [Float], labels: [Int32], classCount: Int, prior: [Double],
                                 grid: [Double]) -> (best: Int, accuracies: [Double]) {
        precondition(logits.count == labels.count * classCount && prior.count == classCount, "scoreGrid: shapes disagree")
        let logPrior = prior.map { Foundation.log($0) }
        var accuracies: [Double] = []
        var predictions = [Int32](repeating: 0, count: labels.count)
        for tau in grid {
            for i in labels.indices {
                var best = 0, bestScore = -Double.infinity
                for c in 0 ..< classCount {
                    let score = Double(logits[i * classCount + c]) - tau * logPrior[c]
                    if score > bestScore { best = c; bestScore = score }
                }
                predictions[i] = Int32(best)
            }
            accuracies.append(balancedAccuracy(predictions: predictions, labels: labels, classCount: classCount))
        }
        var best = 0
        for i in accuracies.indices where accuracies[i] > accuracies[best] { best = i }
        return (best, accuracies)
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
        var fitShards: [TrainingShard] = []
        for (index, shard) in shards.enumerated() where !split.fit[index].isEmpty {
            let rows = split.fit[index]
            fitShards.append(try TrainingShard(name: shard.name, embeddings: shard.embeddings.gatherRows(rows),
                                               labels: rows.map { shard.labels[$0] },
                                               sampleWeights: shard.sampleWeights.map { w in rows.map { w[$0] } }))
        }
        guard !fitShards.isEmpty else { throw CalibrationError.nothingToHoldOut }
        let classWeights = try settings.classWeighting.weights(classCounts: SoftmaxTrainer.classCounts(of: fitShards, classCount: classCount))
        let source = try LocalGradientSource(shards: fitShards, classCount: classCount, classWeights: classWeights,
                                             threads: threads, blockRows: blockRows)
        let fitted = try await SoftmaxTrainer.train(source: source, settings: settings) { iteration, _ in progress(iteration) }
        var heldOutLogits: [Float] = [], heldOutLabels: [Int32] = []
        for (index, shard) in shards.enumerated() where !split.heldOut[index].isEmpty {
            let rows = split.heldOut[index]
            heldOutLogits += try fitted.model.logits(shard.embeddings.gatherRows(rows), source: shard.name)
            heldOutLabels += rows.map { shard.labels[$0] }
        }
        let prior = LogitAdjustment.prior(classCounts: split.realCounts)
        let scored = scoreGrid(logits: heldOutLogits, labels: heldOutLabels, classCount: classCount, prior: prior,
                               grid: calibration.tauGrid)
        let record = CalibrationRecord(
            adjustment: try LogitAdjustment(tau: calibration.tauGrid[scored.best], prior: prior),
            holdOutFraction: calibration.holdOutFraction, seed: calibration.seed,
            heldOutRows: split.heldOutRows, fitRows: split.fitRows,
            tauGrid: calibration.tauGrid, balancedAccuracies: scored.accuracies)
        return (record, fitted.report)
    }
}
