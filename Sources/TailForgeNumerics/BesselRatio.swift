/// The mean cosine of the von Mises–Fisher distribution, A_d(κ) = I_{d/2}(κ) / I_{d/2−1}(κ), and the
/// variance of the cosine.
///
/// Ratios of (scaled) Bessel functions underflow to 0/0 for small κ in high dimension, so the ratio is
/// evaluated directly as a continued fraction with the modified Lentz algorithm: Gauss's fraction for κ ≤ ν
/// (ν = d/2), Perron's for κ > ν, where each converges quickly (Gautschi & Slavik, Math. Comp. 32, 1978).
public enum BesselRatio {
    /// A_d(κ) = E[μᵀx] under vMF(μ, κ) on the sphere in `dimension` dimensions; in [0, 1).
    public static func meanCosine(kappa: Double, dimension: Int) -> Double {
        precondition(dimension >= 2, "BesselRatio: dimension must be ≥ 2, got \(dimension)")
        precondition(kappa >= 0, "BesselRatio: κ must be ≥ 0, got \(kappa)")
        if kappa == 0 { return 0 }
        if kappa == .infinity { return 1 }
        let nu = Double(dimension) / 2
        if kappa <= nu {
            // R = κ / (2ν + κ² / (2(ν+1) + κ² / (2(ν+2) + …))).
            let k2 = kappa * kappa
            return kappa / lentz(2 * nu) { j in (k2, 2 * (nu + Double(j))) }
        }
        // Perron: R = κ / (2ν + κ − (2ν+1)κ / (2(ν+κ)+1 − (2ν+3)κ / (2(ν+κ)+2 − …))).
        return kappa / lentz(2 * nu + kappa) { j in (-(2 * nu + Double(2 * j - 1)) * kappa, 2 * (nu + kappa) + Double(j)) }
    }

    /// Var[μᵀx] under vMF(μ, κ): 1 − A² − (d−1)A/κ (= dA/dκ).
    ///
    /// For κ ≫ d the three terms cancel to about (d−1)/(2κ²), and the rounding error of A is amplified by
    /// 2κ²/(d−1); from κ = max(30(d−1), 100) on, the asymptotic series of A' from the Riccati equation
    /// A' = 1 − A² − (d−1)A/κ is used instead (six terms: relative error
    /// < 1e-10 there, checked with mpmath; the direct form is within ~2e-9 just below).
    public static func cosineVariance(kappa: Double, dimension: Int) -> Double {
        precondition(dimension >= 2, "BesselRatio: dimension must be ≥ 2, got \(dimension)")
        precondition(kappa >= 0, "BesselRatio: κ must be ≥ 0, got \(kappa)")
        let m = Double(dimension - 1)
        if kappa == 0 { return 1 / Double(dimension) }
        if kappa == .infinity { return 0 }
        if kappa >= asymptoticThreshold(dimension: dimension) {
            // A' = −Σ n aₙ κ⁻⁽ⁿ⁺¹⁾.
            let a = asymptoticCoefficients(dimension: dimension)
            var variance = 0.0, power = 1 / (kappa * kappa)
            for n in 1...6 {
                variance -= Double(n) * a[n] * power
                power /= kappa
            }
            return variance
        }
        let a = meanCosine(kappa: kappa, dimension: dimension)
        return max(0, 1 - a * a - m * a / kappa)
    }

    /// Where the asymptotic series of A_d takes over from the continued fraction: max(30(d−1), 100).
    public static func asymptoticThreshold(dimension: Int) -> Double { max(30 * Double(dimension - 1), 100) }

    /// a₀…a₆ of A_d(κ) = Σ aₙ κ⁻ⁿ for large κ, from the Riccati equation A' = 1 − A² − (d−1)A/κ:
    /// a₀ = 1, a₁ = −(d−1)/2, aₙ = ((n − 1 − (d−1))aₙ₋₁ − Σᵢ₌₁ⁿ⁻¹ aᵢaₙ₋ᵢ)/2.
    public static func asymptoticCoefficients(dimension: Int) -> [Double] {
        let m = Double(dimension - 1)
        var a: [Double] = [1, -m / 2]
        for n in 2...6 {
            var convolution = 0.0
            for i in 1..<n { convolution += a[i] * a[n - i] }
            a.append((Double(n - 1) - m) * a[n - 1] / 2 - convolution / 2)
        }
        return a
    }

    /// Evaluates b₀ + a₁/(b₁ + a₂/(b₂ + …)) given (a_j, b_j) for j = 1, 2, …, by the modified Lentz method.
    /// Both fractions here have b₀ > 0, so no term needs the "tiny" substitute for its start.
    private static func lentz(_ b0: Double, _ term: (Int) -> (a: Double, b: Double)) -> Double {
        let tiny = 1e-300
        var f = b0, c = b0, d = 0.0
        for j in 1...1_000_000 {
            let (a, b) = term(j)
            d = b + a * d
            if d == 0 { d = tiny }
            c = b + a / c
            if c == 0 { c = tiny }
            d = 1 / d
            let delta = c * d
            f *= delta
            if abs(delta - 1) < 1e-16 { return f }
        }
        return f
    }
}
