import Synchronization
import TailForgeNumerics

/// Rows `range` of a full balanced set, regenerated from the input and the κ of the classes they belong to —
/// what a cluster worker holds to train on its part of a job's set without any row crossing the network.
///
/// Each class's block is drawn whole with ``BalanceEngine/synthesize(entry:from:kappas:settings:)`` (its own
/// random stream, so the bits do not depend on which worker draws it) and the rows inside `range` are scaled to
/// unit length exactly as `train` reads a balanced file (``RowNormalization``), so the part is bit-identical to
/// the same rows of `train`'s matrix for the full or compact file of this set. A part that starts or ends
/// inside a class draws that whole class and keeps its slice: parts are cut at training block boundaries, not
/// class boundaries, which is what keeps the gradient sums identical to single-node training.
public enum BalancedRowRange {
    /// The classes with rows in `range`, ascending.
    public static func classes(overlapping range: Range<Int>, plan: BalancePlan) -> [Int] {
        plan.classes.filter { $0.outputCount > 0 && $0.offset < range.upperBound && $0.offset + $0.outputCount > range.lowerBound }.map(\.classId)
    }

    /// Rows of a balanced set regenerated for a part, with the provenance `--calibrate` holds rows out by.
    public struct Part: Sendable {
        public var embeddings: Matrix
        public var labels: [Int32]
        /// Per row of the part: synthetic or real, and its source (a real row's input row, a synthetic row's seed).
        public var isSynthetic: [Bool]
        public var sourceIndex: [Int64]
        /// For every class with rows in the part, the sources of all of the class's real rows in set order (also
        /// those outside the part): the hold-out draw is over a class's real rows.
        public var classRealSources: [Int: [Int64]]
    }

    /// The unit rows of `range` and their labels. `kappas[c]` is κ of class `c`'s real rows (fallback applied),
    /// for every class of ``classes(overlapping:plan:)``; `driftGuard` is the job's (built from every class's κ),
    /// nil when its settings have none.
    public static func regenerate(_ range: Range<Int>, plan: BalancePlan, data: BalanceInput, kappas: [Int: [Float]],
                                  settings: BalanceSettings, driftGuard: DriftGuard? = nil,
                                  threads: Int) throws(BalanceError) -> Part {
        let d = data.dimension
        let classes = classes(overlapping: range, plan: plan)
        for c in classes where kappas[c]?.count != plan.classes[c].realCount {
            throw .kappaMismatch(classId: c, expected: plan.classes[c].realCount, found: kappas[c]?.count ?? 0)
        }
        var labels = [Int32](repeating: 0, count: range.count)
        let failure = Mutex<RowNormalizationError?>(nil)
        let provenance = Mutex<[Int: (isSynthetic: [UInt8], sourceIndex: [Int64])]>([:])
        let storage = [Float](unsafeUninitializedCapacity: range.count * d) { buffer, initialised in
            let target = RowRangeBuffer(buffer: buffer)
            // Largest classes first, so one big class does not finish last on its own.
            let order = classes.sorted { (plan.classes[$0].outputCount, $1) > (plan.classes[$1].outputCount, $0) }
            ComputePool.forEach(order.count, width: max(1, threads)) { i in
                let entry = plan.classes[order[i]]
                let block = BalanceEngine.synthesize(entry: entry, from: data, kappas: kappas[entry.classId]!, settings: settings,
                                                     driftGuard: driftGuard)
                let lower = max(range.lowerBound, entry.offset), upper = min(range.upperBound, entry.offset + entry.outputCount)
                provenance.withLock { $0[entry.classId] = (block.isSynthetic, block.sourceIndex) }
                let region = UnsafeMutableBufferPointer(rebasing: target.buffer[(lower - range.lowerBound) * d ..< (upper - range.lowerBound) * d])
                block.embeddings.storage.withUnsafeBufferPointer { source in
                    let slice = UnsafeBufferPointer(rebasing: source[(lower - entry.offset) * d ..< (upper - entry.offset) * d])
                    do throws(RowNormalizationError) {
                        try RowNormalization.normalizeRows(slice, columns: d, into: region, firstRowIndex: lower)
                    } catch {
                        failure.withLock { $0 = $0 ?? error }
                    }
                }
            }
            initialised = range.count * d
        }
        if let error = failure.withLock({ $0 }) { throw .regeneratedRow("\(error)") }
        var isSynthetic = [Bool](repeating: false, count: range.count), sourceIndex = [Int64](repeating: 0, count: range.count)
        var classRealSources: [Int: [Int64]] = [:]
        let blocks = provenance.withLock { $0 }
        for c in classes {
            let entry = plan.classes[c], block = blocks[c]!
            classRealSources[c] = Array(block.sourceIndex.prefix(entry.keptCount))
            for row in max(range.lowerBound, entry.offset) ..< min(range.upperBound, entry.offset + entry.outputCount) {
                labels[row - range.lowerBound] = Int32(c)
                isSynthetic[row - range.lowerBound] = block.isSynthetic[row - entry.offset] != 0
                sourceIndex[row - range.lowerBound] = block.sourceIndex[row - entry.offset]
            }
        }
        return Part(embeddings: Matrix(rows: range.count, columns: d, storage: storage), labels: labels, isSynthetic: isSynthetic,
                    sourceIndex: sourceIndex, classRealSources: classRealSources)
    }
}

/// A buffer each pool thread writes a disjoint region of.
private struct RowRangeBuffer: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Float>
}
