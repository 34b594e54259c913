import TailForgeNumerics

/// The calibration fit's rows and the held-out rows of one stretch of the training set, cut on the final fit's
/// blocks: block `k` of the calibration fit is the fit rows among the final fit's block `k` (global rows
/// `k·blockRows ..< (k+1)·blockRows`, also cut at file boundaries), and the held-out rows are scored block by
/// block the same way.
///
/// Why not renumber the fit rows and cut every `blockRows` of them: a cluster worker holds a part of the set cut
/// on the final fit's block boundaries, and the fit rows of its part would not start on a block of the renumbered
/// set. Cut like this, every block (hence every bit of the exact partial sums, and every GEMM shape that scores
/// held-out rows) is the same on one machine and on any number of workers.
public struct CalibrationBlocks: Sendable {
    /// One shard per block with at least one fit row, in row order.
    public let fit: [TrainingShard]
    /// One shard per block with at least one held-out row, in row order.
    public let heldOut: [TrainingShard]

    /// Cuts `shard` (global rows `firstGlobalRow ..< firstGlobalRow + shard.rowCount`) into blocks; `fitRows` and
    /// `heldOutRows` are ascending row indices within the shard (a ``CalibrationHoldOut``'s for this shard).
    public init(shard: TrainingShard, firstGlobalRow: Int, blockRows: Int, fitRows: [Int], heldOutRows: [Int]) throws(TrainingError) {
        precondition(blockRows > 0 && firstGlobalRow >= 0, "CalibrationBlocks: block rows and first row")
        func cut(_ rows: [Int], _ what: String) throws(TrainingError) -> [TrainingShard] {
            var shards: [TrainingShard] = []
            var start = 0
            while start < rows.count {
                let block = (firstGlobalRow + rows[start]) / blockRows
                var end = start + 1
                while end < rows.count, (firstGlobalRow + rows[end]) / blockRows == block { end += 1 }
                let members = rows[start ..< end]
                shards.append(try TrainingShard(name: "\(shard.name) block \(block) (\(what))", embeddings: shard.embeddings.gatherRows(members),
                                                labels: members.map { shard.labels[$0] },
                                                sampleWeights: shard.sampleWeights.map { w in members.map { w[$0] } }))
                start = end
            }
            return shards
        }
        fit = try cut(fitRows, "calibration fit")
        heldOut = try cut(heldOutRows, "held out")
    }

    public var fitRowCount: Int { fit.reduce(0) { $0 + $1.rowCount } }
    public var heldOutRowCount: Int { heldOut.reduce(0) { $0 + $1.rowCount } }

    /// Fit rows per label, index = label, up to the largest label present.
    public var fitLabelCounts: [Int] {
        var counts = [Int](repeating: 0, count: Int(fit.flatMap(\.labels).max() ?? -1) + 1)
        for shard in fit { for label in shard.labels { counts[Int(label)] += 1 } }
        return counts
    }

    /// The calibration fit's gradient over `blocks` (in row order): each block shard is exactly one block of the
    /// source, so the sums are the same however the blocks are spread over sources or machines.
    public static func fitSource(_ blocks: [TrainingShard], classCount: Int, classWeights: [Float]?, threads: Int) throws(TrainingError) -> LocalGradientSource {
        // Blocks are cut at multiples of `blockRows` of the global row number and at shard boundaries: with
        // `blockRows` at least the total, only the shard boundaries remain.
        try LocalGradientSource(shards: blocks, classCount: classCount, classWeights: classWeights, threads: threads,
                                blockRows: max(1, blocks.reduce(0) { $0 + $1.rowCount }))
    }

    /// The held-out rows' tally under `model` for every τ of `grid`, block by block.
    public static func tally(_ blocks: [TrainingShard], model: SoftmaxModel, prior: [Double], grid: [Double]) throws(TrainingError) -> HeldOutTally {
        var tally = HeldOutTally(classCount: model.classCount, gridCount: grid.count)
        for block in blocks {
            tally.add(logits: try model.logits(block.embeddings, source: block.name), labels: block.labels, prior: prior, grid: grid)
        }
        return tally
    }
}
