import COpenBLAS
import Foundation
import TailForgeNumerics

/// Semi-supervised refinement of a fitted vMF mixture with unlabeled rows (`train --classifier vmf-mixture
/// --unlabeled POOL.h5`), by expectation–maximisation over the pool's unknown classes and modes.
///
/// A few-shot class's mode directions rest on 5–19 labelled rows; an unlabeled pool from the same distribution (the
/// images to be classified, or any uncurated collection) holds many more rows of the same classes. Each iteration:
///
/// - **E-step.** Every pool row x gets class responsibilities r_c ∝ ρ_c·p(x | c) under the current model (the
///   posterior predictive of ``VMFMixtureModel``), ρ the pool's class shares (estimated too, starting uniform, as in
///   Saerens et al. 2002, so a long-tailed pool is not read as a balanced one), and within its class mode
///   responsibilities proportional to each mode's term of p(x | c).
/// - **M-step.** Each mode's row sum becomes its labelled rows' sum plus the pool rows' responsibility-weighted
///   sum, S_k' = S_k + Σ_x r_c(x)·r_k|c(x)·x; the class's prior direction m_c' = normalize(labelled sum + Σ_k A_k);
///   θ_k = κ₀·m_c' + κ_c·S_k'. κ_c, K_c and the mode weights stay as the labelled fit chose them (the pool changes
///   where modes lie, not how many there are), and so does τ: cross-validation chose it on labelled rows.
///
/// It stops after `iterations`, or earlier once an iteration moves no pool row's most probable class. A weight below
/// 1e-12 is left out of the sums (a pool row contributes at most 1 in all). Pool rows are scored in blocks on up to
/// `threads` threads and the blocks' sums added in block order, so the model is the same bits for any thread count.
public enum VMFMixtureSemiSupervised {
    /// Iterations a run may take.
    public static let iterationRange: ClosedRange<Int> = 1 ... 200
    public static let defaultIterations = 20
    /// Responsibilities below this are not added to any sum.
    static let weightFloor = 1e-12
    static let blockRows = 256

    /// What one EM iteration did.
    public struct Iteration: Sendable, Equatable {
        /// Mean over pool rows of log Σ_c ρ_c p(x | c) under the model the iteration started from.
        public let meanLogLikelihood: Double
        /// Pool rows whose most probable class differs from the previous iteration's (all rows on the first).
        public let changedRows: Int
    }

    public struct Outcome: Sendable, Equatable {
        public let fit: VMFMixtureFit
        public let iterations: [Iteration]
        /// ρ: the pool's estimated class shares after the last E-step.
        public let poolClassShares: [Double]
        /// Whether it stopped because no row changed class (rather than at the iteration limit).
        public let converged: Bool
    }

    /// Refines `base` (the fit of `unit`'s rows grouped by `classRows`, with `maxModes` and `kappa0`; its k-means are
    /// recomputed from the same seed, so the labelled mode sums are exactly the base fit's) with the unit rows of
    /// `pool`. `progress` gets a line per iteration.
    static func refine(base: VMFMixtureFit, unit: Matrix, classRows: [[Int]], maxModes: Int, kappa0: Double, seed: UInt64,
                       pool: Matrix, poolSource: String, iterations: Int, threads: Int,
                       progress: (String) -> Void = { _ in }) throws(TrainingError) -> Outcome {
        guard iterationRange.contains(iterations) else {
            throw .invalidSetting(name: "EM iterations", value: "\(iterations)", expected: "from \(iterationRange.lowerBound) to \(iterationRange.upperBound)")
        }
        guard pool.columns == base.model.dimension else {
            throw .dimensionMismatch(shard: poolSource, expected: base.model.dimension, found: pool.columns)
        }
        guard pool.rows > 0 else { throw .emptyShard(shard: poolSource) }
        let dimension = base.model.dimension, classCount = base.model.classCount
        let summaries = VMFMixtureFitter.summarize(unit, classRows: classRows, maxModes: maxModes, seed: seed, threads: threads)
        // The labelled part of every mode's sum and of every class's sum (K = 1's only cluster is the class's sum).
        var labelledModeSums = [Double](), labelledClassSums = [Double]()
        for c in 0 ..< classCount {
            guard let summary = summaries[c] else { throw .emptyClass(shard: "training rows", classIndex: c, classCount: classCount) }
            labelledModeSums += summary.candidates[base.modesPerClass[c] - 1].sums
            labelledClassSums += summary.candidates[0].sums
        }
        var model = base.model
        var shares = [Double](repeating: 1 / Double(classCount), count: classCount)
        var previous: [Int32]?
        var record: [Iteration] = []
        var converged = false
        for t in 1 ... iterations {
            let step = try expectation(model: model, pool: pool, poolSource: poolSource, shares: shares, threads: threads)
            let changed = previous.map { old in zip(old, step.best).count(where: { $0 != $1 }) } ?? pool.rows
            record.append(Iteration(meanLogLikelihood: step.logLikelihood / Double(pool.rows), changedRows: changed))
            progress(String(format: "EM iteration %d: pool mean log-likelihood %.6f, %d of %d pool rows changed class",
                            t, step.logLikelihood / Double(pool.rows), changed, pool.rows))
            shares = step.classWeights.map { $0 / Double(pool.rows) }
            var parameters = [Double](repeating: 0, count: model.modeCount * dimension)
            for c in 0 ..< classCount {
                var direction = Array(labelledClassSums[c * dimension ..< (c + 1) * dimension])
                for k in model.modeOffsets[c] ..< model.modeOffsets[c + 1] {
                    for j in 0 ..< dimension { direction[j] += step.modeSums[k * dimension + j] }
                }
                let norm = direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
                let kappa = model.classKappa[c]
                for k in model.modeOffsets[c] ..< model.modeOffsets[c + 1] {
                    for j in 0 ..< dimension {
                        let mean = norm > 0 ? direction[j] / norm : 0
                        parameters[k * dimension + j] = kappa0 * mean + kappa * (labelledModeSums[k * dimension + j] + step.modeSums[k * dimension + j])
                    }
                }
            }
            model = try VMFMixtureModel(classCount: classCount, dimension: dimension, modeOffsets: model.modeOffsets, modeParameters: parameters,
                                        modeLogWeights: model.modeLogWeights, classKappa: model.classKappa)
            if t > 1, changed == 0 {
                converged = true
                break
            }
            previous = step.best
        }
        let fit = VMFMixtureFit(model: model, modesPerClass: base.modesPerClass, classKappa: base.classKappa, classCounts: base.classCounts)
        return Outcome(fit: fit, iterations: record, poolClassShares: shares, converged: converged)
    }

    /// One E-step's sums over the pool.
    struct Expectation {
        /// `[modeCount × dimension]`: Σ_x r_c(x)·r_k|c(x)·x.
        var modeSums: [Double]
        /// Σ_x r_c(x) per class.
        var classWeights: [Double]
        var logLikelihood: Double
        /// Each pool row's most probable class.
        var best: [Int32]
    }

    /// One block's share of an ``Expectation``: the modes it touched with their sums, in ascending mode order.
    struct BlockSums: Sendable {
        var modeSums: [Int: [Double]]
        var classWeights: [Double]
        var logLikelihood: Double
        var best: [Int32]
    }

    static func expectation(model: VMFMixtureModel, pool: Matrix, poolSource: String, shares: [Double],
                            threads: Int) throws(TrainingError) -> Expectation {
        let dimension = model.dimension, classCount = model.classCount, modes = model.modeCount
        let logShares = shares.map { $0 > 0 ? Foundation.log($0) : -Double.infinity }
        var total = Expectation(modeSums: [Double](repeating: 0, count: modes * dimension),
                                classWeights: [Double](repeating: 0, count: classCount), logLikelihood: 0, best: [])
        total.best.reserveCapacity(pool.rows)
        let blocks = (pool.rows + blockRows - 1) / blockRows
        // A chunk of blocks at a time, so only a chunk's block sums are held at once.
        let chunk = 16
        for chunkStart in stride(from: 0, to: blocks, by: chunk) {
            let count = min(chunk, blocks - chunkStart)
            let results = ConcurrentResults<Result<BlockSums, TrainingError>>(count: count)
            ComputePool.forEach(count, width: threads) { (index: Int) in
                let b = chunkStart + index
                let range = b * blockRows ..< min(pool.rows, (b + 1) * blockRows)
                results.set(index, UnitRowBlock.doubles(pool, rows: range, source: poolSource).map { x in
                    blockSums(model: model, unit: x, count: range.count, logShares: logShares)
                })
            }
            for result in results.values {
                let block = try result!.get()
                for k in block.modeSums.keys.sorted() {
                    let sum = block.modeSums[k]!
                    for j in 0 ..< dimension { total.modeSums[k * dimension + j] += sum[j] }
                }
                for c in 0 ..< classCount { total.classWeights[c] += block.classWeights[c] }
                total.logLikelihood += block.logLikelihood
                total.best += block.best
            }
        }
        return total
    }

    /// The E-step of `count` unit rows (`[count × dimension]`).
    static func blockSums(model: VMFMixtureModel, unit: [Double], count: Int, logShares: [Double]) -> BlockSums {
        let dimension = model.dimension, classCount = model.classCount, modes = model.modeCount
        let scoring = model.scoring
        let dots = model.modeDots(unit, count: count)
        let terms = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(modes, 1))
        defer { terms.deallocate() }
        var classLog = [Double](repeating: 0, count: classCount)
        var out = BlockSums(modeSums: [:], classWeights: [Double](repeating: 0, count: classCount), logLikelihood: 0, best: [])
        out.best.reserveCapacity(count)
        for i in 0 ..< count {
            dots.withUnsafeBufferPointer { z in scoring.modeTerms(rowDots: z.baseAddress! + i * modes, into: terms) }
            var largest = -Double.infinity, best = 0
            for c in 0 ..< classCount {
                classLog[c] = logShares[c] + scoring.classLogDensity(c, modeTerms: terms)
                if classLog[c] > largest { largest = classLog[c]; best = c }
            }
            var sum = 0.0
            for c in 0 ..< classCount { sum += Foundation.exp(classLog[c] - largest) }
            let rowLog = largest + Foundation.log(sum)
            out.logLikelihood += rowLog
            out.best.append(Int32(best))
            for c in 0 ..< classCount {
                let classWeight = Foundation.exp(classLog[c] - rowLog)
                out.classWeights[c] += classWeight
                guard classWeight >= weightFloor else { continue }
                // log p(x | c) less log C(κ_c): the mode terms' scale.
                let classTerm = classLog[c] - logShares[c] - scoring.classLogNormalizer[c]
                for k in scoring.modeOffsets[c] ..< scoring.modeOffsets[c + 1] {
                    let weight = classWeight * Foundation.exp(terms[k] - classTerm)
                    guard weight >= weightFloor else { continue }
                    var sums = out.modeSums[k] ?? [Double](repeating: 0, count: dimension)
                    let base = i * dimension
                    for j in 0 ..< dimension { sums[j] += weight * unit[base + j] }
                    out.modeSums[k] = sums
                }
            }
        }
        return out
    }
}
