import TailForgeNumerics

/// The stratified hold-out of `train --calibrate`: per class, a fraction of the *real* rows is held out for
/// choosing τ, and every row generated from a held-out real row is left out of the calibration fit too, so
/// the held-out rows are unseen in any form.
///
/// Rows are grouped by their source row: in a balanced file (``RowProvenance`` with `/source_index`) a real
/// row and its synthetic copies share a group. Source indices of all balanced files share one namespace —
/// shards of one `balance` run number their source rows alike, so a synthetic row in one shard may come from
/// a real row in another; for files of different inputs this only leaves out a few more rows. SMOTE rows
/// also interpolate toward a neighbour that may be held out; only the seed is recorded, so that (weaker)
/// dependence is not removed.
public struct CalibrationHoldOut: Sendable, Equatable {
    /// Per file, the real rows held out (ascending).
    public let heldOut: [[Int]]
    /// Per file, the rows of the calibration fit (ascending).
    public let fit: [[Int]]
    /// Real rows per class over all files: the long-tailed counts the prior is taken from.
    public let realCounts: [Int]

    /// - Parameters:
    ///   - labels: per file, the label of each row (in `0 ..< classCount`).
    ///   - provenance: per file, which rows are real and their sources.
    ///   - fraction: share of each class's real rows held out: `round(fraction·n)`, at least 1 and at most
    ///     `n − 1`, so every class with two or more real rows is both fitted and scored; a class with one
    ///     real row stays wholly in the fit.
    public init(labels: [[Int32]], provenance: [RowProvenance], classCount: Int, fraction: Double, seed: UInt64) throws(CalibrationError) {
        precondition(labels.count == provenance.count, "CalibrationHoldOut: one provenance per file")
        struct Group: Hashable { let file: Int; let source: Int64 }
        func group(_ file: Int, _ row: Int) -> Group {
            guard let sources = provenance[file].sourceIndex else { return Group(file: file, source: Int64(row)) }
            return Group(file: -1, source: sources[row])
        }
        var realByClass = [[(file: Int, row: Int)]](repeating: [], count: classCount)
        for (file, fileLabels) in labels.enumerated() {
            let synthetic = provenance[file].isSynthetic
            for (row, label) in fileLabels.enumerated() where !(synthetic?[row] ?? false) {
                realByClass[Int(label)].append((file, row))
            }
        }
        var rng = Xoshiro256PlusPlus(seed: seed, stream: 0xCA11_B8A7E)
        var heldOutGroups = Set<Group>()
        var heldOut = [[Int]](repeating: [], count: labels.count)
        for var members in realByClass where members.count >= 2 {
            let n = members.count
            let take = min(n - 1, max(1, Int((fraction * Double(n)).rounded())))
            // Partial Fisher–Yates: the first `take` members become a uniform sample without replacement.
            for i in 0 ..< take {
                let j = i + Int(UInt64.random(in: 0 ..< UInt64(n - i), using: &rng))
                members.swapAt(i, j)
                heldOut[members[i].file].append(members[i].row)
                heldOutGroups.insert(group(members[i].file, members[i].row))
            }
        }
        guard heldOut.contains(where: { !$0.isEmpty }) else { throw .nothingToHoldOut }
        self.heldOut = heldOut.map { $0.sorted() }
        fit = labels.indices.map { file in
            labels[file].indices.filter { !heldOutGroups.contains(group(file, $0)) }
        }
        realCounts = realByClass.map(\.count)
    }

    public var heldOutRows: Int { heldOut.reduce(0) { $0 + $1.count } }
    public var fitRows: Int { fit.reduce(0) { $0 + $1.count } }
}
