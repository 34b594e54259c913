#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gamma(shape, 1) draws by Marsaglia & Tsang's squeeze method ("A simple method for generating gamma
/// variables", 2000): about 1.02 normal draws per sample for shape ≥ 1.
public enum GammaDistribution {
    @inlinable
    public static func sample(shape: Double, using rng: inout some RandomNumberGenerator) -> Double {
        precondition(shape > 0 && shape.isFinite, "Gamma shape must be positive and finite, got \(shape)")
        if shape < 1 {
            // Boost: Gamma(a) = Gamma(a + 1) · U^(1/a).
            let boosted = sample(shape: shape + 1, using: &rng)
            return boosted * exp(log(UnitUniform.next(using: &rng)) / shape)
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            var z: Double, v: Double
            repeat {
                z = StandardNormal.next(using: &rng)
                v = 1 + c * z
            } while v <= 0
            v = v * v * v
            let u = UnitUniform.next(using: &rng)
            let z2 = z * z
            if u < 1 - 0.0331 * z2 * z2 { return d * v }
            if log(u) < 0.5 * z2 + d * (1 - v + log(v)) { return d * v }
        }
    }
}
