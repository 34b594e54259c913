#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// log C_d(κ), the log normaliser of the von Mises–Fisher density C_d(κ)·exp(κ μᵀx) on the sphere in d dimensions,
/// for comparing kernel densities with different κ.
///
/// C_d(κ) = κ^{d/2−1} / ((2π)^{d/2} I_{d/2−1}(κ)) underflows and overflows in Double long before the κ used
/// here (I_{383}(κ) at d = 768), so it is never formed. Instead d/dκ log C_d(κ) = −A_d(κ), the Bessel ratio
/// ``BesselRatio`` evaluates without underflow, and C_d(0) = Γ(d/2)/(2π^{d/2}) (the uniform density), so
/// log C_d(κ) = log C_d(0) − ∫₀^κ A_d(t) dt. The integral is tabulated once per dimension on a log grid
/// (Simpson's rule in u = log t, where the integrand A_d(eᵘ)eᵘ is smooth) and finished from the nearest grid
/// point below κ with one more Simpson step. Above K = max(30(d−1), 100), where the continued fraction needs
/// ever more terms, A_d's asymptotic series Σ aₙκ⁻ⁿ (``BesselRatio/asymptoticCoefficients(dimension:)``, the
/// one behind ``BesselRatio/cosineVariance(kappa:dimension:)``) is integrated term by term instead.
/// Checked against the closed forms at d = 3 (C₃ = κ/(4π sinh κ)) and d = 5.
public struct VonMisesFisherNormalizer: Sendable {
    public let dimension: Int
    /// log C_d(0) = log Γ(d/2) − log 2 − (d/2) log π.
    public let logUniform: Double
    /// Grid in u = log t: u_k = firstLog + k·step.
    private let firstLog: Double
    private let step: Double
    /// ∫₀^{exp(u_k)} A_d(t) dt at every grid point.
    private let integral: [Double]
    /// Where the series takes over, ∫₀^K A_d, and the series' coefficients.
    private let seriesStart: Double
    private var integralToSeriesStart = 0.0
    private let coefficients: [Double]

    /// Below the grid A_d(t) = t/d + O(t³), so the integral is t²/(2d) to relative order t².
    private static let smallestKappa = 1e-6
    public static let largestKappa = 1e12
    /// 64 steps per e-fold: Simpson's error per step is ~h⁵ times the fourth derivative, below 1e-12 relative.
    private static let stepsPerUnit = 64.0

    public init(dimension: Int) {
        precondition(dimension >= 2, "VonMisesFisherNormalizer: dimension must be ≥ 2, got \(dimension)")
        self.dimension = dimension
        let half = Double(dimension) / 2
        logUniform = lgamma(half) - log(2.0) - half * log(Double.pi)
        firstLog = log(Self.smallestKappa)
        step = 1 / Self.stepsPerUnit
        coefficients = BesselRatio.asymptoticCoefficients(dimension: dimension)
        seriesStart = BesselRatio.asymptoticThreshold(dimension: dimension)
        let count = Int(((log(seriesStart) - firstLog) / step).rounded(.up)) + 1
        var values = [Double](repeating: 0, count: count)
        values[0] = Self.smallestKappa * Self.smallestKappa / (2 * Double(dimension))
        var previous = Self.integrand(firstLog, dimension)
        for k in 1..<count {
            let u = firstLog + Double(k) * step
            let next = Self.integrand(u, dimension)
            values[k] = values[k - 1] + step / 6 * (previous + 4 * Self.integrand(u - step / 2, dimension) + next)
            previous = next
        }
        integral = values
        integralToSeriesStart = tableIntegral(kappa: seriesStart)
    }

    /// A_d(eᵘ)·eᵘ: the integrand of ∫A_d(t)dt after t = eᵘ.
    private static func integrand(_ u: Double, _ dimension: Int) -> Double {
        let t = exp(u)
        return BesselRatio.meanCosine(kappa: t, dimension: dimension) * t
    }

    /// ∫₀^κ A_d(t) dt = log C_d(0) − log C_d(κ).
    public func meanCosineIntegral(kappa: Double) -> Double {
        precondition(kappa >= 0 && kappa <= Self.largestKappa, "VonMisesFisherNormalizer: κ must be in [0, \(Self.largestKappa)], got \(kappa)")
        if kappa <= Self.smallestKappa { return kappa * kappa / (2 * Double(dimension)) }
        guard kappa > seriesStart else { return tableIntegral(kappa: kappa) }
        // ∫_K^κ Σ aₙ t⁻ⁿ dt = a₀(κ − K) + a₁ log(κ/K) + Σ_{n≥2} aₙ (K^{1−n} − κ^{1−n})/(n − 1).
        var sum = coefficients[0] * (kappa - seriesStart) + coefficients[1] * log(kappa / seriesStart)
        for n in 2..<coefficients.count {
            sum += coefficients[n] * (pow(seriesStart, Double(1 - n)) - pow(kappa, Double(1 - n))) / Double(n - 1)
        }
        return integralToSeriesStart + sum
    }

    private func tableIntegral(kappa: Double) -> Double {
        let u = log(kappa)
        let k = min(integral.count - 1, max(0, Int(((u - firstLog) / step).rounded(.down))))
        let base = firstLog + Double(k) * step
        let h = u - base
        guard h > 0 else { return integral[k] }
        let start = Self.integrand(base, dimension)
        return integral[k] + h / 6 * (start + 4 * Self.integrand(base + h / 2, dimension) + Self.integrand(u, dimension))
    }

    /// log C_d(κ).
    public func logNormalizer(kappa: Double) -> Double {
        logUniform - meanCosineIntegral(kappa: kappa)
    }
}
