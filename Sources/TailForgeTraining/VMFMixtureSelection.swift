import COpenBLAS
import Foundation
import TailForgeNumerics

/// Chooses a vMF mixture's K_max, κ₀ and logit adjustment τ without test labels, by stratified k-fold
/// cross-validation, then refits on all rows.
///
/// Rows: each class's distinct rows, as ``VMFMixtureFitter`` fits them. Duplicates are dropped before the folds are
/// drawn, so no copy is held out against its twin in the training folds, cross-validation scores the fits the refit
/// makes, and π counts distinct rows.
///
/// Folds: each class's rows are permuted by its own generator (seed, class) and permuted row j goes to fold
/// j mod F, so every distinct row is held out exactly once and each class is spread over the folds as evenly as it
/// can be. For every fold and (K_max, κ₀) the mixture is fitted on the other folds (a class without rows there
/// scores −∞) and the held-out rows' argmax under log p(x | c) − τ log π_c is tallied per class for every τ; π is
/// the class shares of all distinct rows, as the final model's. The criterion is the pooled out-of-fold balanced
/// accuracy (mean over classes of recall over all folds); ties go to the first in grid order (K_max, then κ₀, then
/// τ ascending).
///
/// Cost: a fold's k-means depend only on its rows, K and the seed, so they run once per fold for the largest
/// K_max and serve every κ₀ and K_max. The held-out rows' dot products with each class's row-mean direction and
/// each candidate mode's row sum are one GEMM per fold; θ_k·x = κ₀ m·x + κ S_k·x combines them for every grid point.
public enum VMFMixtureSelection {
    public static func run(rows: Matrix, labels: [Int32], classCount: Int, settings: VMFMixtureSelectionSettings, threads: Int,
                           source: String = "training rows", progress: (String) -> Void = { _ in }) throws(TrainingError) -> VMFMixtureSelectionResult {
        try settings.validate()
        let (unit, classRows) = try VMFMixtureFitter.prepare(rows: rows, labels: labels, classCount: classCount, source: source)
        if let empty = classRows.firstIndex(where: \.isEmpty) {
            throw .emptyClass(shard: source, classIndex: empty, classCount: classCount)
        }
        let dimension = rows.columns
        let normalizer = VonMisesFisherLogNormalizer(dimension: dimension)
        let prior = LogitAdjustment.prior(classCounts: classRows.map(\.count))
        let tauGrid = settings.tauGrid
        let grid = settings.maxModesGrid.flatMap { modes in settings.priorConcentrationMultiples.map { (modes, $0) } }
        var tallies = [HeldOutTally](repeating: HeldOutTally(classCount: classCount, gridCount: tauGrid.count), count: grid.count)

        let clock = ContinuousClock()
        let foldStart = clock.now
        let foldOf = folds(classRows: classRows, rowCount: rows.rows, count: settings.folds, seed: settings.seed)
        // Rows that the final fit could use may still leave a fold no class with two training rows, and so no κ at all
        // (not even a median to lend): say which fold and what to add before any fit, not that every class has one row.
        if classRows.contains(where: { $0.count >= 2 }) {
            for fold in 0 ..< settings.folds
            where !classRows.contains(where: { rows in rows.count - rows.count(where: { foldOf[$0] == fold }) >= 2 }) {
                throw .foldWithoutConcentration(fold: fold, folds: settings.folds, largestClass: classRows.map(\.count).max()!)
            }
        }
        for fold in 0 ..< settings.folds {
            let training = classRows.map { $0.filter { foldOf[$0] != fold } }
            let heldOut = labels.indices.filter { foldOf[$0] == fold }
            guard !heldOut.isEmpty else { continue }
            progress("fold \(fold + 1) of \(settings.folds): k-means of \(classCount) classes on \(training.reduce(0) { $0 + $1.count }) rows")
            let summaries = VMFMixtureFitter.summarize(unit, classRows: training, maxModes: settings.maxModesGrid.last!,
                                                       seed: settings.seed, threads: threads)
            let projections = Projections(unit: unit, rows: heldOut, summaries: summaries, dimension: dimension, threads: threads)
            progress("fold \(fold + 1) of \(settings.folds): scoring \(heldOut.count) held-out rows at \(grid.count) settings")
            let heldOutLabels = heldOut.map { labels[$0] }
            for (g, (maxModes, multiple)) in grid.enumerated() {
                let kappa0 = multiple * Double(dimension)
                let fit = try VMFMixtureFitter.assemble(summaries, dimension: dimension, kappa0: kappa0, maxModes: maxModes, normalizer: normalizer)
                tallies[g].add(projections.tally(fit: fit, kappa0: kappa0, labels: heldOutLabels, prior: prior, tauGrid: tauGrid, threads: threads))
            }
        }
        let foldSeconds = seconds(clock.now - foldStart)

        var candidates: [VMFMixtureSelectionResult.Candidate] = []
        for (g, (maxModes, multiple)) in grid.enumerated() {
            let accuracies = tallies[g].balancedAccuracies
            candidates.append(.init(maxModes: maxModes, priorConcentrationMultiple: multiple, priorConcentration: multiple * Double(dimension),
                                    balancedAccuracies: accuracies, bestTauIndex: LogitAdjustmentCalibrator.best(accuracies)))
        }
        var chosen = 0
        for g in candidates.indices where candidates[g].bestBalancedAccuracy > candidates[chosen].bestBalancedAccuracy { chosen = g }
        let best = candidates[chosen]
        progress(String(format: "refit on all %d rows: K_max = %d, κ₀ = %gd, τ = %g (out-of-fold balanced accuracy %.4f)",
                        classRows.reduce(0) { $0 + $1.count }, best.maxModes, best.priorConcentrationMultiple, tauGrid[best.bestTauIndex], best.bestBalancedAccuracy))
        let refitStart = clock.now
        let summaries = VMFMixtureFitter.summarize(unit, classRows: classRows, maxModes: best.maxModes, seed: settings.seed, threads: threads)
        let fit = try VMFMixtureFitter.assemble(summaries, dimension: dimension, kappa0: best.priorConcentration, maxModes: best.maxModes,
                                                normalizer: normalizer)
        let refitSeconds = seconds(clock.now - refitStart)
        return VMFMixtureSelectionResult(candidates: candidates, chosenIndex: chosen, tauGrid: tauGrid, folds: settings.folds, fit: fit,
                                         adjustment: try LogitAdjustment(tau: tauGrid[best.bestTauIndex], prior: prior),
                                         foldSeconds: foldSeconds, refitSeconds: refitSeconds)
    }

    /// The fold of each of `rowCount` rows: each class's rows (`classRows[c]`, row indices) permuted by a Fisher–Yates
    /// shuffle on the class's own stream, permuted row j in fold j mod `count`; −1 (never held out, never fitted) for
    /// a row in no class's list, a dropped duplicate.
    static func folds(classRows: [[Int]], rowCount: Int, count: Int, seed: UInt64) -> [Int] {
        var foldOf = [Int](repeating: -1, count: rowCount)
        for (c, indices) in classRows.enumerated() {
            var permuted = indices
            var generator = foldStream(seed: seed, classIndex: c)
            for j in stride(from: permuted.count - 1, to: 0, by: -1) {
                permuted.swapAt(j, SphericalKMeans.uniformIndex(j + 1, using: &generator))
            }
            for (j, row) in permuted.enumerated() { foldOf[row] = j % count }
        }
        return foldOf
    }

    /// Stream 2⁶³ + class: apart from every k-means stream (class·256 + K).
    static func foldStream(seed: UInt64, classIndex: Int) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus(seed: seed, stream: 1 << 63 | UInt64(classIndex))
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// The held-out rows' dot products with every class's row-mean direction m_c and every candidate mode's row
    /// sum S_k of one fold: `[rows × columns]`, class c's columns starting at `classColumn[c]` with m_c first, then
    /// the sums of K = 1, 2, … in order.
    struct Projections: Sendable {
        static let blockRows = 256
        let rowCount: Int
        let columns: Int
        let classColumn: [Int]
        /// Per row block, `[blockRows × columns]`.
        let blocks: [[Double]]

        init(unit: Matrix, rows: [Int], summaries: [VMFClassSummary?], dimension: Int, threads: Int) {
            var basis: [Double] = [], classColumn: [Int] = []
            for summary in summaries {
                classColumn.append(basis.count / dimension)
                guard let summary else { continue }
                basis += summary.mean
                for candidate in summary.candidates { basis += candidate.sums }
            }
            let columns = basis.count / dimension
            self.rowCount = rows.count
            self.columns = columns
            self.classColumn = classColumn
            let blockCount = (rows.count + Self.blockRows - 1) / Self.blockRows
            let results = ConcurrentResults<[Double]>(count: blockCount)
            ComputePool.forEach(blockCount, width: threads) { [basis] b in
                let block = rows[b * Self.blockRows ..< min(rows.count, (b + 1) * Self.blockRows)]
                let x = unit.gatherRows(block).storage.withUnsafeBufferPointer { UnitRowBlock.widen($0, columns: dimension) }
                var out = [Double](repeating: 0, count: block.count * columns)
                if columns > 0 {
                    x.withUnsafeBufferPointer { a in
                        basis.withUnsafeBufferPointer { m in
                            out.withUnsafeMutableBufferPointer { z in
                                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(block.count), Int32(columns), Int32(dimension),
                                            1, a.baseAddress, Int32(dimension), m.baseAddress, Int32(dimension), 0, z.baseAddress, Int32(columns))
                            }
                        }
                    }
                }
                results.set(b, out)
            }
            blocks = results.values.map { $0! }
        }

        /// The held-out rows' tally for the fitted mixture `fit` (assembled from this fold's summaries with `kappa0`).
        func tally(fit: VMFMixtureFit, kappa0: Double, labels: [Int32], prior: [Double], tauGrid: [Double], threads: Int) -> HeldOutTally {
            let scoring = fit.model.scoring, classCount = scoring.classCount, modeCount = scoring.modeCount
            // Column of each mode's row sum, and its class's mean column and κ.
            var sumColumn: [Int] = [], meanColumn: [Int] = [], modeKappa: [Double] = []
            for c in 0 ..< classCount {
                let modes = fit.modesPerClass[c]
                // Candidates K = 1…modes−1 come first, with 1 + 2 + … + (modes − 1) columns.
                let first = classColumn[c] + 1 + modes * (modes - 1) / 2
                for k in 0 ..< modes {
                    sumColumn.append(first + k)
                    meanColumn.append(classColumn[c])
                    modeKappa.append(fit.classKappa[c])
                }
            }
            let results = ConcurrentResults<HeldOutTally>(count: blocks.count)
            ComputePool.forEach(blocks.count, width: threads) { [self, sumColumn, meanColumn, modeKappa] b in
                let projected = blocks[b]
                let n = projected.count / max(columns, 1)
                var dots = [Double](repeating: 0, count: n * modeCount)
                for i in 0 ..< n {
                    for k in 0 ..< modeCount {
                        dots[i * modeCount + k] = kappa0 * projected[i * columns + meanColumn[k]] + modeKappa[k] * projected[i * columns + sumColumn[k]]
                    }
                }
                var densities = [Double](repeating: 0, count: n * classCount)
                var scratch = [Double](repeating: 0, count: max(modeCount, 1))
                dots.withUnsafeBufferPointer { z in
                    densities.withUnsafeMutableBufferPointer { o in
                        scratch.withUnsafeMutableBufferPointer { s in scoring.logDensities(dots: z.baseAddress!, rows: n, into: o.baseAddress!, scratch: s) }
                    }
                }
                var tally = HeldOutTally(classCount: classCount, gridCount: tauGrid.count)
                let start = b * Self.blockRows
                tally.add(logits: densities.map(Float.init), labels: Array(labels[start ..< start + n]), prior: prior, grid: tauGrid)
                results.set(b, tally)
            }
            var total = HeldOutTally(classCount: classCount, gridCount: tauGrid.count)
            for tally in results.values { total.add(tally!) }
            return total
        }
    }
}
