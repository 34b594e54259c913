import Foundation
import TailForgeNumerics

/// The semantic-drift guard (`balance --drift-guard`): the real-row vMF kernel density estimates of every class,
/// against which a synthetic row's class posterior is checked before it is kept.
///
/// Class k's density is the KDE of its kept real rows with their own κ (the κ the sampler uses, fallback
/// applied): p_k(x) = (1/n_k) Σ_{j∈k} C_d(κ_j) exp(κ_j x_jᵀx). A candidate x of class c passes when its posterior
/// under equal class priors (the balanced set's prior: every class is topped up to the same target),
/// p_c(x) / Σ_k p_k(x), is at least the threshold — i.e. it does not lie where another class is denser.
///
/// The cosines to every real row come from one GEMM per batch of candidates; each class's log-sum-exp is taken
/// relative to its largest term, in Double, with log C_d(κ) from ``VonMisesFisherNormalizer`` (the normaliser
/// matters: classes have different κ). Classes whose largest term is 40 nats below the best class's are left
/// out of the sum (they change it by less than e⁻⁴⁰), which skips almost every exponential at large κ.
///
/// Determinism: a candidate's verdict depends only on its own bits, the reference rows and the batch it was
/// checked in, and a class's batches are formed from its own draws in a fixed order (``batchRows``), so the
/// guarded output is the same bytes for any thread count, class order, layout or worker. The cosines are single
/// precision from the machine's BLAS kernel, so a verdict within float rounding of the threshold can differ
/// between kernel families (the compact file's probe class would then refuse the file).
public struct DriftGuard: Sendable {
    /// Kept real rows of every class, class-major (unit-norm).
    public let rows: Matrix
    /// κ of each row's kernel and its log C_d(κ).
    let kappa: [Double]
    let logNormalizer: [Double]
    /// Rows of each class in ``rows``.
    public let classRanges: [Range<Int>]
    /// The classes with at least one row, and log n_k of each class (the KDE's 1/n_k), fixed per guard.
    let occupiedClasses: [Int]
    let logClassSize: [Double]
    /// A candidate passes when its own-class posterior is at least this.
    public let threshold: Double
    /// Rounds of redraws for the candidates that failed, before a slot falls back to its seed row.
    public let retries: Int

    /// Candidates checked per GEMM. Fixed, so the batches (hence the bits of every cosine) do not depend on
    /// anything but the class's own draws.
    public static let batchRows = 256
    /// A class's log density this far below the best class's adds less than e⁻⁴⁰ to the sum.
    static let negligibleNats = 40.0

    /// - Parameters:
    ///   - rows: every class's kept real rows, class-major.
    ///   - kappas: κ of each row (finite).
    ///   - classRanges: rows of each class (empty for an empty class).
    public init(rows: Matrix, kappas: [Float], classRanges: [Range<Int>], threshold: Double, retries: Int) {
        precondition(kappas.count == rows.rows)
        self.rows = rows
        self.classRanges = classRanges
        self.threshold = threshold
        self.retries = retries
        occupiedClasses = classRanges.indices.filter { !classRanges[$0].isEmpty }
        logClassSize = classRanges.map { log(Double($0.count)) }
        let normalizer = VonMisesFisherNormalizer(dimension: max(2, rows.columns))
        var cache: [Float: Double] = [:]
        kappa = kappas.map(Double.init)
        logNormalizer = kappas.map { k in
            if let known = cache[k] { return known }
            let value = normalizer.logNormalizer(kappa: Double(k))
            cache[k] = value
            return value
        }
    }

    /// The guard for a job whose input is in memory: every class's kept real rows (those the output keeps; all of
    /// them unless subsampling) with their κ. Nil when the settings do not ask for the guard.
    public init?(data: BalanceInput, kappas: [[Float]], plan: BalancePlan, settings: BalanceSettings) {
        guard let threshold = settings.driftGuard else { return nil }
        var members: [Int] = [], rowKappas: [Float] = [], ranges: [Range<Int>] = []
        for entry in plan.classes {
            let start = members.count
            if entry.realCount > 0 {
                var rng = BalanceEngine.generator(seed: settings.seed, classId: entry.classId)
                for local in BalanceEngine.keptRows(entry: entry, using: &rng) {
                    members.append(data.classMembers[entry.classId][local])
                    rowKappas.append(kappas[entry.classId][local])
                }
            }
            ranges.append(start..<members.count)
        }
        self.init(rows: data.embeddings.gatherRows(members), kappas: rowKappas, classRanges: ranges,
                  threshold: threshold, retries: settings.driftRetries)
    }

    /// The guard of a compact file: its real rows are exactly the kept rows, class-major, with their κ.
    public init?(compact file: CompactBalancedFile) {
        guard let threshold = file.settings.driftGuard else { return nil }
        let ranges = file.plan.classes.map { file.realOffsets[$0.classId] ..< file.realOffsets[$0.classId] + $0.keptCount }
        self.init(rows: file.realEmbeddings, kappas: file.realKappa, classRanges: ranges, threshold: threshold,
                  retries: file.settings.driftRetries)
    }

    /// The κ of class `classId`'s kernels.
    public func classKappas(_ classId: Int) -> ArraySlice<Double> { kappa[classRanges[classId]] }

    /// The posterior of class `classId` for each row of `candidates` (unit-norm), under equal class priors.
    public func posterior(of candidates: Matrix, classId: Int) -> [Double] {
        var result: [Double] = []
        result.reserveCapacity(candidates.rows)
        var first = 0
        while first < candidates.rows {
            let end = min(candidates.rows, first + Self.batchRows)
            result.append(contentsOf: batchPosterior(candidates.gatherRows(first..<end), classId: classId))
            first = end
        }
        return result
    }

    /// One GEMM's worth of ``posterior(of:classId:)``.
    func batchPosterior(_ batch: Matrix, classId: Int) -> [Double] {
        BLAS.useOneThread()
        let cosines = BLAS.sgemm(batch, rows, transposeB: true)
        let n = rows.rows
        var terms = [Double](repeating: 0, count: n)
        var classMax = [Double](repeating: 0, count: classRanges.count)
        return cosines.storage.withUnsafeBufferPointer { c in
            (0..<batch.rows).map { i in
                let row = i * n
                for j in 0..<n { terms[j] = kappa[j] * Double(c[row + j]) + logNormalizer[j] }
                // log p_k up to the shared log-sum-exp: first each class's largest term, less log n_k.
                var best = -Double.infinity
                for k in occupiedClasses {
                    var m = -Double.infinity
                    for j in classRanges[k] where terms[j] > m { m = terms[j] }
                    classMax[k] = m - logClassSize[k]
                    best = max(best, classMax[k])
                }
                guard !classRanges[classId].isEmpty, classMax[classId] >= best - Self.negligibleNats else { return 0 }
                var total = 0.0, own = 0.0
                for k in occupiedClasses where classMax[k] >= best - Self.negligibleNats {
                    var sum = 0.0
                    let m = classMax[k] + logClassSize[k]
                    for j in classRanges[k] { sum += exp(terms[j] - m) }
                    // exp(log p_k − best), with log p_k = m + log Σ − log n_k.
                    let scaled = exp(classMax[k] - best) * sum
                    total += scaled
                    if k == classId { own = scaled }
                }
                return own / total
            }
        }
    }
}

/// What the drift guard did to one class's synthetic rows.
public struct DriftGuardClassReport: Sendable, Equatable, Codable {
    /// Draws whose class posterior was below the threshold (each one was redrawn or, after the last round,
    /// replaced by its seed).
    public var rejected: Int
    /// Synthetic slots that failed every round and hold a copy of their seed row instead.
    public var replacedBySeed: Int

    public init(rejected: Int = 0, replacedBySeed: Int = 0) {
        self.rejected = rejected
        self.replacedBySeed = replacedBySeed
    }
}
