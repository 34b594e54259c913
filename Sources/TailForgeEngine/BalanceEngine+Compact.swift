import TailForgeNumerics
import TailForgeStorage

extension BalancePlan {
    /// The class a compact file records by the digest of its synthetic rows, so that a reader whose sampler draws
    /// other bits is caught (``BalancedSetRegenerator``): the class with the fewest synthetic rows, the cheapest
    /// to draw while writing; nil when no class has synthetic rows.
    public var compactProbeClass: Int? {
        classes.filter { $0.syntheticCount > 0 }.min { ($0.syntheticCount, $0.classId) < ($1.syntheticCount, $1.classId) }?.classId
    }
}

extension BalanceEngine {
    /// One class of a compact file: its kept real rows with each one's κ (instead of the full layout's 0), and
    /// for the probe class the digest of the synthetic rows the full layout would hold.
    public static func compactBlock(entry: BalancePlan.ClassEntry, from data: BalanceInput, kappas: [Float], settings: BalanceSettings,
                                    probe: Bool, driftGuard: DriftGuard? = nil) -> (ClassBlock, String?) {
        var realOnly = entry
        if !probe { realOnly.syntheticCount = 0 }
        // Synthesis also makes the subsampling draw, so the kept rows are those the full layout keeps.
        let drawn = BalanceEngine.synthesize(entry: realOnly, from: data, kappas: kappas, settings: settings, driftGuard: probe ? driftGuard : nil)
        let digest = probe ? BalancedSetRegenerator.syntheticDigest(drawn) : nil
        let kept = entry.keptCount
        let members = data.classMembers[entry.classId]
        let realKappa: [Float] = kept == entry.realCount ? kappas : drawn.sourceIndex[0..<kept].map { source in
            // Members are ascending, so the kept row's position is found by bisection.
            var low = 0, high = members.count
            while low < high { let mid = (low + high) / 2; if members[mid] < Int(source) { low = mid + 1 } else { high = mid } }
            return kappas[low]
        }
        // Only the probe class has synthetic rows to drop; the others' rows are the block as drawn (no copy).
        let realRows = drawn.count == kept ? drawn.embeddings
            : Matrix(rows: kept, columns: drawn.embeddings.columns, storage: Array(drawn.embeddings.storage[0..<(kept * drawn.embeddings.columns)]))
        let block = ClassBlock(classId: entry.classId, embeddings: realRows,
                               isSynthetic: [UInt8](repeating: 0, count: kept), sourceIndex: Array(drawn.sourceIndex[0..<kept]), kappa: realKappa)
        return (block, digest)
    }

}
