/// Concentration κ of a von Mises–Fisher distribution from a mean resultant length, by the approximation of
/// Banerjee et al. (JMLR 6, 2005): κ ≈ r(d − r²)/(1 − r²).
///
/// At d = 768 it agrees with the exact inverse of A_d to |A_d(κ(r)) − r| ≤ 3.2e-5 for r in [0.05, 0.99].
public enum BanerjeeConcentration {
    /// κ = r(d − r²)/((1 − r)(1 + r)); 0 at r ≤ 0, +infinity at r ≥ 1.
    public static func kappa(meanResultantLength r: Double, dimension: Int) -> Double {
        precondition(!r.isNaN, "BanerjeeConcentration: mean resultant length is NaN")
        if r <= 0 { return 0 }
        if r >= 1 { return .infinity }
        return r * (Double(dimension) - r * r) / ((1 - r) * (1 + r))
    }

    /// κ from the cosine between a point and its nearest neighbour: the pair's mean resultant length is
    /// r = ‖x + y‖/2 = √((1 + cos)/2). Uses 1 − r² = (1 − cos)/2 directly, which is exact for cos near 1.
    public static func kappa(nearestNeighbourCosine cosine: Double, dimension: Int) -> Double {
        precondition(!cosine.isNaN, "BanerjeeConcentration: cosine is NaN")
        let c = min(max(cosine, -1), 1)
        if c >= 1 { return .infinity }
        if c <= -1 { return 0 }
        let r2 = (1 + c) / 2
        return r2.squareRoot() * (Double(dimension) - r2) / ((1 - c) / 2)
    }
}
