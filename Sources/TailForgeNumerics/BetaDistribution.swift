/// Beta(α, β) draws as G₁ / (G₁ + G₂) with independent gamma variates.
public enum BetaDistribution {
    @inlinable
    public static func sample(alpha: Double, beta: Double, using rng: inout some RandomNumberGenerator) -> Double {
        let g1 = GammaDistribution.sample(shape: alpha, using: &rng)
        let g2 = GammaDistribution.sample(shape: beta, using: &rng)
        return g1 / (g1 + g2)
    }
}
