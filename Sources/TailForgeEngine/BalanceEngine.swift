import TailForgeNumerics

/// The per-class steps of the method, each a pure function of its inputs so that any node can run any class.
///
/// Stage 1 (``ConcentrationEstimator``) turns a class's real rows into κ values; stage 2 (``synthesize(entry:classRows:sourceRows:kappas:settings:)``)
/// draws the class's synthetic rows from a generator keyed by (job seed, class id) alone — so a class's output
/// is bit-identical whatever the thread count, class order or machine.
public enum BalanceEngine {
    /// The generator for one class's draws, keyed by (job seed, class id) alone.
    public static func generator(seed: UInt64, classId: Int) -> ClassRandomStream {
        ClassRandomStream(seed: seed, stream: UInt64(classId))
    }

    /// Builds the output block of class `entry.classId` of `data`, with `kappas` its real rows' κ.
    public static func synthesize(entry: BalancePlan.ClassEntry, from data: BalanceInput, kappas: [Float], settings: BalanceSettings) -> ClassBlock {
        synthesize(entry: entry, classRows: data.rows(ofClass: entry.classId),
                   sourceRows: data.classMembers[entry.classId].map(Int64.init), kappas: kappas, settings: settings)
    }

    /// Builds one class's output block: its kept real rows, then `entry.syntheticCount` synthetic rows.
    ///
    /// - Parameters:
    ///   - classRows: the class's unit-norm real rows, in input order.
    ///   - sourceRows: the input row of each of `classRows`.
    ///   - kappas: κ of each real row, finite (fallback already applied).
    public static func synthesize(
        entry: BalancePlan.ClassEntry, classRows: Matrix, sourceRows: [Int64], kappas: [Float], settings: BalanceSettings
    ) -> ClassBlock {
        precondition(classRows.rows == entry.realCount && sourceRows.count == entry.realCount && kappas.count == entry.realCount)
        var rng = generator(seed: settings.seed, classId: entry.classId)
        let d = classRows.columns

        // Kept real rows (all of them unless subsampling), in input order.
        var kept = Array(0..<entry.realCount)
        if entry.keptCount < entry.realCount {
            // Partial Fisher–Yates: the first keptCount slots are a uniform subset; sorted back to input order.
            for i in 0..<entry.keptCount {
                let j = i + uniformIndex(below: entry.realCount - i, using: &rng)
                kept.swapAt(i, j)
            }
            kept = kept[0..<entry.keptCount].sorted()
        }
        var storage = kept.count == entry.realCount ? classRows.storage : classRows.gatherRows(kept).storage
        storage.reserveCapacity(entry.outputCount * d)
        var sourceIndex = kept.map { sourceRows[$0] }
        var kappaColumn = [Float](repeating: 0, count: kept.count)
        var isSynthetic = [UInt8](repeating: 0, count: kept.count)

        if entry.syntheticCount > 0, let sampler = settings.sampler.makeSampler(centres: classRows, settings: settings) {
            var centreIndex: [Int32] = []
            centreIndex.reserveCapacity(entry.syntheticCount)
            sampler.draw(
                count: entry.syntheticCount, kappas: kappas, into: &storage,
                centreIndex: &centreIndex, kappaUsed: &kappaColumn, using: &rng
            )
            sourceIndex.append(contentsOf: centreIndex.lazy.map { sourceRows[Int($0)] })
            isSynthetic.append(contentsOf: repeatElement(1, count: entry.syntheticCount))
        }
        return ClassBlock(
            classId: entry.classId,
            embeddings: Matrix(rows: entry.outputCount, columns: d, storage: storage),
            isSynthetic: isSynthetic, sourceIndex: sourceIndex, kappa: kappaColumn
        )
    }
}
