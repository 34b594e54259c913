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
        var heldOutGroups = Set<Group>()
        var heldOut = [[Int]](repeating: [], count: labels.count)
        for (c, positions) in try Self.heldOutPositions(realCounts: realByClass.map(\.count), fraction: fraction, seed: seed).enumerated() {
            for p in positions {
                let member = realByClass[c][p]
                heldOut[member.file].append(member.row)
                heldOutGroups.insert(group(member.file, member.row))
            }
        }
        self.heldOut = heldOut.map { $0.sorted() }
        fit = labels.indices.map { file in
            labels[file].indices.filter { !heldOutGroups.contains(group(file, $0)) }
        }
        realCounts = realByClass.map(\.count)
    }

    /// The hold-out of rows of one contiguous part of a single balanced set, computed from that part alone —
    /// what a cluster worker serving the part knows — and equal to the single-file split restricted to the part.
    /// - Parameters:
    ///   - labels, provenance: the part's rows (a balanced set's rows always have provenance).
    ///   - classRealSources: for every class with rows in the part, the source index of each of the class's real
    ///     rows in set order (the whole class, also outside the part: the draw is over the class's real rows).
    ///   - realCounts: real rows per class over the whole set (the part's neighbours' classes shape the draw too).
    public init(part labels: [Int32], provenance: RowProvenance, classRealSources: [Int: [Int64]], realCounts: [Int],
                fraction: Double, seed: UInt64) throws(CalibrationError) {
        precondition(provenance.isSynthetic?.count == labels.count, "CalibrationHoldOut(part:): a balanced part has provenance for every row")
        let positions = try Self.heldOutPositions(realCounts: realCounts, fraction: fraction, seed: seed)
        var heldOutSources = Set<Int64>()
        for (c, sources) in classRealSources {
            precondition(sources.count == realCounts[c], "CalibrationHoldOut(part:): class \(c) has \(sources.count) real sources, \(realCounts[c]) real rows")
            for p in positions[c] { heldOutSources.insert(sources[p]) }
        }
        let synthetic = provenance.isSynthetic!, sources = provenance.sourceIndex!
        // Synthetic rows are drawn around real rows of their own class, so every group a part's rows fall in is
        // one of the part's classes' real rows: no other class's draw can reach them.
        heldOut = [labels.indices.filter { !synthetic[$0] && heldOutSources.contains(sources[$0]) }]
        fit = [labels.indices.filter { !heldOutSources.contains(sources[$0]) }]
        self.realCounts = realCounts
    }

    /// The draw itself, shared by the whole-file and the part hold-outs: per class, the positions (among the
    /// class's real rows, in file order) held out, `round(fraction·n)` clamped to `1 ... n − 1` for classes with
    /// n ≥ 2 real rows, by a partial Fisher–Yates over one stream seeded by `seed`, classes in order.
    public static func heldOutPositions(realCounts: [Int], fraction: Double, seed: UInt64) throws(CalibrationError) -> [[Int]] {
        var rng = Xoshiro256PlusPlus(seed: seed, stream: 0xCA11_B8A7E)
        var positions = [[Int]](repeating: [], count: realCounts.count)
        for (c, n) in realCounts.enumerated() where n >= 2 {
            var members = Array(0 ..< n)
            let take = min(n - 1, max(1, Int((fraction * Double(n)).rounded())))
            // Partial Fisher–Yates: the first `take` members become a uniform sample without replacement.
            for i in 0 ..< take {
                let j = i + Int(UInt64.random(in: 0 ..< UInt64(n - i), using: &rng))
                members.swapAt(i, j)
                positions[c].append(members[i])
            }
        }
        guard positions.contains(where: { !$0.isEmpty }) else { throw .nothingToHoldOut }
        return positions
    }

    public var heldOutRows: Int { heldOut.reduce(0) { $0 + $1.count } }
    public var fitRows: Int { fit.reduce(0) { $0 + $1.count } }
}
