import Foundation
import TailForgeNumerics

/// What scoring rows under a vMF mixture needs besides each row's dot products with the modes' natural
/// parameters: per mode ‖θ_k‖², log C_d(‖θ_k‖) and its log weight, per class κ_c and log C_d(κ_c). Both the model
/// (dots from one GEMM with Θ) and the cross-validation (dots combined from the class mean's and the modes' row
/// sums, without forming θ_k for every grid point) go through ``logDensities(dots:rows:into:scratch:)``.
struct VMFMixtureScoring: Sendable {
    let classCount: Int
    /// `[classCount + 1]`: class c owns modes `modeOffsets[c] ..< modeOffsets[c + 1]` (possibly none: −∞).
    let modeOffsets: [Int]
    let modeNormSquared: [Double]
    let modeLogNormalizer: [Double]
    let modeLogWeights: [Double]
    let classKappa: [Double]
    let classLogNormalizer: [Double]
    let normalizer: VonMisesFisherLogNormalizer

    var modeCount: Int { modeOffsets[classCount] }

    init(modeOffsets: [Int], modeNormSquared: [Double], modeLogWeights: [Double], classKappa: [Double],
         normalizer: VonMisesFisherLogNormalizer) {
        classCount = classKappa.count
        self.modeOffsets = modeOffsets
        self.modeNormSquared = modeNormSquared
        self.modeLogWeights = modeLogWeights
        self.classKappa = classKappa
        self.normalizer = normalizer
        modeLogNormalizer = modeNormSquared.map { normalizer.logNormalizer(kappa: $0.squareRoot()) }
        classLogNormalizer = classKappa.map { normalizer.logNormalizer(kappa: $0) }
    }

    /// Writes log p(x_i | c) to `out[i·classCount + c]` for `rows` rows, given `dots[i·modeCount + k]` = θ_k·x_i
    /// (unit x_i). `scratch` holds at least `modeCount` values.
    ///
    /// log p(x | c) = logsumexp_k [log w_k + log C(κ_c) + log C(‖θ_k‖) − log C(‖θ_k + κ_c x‖)],
    /// ‖θ_k + κ_c x‖² = ‖θ_k‖² + 2κ_c θ_k·x + κ_c².
    func logDensities(dots: UnsafePointer<Double>, rows: Int, into out: UnsafeMutablePointer<Double>,
                      scratch: UnsafeMutableBufferPointer<Double>) {
        let modes = modeCount
        for i in 0 ..< rows {
            modeTerms(rowDots: dots + i * modes, into: scratch)
            for c in 0 ..< classCount { out[i * classCount + c] = classLogDensity(c, modeTerms: scratch) }
        }
    }

    /// Each mode's term of one row's class density less log C(κ_c), log w_k + log C(‖θ_k‖) − log C(‖θ_k + κ_c x‖), into
    /// `terms[k]` (`terms` holds at least `modeCount` values), given `rowDots[k]` = θ_k·x.
    func modeTerms(rowDots: UnsafePointer<Double>, into terms: UnsafeMutableBufferPointer<Double>) {
        let modes = modeCount
        for c in 0 ..< classCount {
            let kappa = classKappa[c]
            for k in modeOffsets[c] ..< modeOffsets[c + 1] {
                terms[k] = max(0, modeNormSquared[k] + 2 * kappa * rowDots[k] + kappa * kappa).squareRoot()
            }
        }
        let norms = UnsafeBufferPointer(rebasing: terms[0 ..< modes])
        normalizer.logNormalizers(norms, into: UnsafeMutableBufferPointer(rebasing: terms[0 ..< modes]))
        for k in 0 ..< modes {
            terms[k] = modeLogWeights[k] + modeLogNormalizer[k] - terms[k]
        }
    }

    /// log p(x | c) from a row's ``modeTerms(rowDots:into:)``: log C(κ_c) plus their log-sum-exp over class c's modes
    /// (−∞ without any).
    func classLogDensity(_ c: Int, modeTerms terms: UnsafeMutableBufferPointer<Double>) -> Double {
        let lower = modeOffsets[c], upper = modeOffsets[c + 1]
        guard lower < upper else { return -.infinity }
        var largest = -Double.infinity
        for k in lower ..< upper { largest = max(largest, terms[k]) }
        var sum = 0.0
        for k in lower ..< upper { sum += Foundation.exp(terms[k] - largest) }
        return classLogNormalizer[c] + largest + Foundation.log(sum)
    }
}
