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
    public static func synthesize(entry: BalancePlan.ClassEntry, from data: BalanceInput, kappas: [Float], settings: BalanceSettings,
                                  driftGuard: DriftGuard? = nil, reusing buffer: consuming [Float] = []) -> ClassBlock {
        synthesize(entry: entry, classRows: data.rows(ofClass: entry.classId),
                   sourceRows: data.classMembers[entry.classId].map(Int64.init), kappas: kappas, settings: settings, driftGuard: driftGuard,
                   reusing: consume buffer)
    }

    /// The class's kept real rows (indices into its rows, ascending): all of them, or, when the class is
    /// subsampled, a uniform subset drawn first from the class's generator.
    public static func keptRows(entry: BalancePlan.ClassEntry, using rng: inout ClassRandomStream) -> [Int] {
        var kept = Array(0..<entry.realCount)
        guard entry.keptCount < entry.realCount else { return kept }
        // Partial Fisher–Yates: the first keptCount slots are a uniform subset; sorted back to input order.
        for i in 0..<entry.keptCount {
            let j = i + uniformIndex(below: entry.realCount - i, using: &rng)
            kept.swapAt(i, j)
        }
        return kept[0..<entry.keptCount].sorted()
    }

    /// Builds one class's output block: its kept real rows, then `entry.syntheticCount` synthetic rows.
    ///
    /// - Parameters:
    ///   - classRows: the class's unit-norm real rows, in input order.
    ///   - sourceRows: the input row of each of `classRows`.
    ///   - kappas: κ of each real row, finite (fallback already applied).
    ///   - driftGuard: when given, every synthetic row is checked against it (``DriftGuard``) and redrawn while
    ///     rejected, at most `retries` rounds; a slot rejected every round takes a copy of its seed row (κ 0).
    ///   - buffer: storage to build the rows in when the class adds rows (``ClassBlockBuffers``); its contents are
    ///     overwritten, never read. The rows are the same whatever it holds.
    public static func synthesize(
        entry: BalancePlan.ClassEntry, classRows: Matrix, sourceRows: [Int64], kappas: [Float], settings: BalanceSettings,
        driftGuard: DriftGuard? = nil, reusing buffer: consuming [Float] = []
    ) -> ClassBlock {
        precondition(classRows.rows == entry.realCount && sourceRows.count == entry.realCount && kappas.count == entry.realCount)
        var rng = generator(seed: settings.seed, classId: entry.classId)
        let d = classRows.columns

        // Kept real rows (all of them unless subsampling), in input order.
        let kept = keptRows(entry: entry, using: &rng)
        var storage = kept.count == entry.realCount ? classRows.storage : classRows.gatherRows(kept).storage
        // Only when rows are to be added: a class that adds none keeps its rows as they are (shared, not copied).
        if entry.outputCount > kept.count {
            let keptRows = storage
            // Moved, not copied: a shared buffer would be copied on the first write instead of reused.
            storage = consume buffer
            resizeWithoutClearing(&storage, to: entry.outputCount * d)
            storage.withUnsafeMutableBufferPointer { o in
                keptRows.withUnsafeBufferPointer { k in
                    guard let from = k.baseAddress else { return }
                    o.baseAddress!.update(from: from, count: k.count)
                }
            }
        }
        var sourceIndex = kept.map { sourceRows[$0] }
        var kappaColumn = [Float](repeating: 0, count: kept.count)
        var isSynthetic = [UInt8](repeating: 0, count: kept.count)
        var report: DriftGuardClassReport?

        if entry.syntheticCount > 0, let sampler = settings.sampler.makeSampler(centres: classRows, kappas: kappas, settings: settings) {
            var centreIndex: [Int32] = []
            centreIndex.reserveCapacity(entry.syntheticCount)
            sampler.draw(
                count: entry.syntheticCount, firstRow: kept.count, kappas: kappas, into: &storage,
                centreIndex: &centreIndex, kappaUsed: &kappaColumn, using: &rng
            )
            if let driftGuard {
                report = guardDraws(driftGuard, classId: entry.classId, sampler: sampler, kappas: kappas, firstSlot: kept.count,
                                    storage: &storage, centreIndex: &centreIndex, kappaUsed: &kappaColumn, using: &rng)
            }
            sourceIndex.append(contentsOf: centreIndex.lazy.map { sourceRows[Int($0)] })
            isSynthetic.append(contentsOf: repeatElement(1, count: entry.syntheticCount))
        }
        return ClassBlock(
            classId: entry.classId,
            embeddings: Matrix(rows: entry.outputCount, columns: d, storage: storage),
            isSynthetic: isSynthetic, sourceIndex: sourceIndex, kappa: kappaColumn, driftGuard: report
        )
    }

    /// Makes `storage` exactly `count` values long, keeping what it holds rather than clearing it: every value is
    /// overwritten next (the kept rows, then the draws), and clearing a recycled Places-LT block (15 MB, with
    /// `append(contentsOf: repeatElement(0, …))`, element by element) was 8 % of the CPU of the engine's draws
    /// (`tailforge-bench numerics --part engine` under perf). Only storage too small is grown, zero-filled.
    static func resizeWithoutClearing(_ storage: inout [Float], to count: Int) {
        if storage.count > count {
            storage.removeLast(storage.count - count)
        } else if storage.capacity >= count {
            // Storage of a smaller block: the values it never held are appended (rare; blocks are mostly one size).
            storage.append(contentsOf: repeatElement(0, count: count - storage.count))
        } else {
            // Fresh (or too small) storage: allocated and zeroed in one memset-speed pass.
            storage = Array(unsafeUninitializedCapacity: count) { values, initialized in
                values.initialize(repeating: 0)
                initialized = count
            }
        }
    }

    /// Checks the synthetic rows (output rows `firstSlot...` of `storage`) against the guard and redraws the
    /// rejected ones in place, in slot order, from the class's generator: the same draws a plain run would make
    /// next, so the result depends only on the class's stream and the guard.
    static func guardDraws(
        _ driftGuard: DriftGuard, classId: Int, sampler: any SyntheticSampler, kappas: [Float], firstSlot: Int,
        storage: inout [Float], centreIndex: inout [Int32], kappaUsed: inout [Float], using rng: inout ClassRandomStream
    ) -> DriftGuardClassReport {
        let d = sampler.centres.columns
        var report = DriftGuardClassReport()
        var pending = Array(0..<centreIndex.count)
        for round in 0...driftGuard.retries {
            let candidates = Matrix(rows: pending.count, columns: d,
                                    storage: pending.flatMap { storage[(firstSlot + $0) * d ..< (firstSlot + $0 + 1) * d] })
            let posterior = driftGuard.posterior(of: candidates, classId: classId)
            pending = zip(pending, posterior).filter { $0.1 < driftGuard.threshold }.map(\.0)
            report.rejected += pending.count
            guard !pending.isEmpty else { break }
            storage.withUnsafeMutableBufferPointer { o in
                for slot in pending {
                    let dest = UnsafeMutableBufferPointer(rebasing: o[(firstSlot + slot) * d ..< (firstSlot + slot + 1) * d])
                    if round < driftGuard.retries {
                        let centre = uniformIndex(below: sampler.centres.rows, using: &rng)
                        kappaUsed[firstSlot + slot] = sampler.drawOne(centre: centre, kappa: kappas[centre], into: dest, using: &rng)
                        centreIndex[slot] = Int32(centre)
                    } else {
                        // Every round rejected this slot: a zero-width kernel at its last seed, a real row of the class.
                        let centre = Int(centreIndex[slot])
                        sampler.centres.storage.withUnsafeBufferPointer { c in
                            for t in 0..<d { dest[t] = c[centre * d + t] }
                        }
                        kappaUsed[firstSlot + slot] = 0
                        report.replacedBySeed += 1
                    }
                }
            }
        }
        return report
    }
}
