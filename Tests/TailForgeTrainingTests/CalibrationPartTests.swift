import Foundation
import Testing
import TailForgeNumerics
@testable import TailForgeTraining

/// A cluster job's workers each hold a part of the balanced set (cut on the final fit's blocks) and compute the
/// calibration from their part alone; these check the shared pieces give exactly the single-file answer.
@Suite struct CalibrationPartTests {
    /// A small balanced set, class-major: class c has `real[c]` real rows (sources numbered like an input's rows),
    /// then synthetic rows drawn around them (sources repeat their seeds).
    static func balancedSet(real: [Int], target: Int, dimension: Int, seed: UInt64) -> (TrainingShard, RowProvenance, [Int: [Int64]]) {
        var rng = Xoshiro256PlusPlus(seed: seed, stream: 1)
        var labels: [Int32] = [], synthetic: [Bool] = [], sources: [Int64] = [], storage: [Float] = []
        var classSources: [Int: [Int64]] = [:]
        var nextSource: Int64 = 0
        for (c, n) in real.enumerated() {
            let own = (0 ..< n).map { _ in nextSource += 1; return nextSource * 7 % 1000 }
            classSources[c] = own
            for row in 0 ..< max(n, target) {
                labels.append(Int32(c))
                synthetic.append(row >= n)
                sources.append(row < n ? own[row] : own[Int.random(in: 0 ..< n, using: &rng)])
                storage += (0 ..< dimension).map { k in Float(k == c % dimension ? 1 : 0) + Float.random(in: -0.8 ... 0.8, using: &rng) }
            }
        }
        let shard = try! TrainingShard(name: "set", embeddings: Matrix(rows: labels.count, columns: dimension, storage: storage), labels: labels)
        return (shard, RowProvenance(isSynthetic: synthetic, sourceIndex: sources), classSources)
    }

    static func slice(_ shard: TrainingShard, _ range: Range<Int>) -> TrainingShard {
        try! TrainingShard(name: "part \(range)", embeddings: shard.embeddings.gatherRows(range), labels: Array(shard.labels[range]))
    }

    @Test func thePartHoldOutIsTheWholeSetHoldOutRestrictedToThePart() throws {
        let (set, provenance, classSources) = Self.balancedSet(real: [40, 9, 3, 1, 25], target: 30, dimension: 4, seed: 2)
        let whole = try CalibrationHoldOut(labels: [set.labels], provenance: [provenance], classCount: 5, fraction: 0.3, seed: 11)
        for range in [0 ..< 64, 64 ..< 128, 128 ..< set.rowCount, 0 ..< set.rowCount] {
            let part = try CalibrationHoldOut(
                part: Array(set.labels[range]),
                provenance: RowProvenance(isSynthetic: Array(provenance.isSynthetic![range]), sourceIndex: Array(provenance.sourceIndex![range])),
                classRealSources: classSources, realCounts: whole.realCounts, fraction: 0.3, seed: 11)
            #expect(part.heldOut[0].map { $0 + range.lowerBound } == whole.heldOut[0].filter(range.contains), "held out in \(range)")
            #expect(part.fit[0].map { $0 + range.lowerBound } == whole.fit[0].filter(range.contains), "fit in \(range)")
        }
    }

    @Test func blocksOfPartsGiveTheWholeSetsCalibrationFitAndTallyBitForBit() async throws {
        let (set, provenance, _) = Self.balancedSet(real: [60, 12, 5, 30], target: 50, dimension: 5, seed: 3)
        let blockRows = 16, classCount = 4, grid = CalibrationSettings.standardGrid
        let split = try CalibrationHoldOut(labels: [set.labels], provenance: [provenance], classCount: classCount, fraction: 0.25, seed: 5)
        let whole = try CalibrationBlocks(shard: set, firstGlobalRow: 0, blockRows: blockRows, fitRows: split.fit[0], heldOutRows: split.heldOut[0])
        // Parts on block boundaries, as a training job cuts them.
        var parts: [CalibrationBlocks] = []
        for range in [0 ..< 48, 48 ..< 112, 112 ..< set.rowCount] {
            parts.append(try CalibrationBlocks(shard: Self.slice(set, range), firstGlobalRow: range.lowerBound, blockRows: blockRows,
                                               fitRows: split.fit[0].filter(range.contains).map { $0 - range.lowerBound },
                                               heldOutRows: split.heldOut[0].filter(range.contains).map { $0 - range.lowerBound }))
        }
        let parameters = ModelParameters(classCount: classCount, dimension: 5,
                                         values: (0 ..< classCount * 6).map { Float(($0 * 37) % 11) / 7 - 0.6 })
        let single = try await CalibrationBlocks.fitSource(whole.fit, classCount: classCount, classWeights: nil, threads: 2).evaluate(parameters)
        var summed = LossAndGradient(classCount: classCount, dimension: 5)
        for part in parts {
            summed.add(try await CalibrationBlocks.fitSource(part.fit, classCount: classCount, classWeights: nil, threads: 1).evaluate(parameters))
        }
        #expect(summed == single)
        let model = SoftmaxModel(parameters: parameters)
        let prior = LogitAdjustment.prior(classCounts: split.realCounts)
        let tally = try CalibrationBlocks.tally(whole.heldOut, model: model, prior: prior, grid: grid)
        var partTally = HeldOutTally(classCount: classCount, gridCount: grid.count)
        for part in parts { partTally.add(try CalibrationBlocks.tally(part.heldOut, model: model, prior: prior, grid: grid)) }
        #expect(partTally == tally && tally.rowCount == split.heldOutRows)
        #expect(HeldOutTally(serialized: tally.serialized(), classCount: classCount, gridCount: grid.count) == tally)
        #expect(HeldOutTally(serialized: Array(tally.serialized().dropLast(8)), classCount: classCount, gridCount: grid.count) == nil)
        // The tally scores as the grid scorer does on the same logits.
        let logits = try whole.heldOut.flatMap { try model.logits($0.embeddings) }
        #expect(LogitAdjustmentCalibrator.scoreGrid(logits: logits, labels: whole.heldOut.flatMap(\.labels), classCount: classCount,
                                                    prior: prior, grid: grid).accuracies == tally.balancedAccuracies)
    }
}
