import Foundation
import TailForgeNumerics

/// One class's rows reduced to what fitting its vMF mixture needs for every K up to a maximum: the row-mean
/// direction and, per K, the k-means clusters' row sums and pooled within-mode κ. It depends on the rows, K_max and
/// the seed, not on κ₀, so cross-validation computes it once per (fold, class) for all κ₀ and K_max of its grid.
struct VMFClassSummary: Sendable {
    struct Candidate: Sendable {
        /// `[K × dimension]`: S_k.
        let sums: [Double]
        let counts: [Int]
        /// κ_K, nil when every cluster is a single row.
        let kappa: Double?
        /// m_c·S_k and ‖S_k‖², so ‖θ_k‖ needs no pass over the dimension per κ₀.
        let meanDots: [Double]
        let sumNormSquared: [Double]
    }

    let count: Int
    /// m_c = normalize(Σ rows), zero when the rows cancel exactly.
    let mean: [Double]
    let meanNormSquared: Double
    /// `candidates[K − 1]` for K = 1...min(K_max, count).
    let candidates: [Candidate]

    static let kappaRange: ClosedRange<Double> = 1e-6 ... 1e7

    /// Summarises `count` unit rows (`[count × dimension]`); the k-means for K draws from the class's own stream.
    init(rows: [Double], count: Int, dimension: Int, maxModes: Int, seed: UInt64, classIndex: Int) {
        self.count = count
        var sum = [Double](repeating: 0, count: dimension)
        for i in 0 ..< count { for t in 0 ..< dimension { sum[t] += rows[i * dimension + t] } }
        let norm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
        mean = norm > 0 ? sum.map { $0 / norm } : sum
        meanNormSquared = mean.reduce(0) { $0 + $1 * $1 }
        var candidates: [Candidate] = []
        for modes in 1 ... min(maxModes, count) {
            var generator = Self.kMeansStream(seed: seed, classIndex: classIndex, modes: modes)
            let clustering = SphericalKMeans.cluster(rows: rows, count: count, dimension: dimension, clusters: modes, using: &generator)
            var meanDots = [Double](repeating: 0, count: modes), sumNormSquared = meanDots
            var numerator = 0.0, denominator = 0.0
            for k in 0 ..< modes {
                for t in 0 ..< dimension {
                    let s = clustering.sums[k * dimension + t]
                    meanDots[k] += mean[t] * s
                    sumNormSquared[k] += s * s
                }
                let n = Double(clustering.counts[k])
                numerator += sumNormSquared[k] - n
                denominator += n * (n - 1)
            }
            candidates.append(Candidate(sums: clustering.sums, counts: clustering.counts,
                                        kappa: denominator > 0 ? Self.kappa(meanResultantSquared: numerator / denominator, dimension: dimension) : nil,
                                        meanDots: meanDots, sumNormSquared: sumNormSquared))
        }
        self.candidates = candidates
    }

    /// Banerjee's κ from the unbiased squared mean resultant length, clamped so a class of identical or of
    /// uniformly spread rows still gets a finite, positive κ.
    static func kappa(meanResultantSquared: Double, dimension: Int) -> Double {
        let a2 = min(max(meanResultantSquared, 1e-12), 1 - 1e-12)
        let a = a2.squareRoot()
        return min(max(a * (Double(dimension) - a2) / (1 - a2), kappaRange.lowerBound), kappaRange.upperBound)
    }

    /// The generator of class `classIndex`'s k-means for `modes` clusters: Philox-keyed xoshiro256++ (as
    /// ``ClassRandomStream`` seeds per class) on stream classIndex·256 + modes, so every (class, K) draws
    /// independently of the others and of the thread that runs it.
    static func kMeansStream(seed: UInt64, classIndex: Int, modes: Int) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus(seed: seed, stream: UInt64(classIndex) << 8 | UInt64(modes))
    }

    /// What the class gets for prior concentration `kappa0` and at most `maxModes` modes: the K of largest
    /// marginal likelihood L(K) = n·log C(κ_K) + Σ_k [log C(κ₀) − log C(‖θ_k‖)] − n·log K, θ_k = κ₀m + κ_K S_k (ties:
    /// smaller K); nil when no K has a κ (a single row).
    func choose(kappa0: Double, maxModes: Int, normalizer: VonMisesFisherLogNormalizer) -> (modes: Int, kappa: Double)? {
        var best: (modes: Int, kappa: Double, score: Double)?
        let logPrior = normalizer.logNormalizer(kappa: kappa0)
        let n = Double(count)
        for candidate in candidates.prefix(maxModes) {
            guard let kappa = candidate.kappa else { continue }
            let modes = candidate.counts.count
            var score = n * normalizer.logNormalizer(kappa: kappa) - n * Foundation.log(Double(modes))
            for k in 0 ..< modes {
                score += logPrior - normalizer.logNormalizer(kappa: thetaNormSquared(candidate, k, kappa0: kappa0, kappa: kappa).squareRoot())
            }
            if best == nil || score > best!.score { best = (modes, kappa, score) }
        }
        return best.map { ($0.modes, $0.kappa) }
    }

    /// ‖κ₀m + κS_k‖².
    func thetaNormSquared(_ candidate: Candidate, _ k: Int, kappa0: Double, kappa: Double) -> Double {
        max(0, kappa0 * kappa0 * meanNormSquared + 2 * kappa0 * kappa * candidate.meanDots[k] + kappa * kappa * candidate.sumNormSquared[k])
    }
}
