import Foundation
import Testing
@testable import TailForgeNumerics

@Suite struct VonMisesFisherSamplerTests {
    static func randomUnitVector(dimension: Int, seed: UInt64) -> [Float] {
        var rng = Philox4x32(seed: seed, stream: 99)
        var v = (0..<dimension).map { _ in StandardNormal.next(using: &rng) }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        v = v.map { $0 / norm }
        return v.map(Float.init)
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// The key check: the sample mean of μᵀx equals A_d(κ) within five standard errors, the standard
    /// error being √(Var[μᵀx]/n) with the exact variance 1 − A² − (d−1)A/κ.
    @Test(arguments: [3, 64, 768], [0.01, 1, 10, 100, 1e3, 1e4, 1e6])
    func sampleMeanCosineMatchesBesselRatio(dimension: Int, kappa: Double) {
        // Small n keeps this under a couple of seconds in debug builds; the bound scales with it.
        let n = [3: 2000, 64: 400][dimension] ?? 100
        let mu = Self.randomUnitVector(dimension: dimension, seed: UInt64(dimension))
        let sampler = VonMisesFisherSampler(dimension: dimension)
        var rng = Philox4x32(seed: 2024, stream: UInt64(kappa * 100))
        var x = [Float](repeating: 0, count: dimension)
        var sum = 0.0
        for _ in 0..<n {
            mu.withUnsafeBufferPointer { m in
                x.withUnsafeMutableBufferPointer { sampler.sample(mean: m, kappa: kappa, into: $0, using: &rng) }
            }
            sum += Self.dot(mu, x)
        }
        let expected = BesselRatio.meanCosine(kappa: kappa, dimension: dimension)
        let standardError = (BesselRatio.cosineVariance(kappa: kappa, dimension: dimension) / Double(n)).squareRoot()
        // Storing x in Float moves each component by at most 2⁻²⁴ relative, so μᵀx moves by at most
        // 2⁻²⁴·‖μ‖‖x‖ ≈ 6e-8 (Cauchy–Schwarz), and the Float re-normalisation by as much again.
        let bound = 5 * standardError + 2e-7
        #expect(abs(sum / Double(n) - expected) < bound, "d=\(dimension) κ=\(kappa): mean \(sum / Double(n)) vs A=\(expected)")
    }

    /// The same check on the engine's stream (eight xoshiro256++ lanes feeding the vectorised ziggurat), at
    /// d = 768 and the κ range the balancer sees, plus the spread: the sample variance of μᵀx against the exact
    /// 1 − A² − (d−1)A/κ, within five of its standard errors (estimated from the sample's fourth central moment).
    @Test(arguments: [50.0, 250, 1700, 38_000])
    func meanResultantLengthMatchesBesselRatioOnTheLanesStream(kappa: Double) {
        let d = 768, n = 400
        let mu = Self.randomUnitVector(dimension: d, seed: 21)
        let sampler = VonMisesFisherSampler(dimension: d)
        var rng = Xoshiro256PlusPlusLanes(seed: 2025, stream: UInt64(kappa))
        var x = [Float](repeating: 0, count: d)
        var cosines: [Double] = []
        for _ in 0..<n {
            mu.withUnsafeBufferPointer { m in
                x.withUnsafeMutableBufferPointer { sampler.sample(mean: m, kappa: kappa, into: $0, using: &rng) }
            }
            cosines.append(Self.dot(mu, x))
        }
        let mean = cosines.reduce(0, +) / Double(n)
        let expected = BesselRatio.meanCosine(kappa: kappa, dimension: d)
        let variance = BesselRatio.cosineVariance(kappa: kappa, dimension: d)
        #expect(abs(mean - expected) < 5 * (variance / Double(n)).squareRoot() + 2e-7, "κ=\(kappa): mean \(mean) vs A=\(expected)")
        let sampleVariance = cosines.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        let fourth = cosines.reduce(0) { $0 + pow($1 - mean, 4) } / Double(n)
        #expect(abs(sampleVariance - variance) < 5 * ((fourth - variance * variance) / Double(n)).squareRoot(),
                "κ=\(kappa): variance \(sampleVariance) vs \(variance)")
    }

    /// The cosine alone is cheap, so check it with more draws, up to κ = 1e10.
    @Test(arguments: [3, 768, 4096], [1e-3, 0.5, 300, 4e4, 1e8, 1e10])
    func sampleCosineMeanMatchesBesselRatio(dimension: Int, kappa: Double) {
        let n = 4000
        let sampler = VonMisesFisherSampler(dimension: dimension)
        var rng = Philox4x32(seed: 7, stream: UInt64(dimension))
        var sum = 0.0
        for _ in 0..<n {
            let w = sampler.sampleCosine(kappa: kappa, using: &rng)
            #expect(w >= -1 && w <= 1)
            sum += w
        }
        let expected = BesselRatio.meanCosine(kappa: kappa, dimension: dimension)
        let standardError = (BesselRatio.cosineVariance(kappa: kappa, dimension: dimension) / Double(n)).squareRoot()
        #expect(abs(sum / Double(n) - expected) < 5 * standardError + 1e-15, "d=\(dimension) κ=\(kappa)")
    }

    /// The output is written in one pass without re-normalisation: its norm is off by at most the dots'
    /// Float-lane rounding, 24 terms per lane at d = 768, ≤ 24 · 2⁻²⁴ ≈ 1.4e-6 in ‖x‖², so 7.2e-7 in ‖x‖, plus
    /// the combination's three roundings and the Float store (≤ 4 · 2⁻²⁴ ≈ 2.4e-7 relative per component).
    @Test(arguments: [0.5, 300, 4e4, 1e8])
    func samplesAreUnitLengthWithinTheDotRoundingBound(kappa: Double) {
        let d = 768
        let mu = Self.randomUnitVector(dimension: d, seed: 17)
        let sampler = VonMisesFisherSampler(dimension: d)
        var rng = Xoshiro256PlusPlus(seed: 9, stream: UInt64(kappa))
        var x = [Float](repeating: 0, count: d)
        var worst = 0.0
        for _ in 0..<200 {
            mu.withUnsafeBufferPointer { m in
                x.withUnsafeMutableBufferPointer { sampler.sample(mean: m, kappa: kappa, into: $0, using: &rng) }
            }
            worst = max(worst, abs(Self.dot(x, x).squareRoot() - 1))
        }
        #expect(worst < 1e-6, "κ \(kappa): largest |‖x‖ − 1| = \(worst)")
    }

    /// Extremes of the supported range: finite, unit norm, W in [−1, 1], and W close to 1 when κ is huge.
    @Test(arguments: [2, 3, 4096], [1e-3, 1, 1e10])
    func extremeParametersGiveUnitVectors(dimension: Int, kappa: Double) {
        let mu = Self.randomUnitVector(dimension: dimension, seed: 5)
        let sampler = VonMisesFisherSampler(dimension: dimension)
        var rng = Philox4x32(seed: 3, stream: 1)
        var x = [Float](repeating: 0, count: dimension)
        for _ in 0..<20 {
            mu.withUnsafeBufferPointer { m in
                x.withUnsafeMutableBufferPointer { sampler.sample(mean: m, kappa: kappa, into: $0, using: &rng) }
            }
            #expect(x.allSatisfy { $0.isFinite })
            let norm = Self.dot(x, x).squareRoot()
            #expect(abs(norm - 1) < 1e-5)
            let w = Self.dot(mu, x)
            #expect(w >= -1 - 1e-6 && w <= 1 + 1e-6)
            if kappa == 1e10 { #expect(w > 1 - 1e-5) }
        }
    }

    /// The component orthogonal to μ must have no preferred direction: over n samples its mean vector ū has
    /// E‖ū‖² = E[1 − W²]/n, and n‖ū‖²/E[1 − W²] is a scaled χ² whose chance of exceeding 15 is < 1e-6 for d ≥ 3.
    @Test(arguments: [3, 64, 768])
    func orthogonalComponentHasZeroMean(dimension: Int) {
        let n = dimension == 768 ? 200 : 600, kappa = 5.0
        let mu = Self.randomUnitVector(dimension: dimension, seed: 17)
        let sampler = VonMisesFisherSampler(dimension: dimension)
        var rng = Philox4x32(seed: 31, stream: 4)
        var x = [Float](repeating: 0, count: dimension)
        var meanOrthogonal = [Double](repeating: 0, count: dimension)
        for _ in 0..<n {
            mu.withUnsafeBufferPointer { m in
                x.withUnsafeMutableBufferPointer { sampler.sample(mean: m, kappa: kappa, into: $0, using: &rng) }
            }
            let w = Self.dot(mu, x)
            for j in 0..<dimension { meanOrthogonal[j] += (Double(x[j]) - w * Double(mu[j])) / Double(n) }
        }
        let a = BesselRatio.meanCosine(kappa: kappa, dimension: dimension)
        let expectedSine2 = 1 - a * a - BesselRatio.cosineVariance(kappa: kappa, dimension: dimension)
        let squared = meanOrthogonal.reduce(0) { $0 + $1 * $1 }
        #expect(squared * Double(n) / expectedSine2 < 15, "n‖ū‖²/E[1−W²] = \(squared * Double(n) / expectedSine2)")
    }

    @Test func sameSeedAndStreamGiveIdenticalBitsOtherStreamsDiffer() {
        let d = 64
        let mu = Self.randomUnitVector(dimension: d, seed: 1)
        let sampler = VonMisesFisherSampler(dimension: d)
        func draws(stream: UInt64) -> [Float] {
            var rng = Philox4x32(seed: 77, stream: stream)
            var out = [Float](repeating: 0, count: d * 10)
            mu.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    for i in 0..<10 {
                        sampler.sample(mean: m, kappa: 300, into: .init(rebasing: o[i * d ..< (i + 1) * d]), using: &rng)
                    }
                }
            }
            return out
        }
        let first = draws(stream: 3)
        #expect(first.map(\.bitPattern) == draws(stream: 3).map(\.bitPattern))
        #expect(first != draws(stream: 4))
    }
}
