import Foundation
import TailForgeNumerics

/// Fits a ``VMFMixtureModel`` to labelled rows. Each class is fitted on its distinct unit rows: a row equal bit for bit
/// (after ``RowNormalization``) to an earlier row of its class is dropped, the first kept. A copy carries no
/// information, yet each pair of copies adds cos 1 to the mean-resultant estimate below and inflates κ (a class of
/// identical rows would get the clamp's 1e7 and claim only exact copies of its row). Per class c with n_c distinct
/// unit rows:
///
/// - m_c, the direction of the rows' sum;
/// - for each K in 1...min(K_max, n_c), spherical k-means into K clusters (``SphericalKMeans``, on the class's own
///   stream), the pooled within-mode κ_K (unbiased mean resultant, Σ_k(‖S_k‖² − n_k) / Σ_k n_k(n_k − 1), and
///   Banerjee's approximation; undefined when every cluster is one row), θ_k = κ₀m_c + κ_K S_k and the marginal
///   likelihood L(K) = n_c log C(κ_K) + Σ_k [log C(κ₀) − log C(‖θ_k‖)] − n_c log K;
/// - K_c = the K of largest L (ties: smaller K) with equal weights 1/K_c. A class of one distinct row has no κ of its
///   own and gets one mode and the median κ of the other classes.
///
/// Classes are fitted in parallel; every class's result depends only on its rows, the settings and its id.
public enum VMFMixtureFitter {
    public static func fit(rows: Matrix, labels: [Int32], classCount: Int, settings: VMFMixtureSettings, threads: Int,
                           source: String = "training rows") throws(TrainingError) -> VMFMixtureFit {
        try settings.validate()
        let (unit, classRows) = try prepare(rows: rows, labels: labels, classCount: classCount, source: source)
        if let empty = classRows.firstIndex(where: \.isEmpty) {
            throw .emptyClass(shard: source, classIndex: empty, classCount: classCount)
        }
        let summaries = summarize(unit, classRows: classRows, maxModes: settings.maxModes, seed: settings.seed, threads: threads)
        return try assemble(summaries, dimension: rows.columns, kappa0: settings.priorConcentration, maxModes: settings.maxModes,
                            normalizer: VonMisesFisherLogNormalizer(dimension: rows.columns))
    }

    /// Checks the rows and labels, scales the rows to unit length (as every reader does) and lists each class's
    /// distinct rows (``distinct(_:classRows:)``); the rows in no list are the duplicates dropped.
    static func prepare(rows: Matrix, labels: [Int32], classCount: Int, source: String) throws(TrainingError) -> (unit: Matrix, classRows: [[Int]]) {
        guard classCount >= 1 else { throw .invalidSetting(name: "class count", value: "\(classCount)", expected: "at least 1") }
        guard rows.rows > 0 else { throw .emptyShard(shard: source) }
        guard rows.columns >= 2 else {
            throw .invalidSetting(name: "embedding dimension of \(source)", value: "\(rows.columns)", expected: "at least 2 for a vMF density")
        }
        guard labels.count == rows.rows else { throw .labelCountMismatch(shard: source, rows: rows.rows, labels: labels.count) }
        var classRows = [[Int]](repeating: [], count: classCount)
        for (i, label) in labels.enumerated() {
            guard label >= 0, Int(label) < classCount else {
                throw .labelOutOfRange(shard: source, row: i, label: label, classCount: classCount)
            }
            classRows[Int(label)].append(i)
        }
        var unit = rows
        do throws(RowNormalizationError) {
            try RowNormalization.normalizeRows(&unit)
        } catch {
            switch error {
            case .zeroRow(let row): throw .zeroRow(shard: source, row: row)
            case .nonFiniteRow(let row, let column): throw .nonFiniteValue(shard: source, row: row, column: column)
            }
        }
        return (unit, distinct(unit, classRows: classRows))
    }

    /// Each class's rows (ascending indices) without exact copies — unit rows equal bit for bit to an earlier row of
    /// the class. The first of equal rows is kept, so the result depends on the rows and
    /// their order only (not on the threads or the process: an FNV-1a hash of the bits, not `Hasher`, picks the bucket).
    static func distinct(_ unit: Matrix, classRows: [[Int]]) -> [[Int]] {
        let columns = unit.columns
        return unit.storage.withUnsafeBufferPointer { storage in
            func row(_ i: Int) -> UnsafeBufferPointer<Float> { UnsafeBufferPointer(rebasing: storage[i * columns ..< (i + 1) * columns]) }
            func same(_ i: Int, _ j: Int) -> Bool { zip(row(i), row(j)).allSatisfy { $0.bitPattern == $1.bitPattern } }
            return classRows.map { indices in
                // Hash of a kept row's bits → the kept rows with that hash.
                var seen: [UInt64: [Int]] = [:]
                var kept: [Int] = []
                kept.reserveCapacity(indices.count)
                for i in indices {
                    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                    for value in row(i) { hash = (hash ^ UInt64(value.bitPattern)) &* 0x100_0000_01b3 }
                    if seen[hash]?.contains(where: { same($0, i) }) == true { continue }
                    seen[hash, default: []].append(i)
                    kept.append(i)
                }
                return kept
            }
        }
    }

    /// Each class's summary (nil for a class without rows), largest classes started first.
    static func summarize(_ unit: Matrix, classRows: [[Int]], maxModes: Int, seed: UInt64, threads: Int) -> [VMFClassSummary?] {
        let order = classRows.indices.sorted { (classRows[$0].count, $1) > (classRows[$1].count, $0) }
        let results = ConcurrentResults<VMFClassSummary>(count: classRows.count)
        let dimension = unit.columns
        ComputePool.forEach(order.count, width: threads) { task in
            let c = order[task]
            let indices = classRows[c]
            guard !indices.isEmpty else { return }
            let rows = unit.gatherRows(indices).storage.withUnsafeBufferPointer { UnitRowBlock.widen($0, columns: dimension) }
            results.set(c, VMFClassSummary(rows: rows, count: indices.count, dimension: dimension, maxModes: maxModes, seed: seed, classIndex: c))
        }
        return results.values
    }

    /// The median of ascending `values` (the mean of the two middle ones for an even count): the κ a single-row
    /// class borrows, and the one `train` prints.
    static func median(ofSorted values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let middle = values.count / 2
        return values.count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2
    }

    /// The model for prior concentration `kappa0` and at most `maxModes` modes from the class summaries; a class
    /// without a summary (no rows: only in cross-validation) gets no modes and scores −∞.
    static func assemble(_ summaries: [VMFClassSummary?], dimension: Int, kappa0: Double, maxModes: Int,
                         normalizer: VonMisesFisherLogNormalizer) throws(TrainingError) -> VMFMixtureFit {
        let choices = summaries.map { $0?.choose(kappa0: kappa0, maxModes: maxModes, normalizer: normalizer) }
        let known = choices.compactMap { $0?.kappa }.sorted()
        guard !known.isEmpty else { throw .singleRowClasses(classCount: summaries.count) }
        let median = median(ofSorted: known)
        var offsets = [0], parameters: [Double] = [], logWeights: [Double] = [], kappas: [Double] = [], modesPerClass: [Int] = []
        for (summary, choice) in zip(summaries, choices) {
            guard let summary else {
                offsets.append(offsets.last!)
                kappas.append(median)
                modesPerClass.append(0)
                continue
            }
            let (modes, kappa) = choice ?? (1, median)
            let candidate = summary.candidates[modes - 1]
            for k in 0 ..< modes {
                for t in 0 ..< dimension { parameters.append(kappa0 * summary.mean[t] + kappa * candidate.sums[k * dimension + t]) }
                logWeights.append(-Foundation.log(Double(modes)))
            }
            offsets.append(offsets.last! + modes)
            kappas.append(kappa)
            modesPerClass.append(modes)
        }
        let model = try VMFMixtureModel(classCount: summaries.count, dimension: dimension, modeOffsets: offsets, modeParameters: parameters,
                                        modeLogWeights: logWeights, classKappa: kappas, allowingEmptyClasses: true)
        return VMFMixtureFit(model: model, modesPerClass: modesPerClass, classKappa: kappas, classCounts: summaries.map { $0?.count ?? 0 })
    }
}
