import Foundation
import Testing
import TailForgeNumerics

/// log C_d(κ) from the integrated Bessel ratio against the closed forms at d = 3 and d = 5.
@Suite struct VonMisesFisherNormalizerTests {
    /// log sinh κ without overflow.
    static func logSinh(_ k: Double) -> Double { k > 20 ? k + log1p(-exp(-2 * k)) - log(2.0) : log(sinh(k)) }

    /// Tolerance 1e-9 relative to |log C| (plus 1e-10 absolute): Simpson's error on the table is far below it, the
    /// continued fraction is accurate to ~1e-15, and log C reaches −1e5 at the largest κ.
    static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(b)) + 1e-10 }

    @Test(arguments: [1e-7, 1e-3, 0.5, 1, 3.7, 10, 100, 1_500, 1e5])
    func matchesTheClosedFormInThreeDimensions(kappa: Double) {
        // C₃(κ) = κ / (4π sinh κ).
        let expected = log(kappa) - log(4 * Double.pi) - Self.logSinh(kappa)
        let got = VonMisesFisherNormalizer(dimension: 3).logNormalizer(kappa: kappa)
        #expect(Self.close(got, expected), "κ \(kappa): \(got) vs \(expected)")
    }

    @Test(arguments: [1e-3, 0.5, 2, 10, 250, 4_000])
    func matchesTheClosedFormInFiveDimensions(kappa: Double) {
        // C₅(κ) = κ^{3/2} / ((2π)^{5/2} I_{3/2}(κ)), I_{3/2}(κ) = √(2/(πκ)) (cosh κ − sinh κ / κ).
        // For small κ the difference cancels, so I_{3/2} comes from its series (κ/2)^{3/2} Σ (κ²/4)^m / (m! Γ(m + 5/2)).
        let logI: Double
        if kappa < 1 {
            var sum = 0.0, term = 1 / tgamma(2.5)
            for m in 0..<30 { sum += term; term *= (kappa * kappa / 4) / (Double(m + 1) * (Double(m) + 2.5)) }
            logI = 1.5 * log(kappa / 2) + log(sum)
        } else {
            // cosh κ − sinh κ/κ = e^κ/2 · ((1 − 1/κ) + e^{−2κ}(1 + 1/κ)).
            logI = 0.5 * log(2 / (Double.pi * kappa)) + kappa - log(2.0) + log((1 - 1 / kappa) + exp(-2 * kappa) * (1 + 1 / kappa))
        }
        let expected = 1.5 * log(kappa) - 2.5 * log(2 * Double.pi) - logI
        let got = VonMisesFisherNormalizer(dimension: 5).logNormalizer(kappa: kappa)
        #expect(Self.close(got, expected), "κ \(kappa): \(got) vs \(expected)")
    }

    @Test func atZeroItIsTheUniformDensity() {
        // 1 / surface area of S^{767}: log Γ(384) − log 2 − 384 log π.
        let d = 768
        let expected = lgamma(384.0) - log(2.0) - 384 * log(Double.pi)
        #expect(Self.close(VonMisesFisherNormalizer(dimension: d).logNormalizer(kappa: 0), expected))
    }
}
