import Foundation
import Testing
@testable import TailForgeNumerics

@Suite struct BesselRatioTests {
    /// For d = 3, A₃(κ) = coth κ − 1/κ exactly (no cancellation worth worrying about for κ ≥ 0.5).
    @Test(arguments: [0.5, 1, 1.4, 1.6, 2, 5, 10, 50, 300, 1e4, 1e7])
    func dimensionThreeMatchesClosedForm(kappa: Double) {
        let exact = 1 / tanh(kappa) - 1 / kappa
        #expect(abs(BesselRatio.meanCosine(kappa: kappa, dimension: 3) - exact) <= 1e-14 * exact)
    }

    @Test func smallKappaFollowsSeries() {
        // A_d(κ) = κ/d − κ³/(d²(d+2)) + O(κ⁵).
        for d in [3, 768, 4096] {
            let k = 1e-3, dd = Double(d)
            let series = k / dd - k * k * k / (dd * dd * (dd + 2))
            #expect(abs(BesselRatio.meanCosine(kappa: k, dimension: d) - series) <= 1e-12 * series)
        }
    }

    /// Reference: scipy 1.17.1, `scipy.special.ive(d/2, κ) / scipy.special.ive(d/2 − 1, κ)` (agrees with
    /// mpmath at 40 digits to ≤ 2e-13); where ive underflows to 0/0 (d = 768 with κ ≤ 10, d = 4096 with
    /// κ ≤ 1000) the value is mpmath 1.3.0 `besseli` at 40 digits.
    static let references: [(dimension: Int, kappa: Double, ratio: Double)] = [
        (2, 0.01, 0.004999937501041651), (2, 1, 0.4463899658965345), (2, 100, 0.9949873730051689),
        (2, 1e6, 0.9999994999998749),
        (5, 0.5, 0.0992935566076897), (5, 10, 0.8111111060218429), (5, 1e4, 0.9998000100010002),
        (64, 0.01, 0.0001562499963008966), (64, 10, 0.1527119041970822), (64, 100, 0.7323801940965822),
        (64, 1000, 0.9689807403096333), (64, 1e6, 0.9999685004803753),
        (768, 1, 0.0013020811314952971), (768, 10, 0.01301863223029994), (768, 100, 0.1280777767572141),
        (768, 384, 0.4143252163009798), (768, 1000, 0.6873995803134014), (768, 1e4, 0.9623832482251059),
        (768, 1e6, 0.9996165733444456),
        (4096, 1000, 0.2311067167883069), (4096, 3000, 0.5281638615377113), (4096, 1e4, 0.8159880629587718),
        (4096, 1e6, 0.9979545951044015),
    ]

    @Test func matchesScipyReferenceValues() {
        for r in Self.references {
            let value = BesselRatio.meanCosine(kappa: r.kappa, dimension: r.dimension)
            // scipy's own relative error here is ≤ 2e-13 (checked against mpmath).
            #expect(abs(value - r.ratio) <= 5e-13 * r.ratio, "d=\(r.dimension) κ=\(r.kappa): \(value) vs \(r.ratio)")
        }
    }

    @Test func continuousWhereTheFractionsSwitch() {
        for d in [3, 64, 768, 4096] {
            let nu = Double(d) / 2
            let below = BesselRatio.meanCosine(kappa: nu.nextDown, dimension: d)
            let above = BesselRatio.meanCosine(kappa: nu.nextUp, dimension: d)
            #expect(abs(above - below) < 1e-13)
        }
    }

    /// Var[μᵀx] = dA/dκ: compare with a central difference (step h = 1e-4·κ, truncation error ~h²·A‴).
    @Test(arguments: [3, 64, 768], [0.05, 2, 30, 700, 5e4])
    func varianceIsDerivativeOfMeanCosine(dimension: Int, kappa: Double) {
        let h = 1e-4 * kappa
        let derivative = (BesselRatio.meanCosine(kappa: kappa + h, dimension: dimension)
            - BesselRatio.meanCosine(kappa: kappa - h, dimension: dimension)) / (2 * h)
        let variance = BesselRatio.cosineVariance(kappa: kappa, dimension: dimension)
        #expect(abs(variance - derivative) < 1e-5 * variance, "d=\(dimension) κ=\(kappa)")
    }

    @Test func varianceAtLargeKappaMatchesHighPrecision() {
        // mpmath 1.3.0 at 60 digits: 1 − A² − (d−1)A/κ with A = I_{d/2}(κ)/I_{d/2−1}(κ).
        #expect(abs(BesselRatio.cosineVariance(kappa: 7.67e6, dimension: 768) - 6.518579728607599e-12) < 1e-10 * 6.5e-12)
        #expect(abs(BesselRatio.cosineVariance(kappa: 7.67e8, dimension: 768) - 6.518901573036375e-16) < 1e-9 * 6.5e-16)
        // Either side of the switch to the series (κ = 30(d−1) = 23,010); below it
        // the direct form's rounding error of A is amplified by 2κ²/(d−1) ≈ 1.4e6: 1 − A² − (d−1)A/κ from mpmath.
        #expect(abs(BesselRatio.cosineVariance(kappa: 23_009, dimension: 768) - 7.123444654157105e-07) < 5e-9 * 7.123444654157105e-07)
        #expect(abs(BesselRatio.cosineVariance(kappa: 23_010, dimension: 768) - 7.122830738330956e-07) < 1e-10 * 7.122830738330956e-07)
        #expect(abs(BesselRatio.cosineVariance(kappa: 2e6, dimension: 3) - 2.5e-13) < 1e-9 * 2.5e-13)
        #expect(BesselRatio.cosineVariance(kappa: 0, dimension: 768) == 1.0 / 768)
    }
}
