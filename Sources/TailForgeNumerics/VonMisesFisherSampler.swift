#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Draws from the von Mises–Fisher distribution on the unit sphere in `dimension` dimensions (Wood 1994).
///
/// The cosine W = μᵀx comes from Wood's rejection sampler with the envelope parameter written without
/// cancellation, b = (d−1)/(hypot(2κ, d−1) + 2κ), and every "1 − something close to 1" carried as its own
/// quantity, so κ from 1e-3 to 1e10 at d up to 4096 gives finite, accurate draws. The direction is a standard
/// normal vector made orthogonal to μ and normalised (no rotation matrix): x = Wμ + √(1−W²)v, written in one
/// pass with coefficients from one fused pass of dot products, unit length to within 1e-6 (the dots' Float-lane
/// rounding bound). No allocation per sample: the caller owns `out`.
public struct VonMisesFisherSampler: Sendable {
    public let dimension: Int

    public init(dimension: Int) {
        precondition(dimension >= 2, "the von Mises–Fisher sampler needs dimension ≥ 2, got \(dimension)")
        self.dimension = dimension
    }

    /// What every draw of W at one κ shares: Wood's envelope parameter b and the acceptance test's constants (a
    /// hypot and two logarithms, ≈ 4% of a 768-d sample), so a caller drawing many samples at one κ — the engine
    /// draws each real row's kernel thousands of times — computes them once. The draws are the same bits either way.
    public struct Envelope: Sendable, Equatable {
        public let kappa: Double
        @usableFromInline let b: Double
        @usableFromInline let x0: Double
        @usableFromInline let oneMinusX0: Double
        /// log(1 − x0²).
        @usableFromInline let logOneMinusX0Squared: Double

        @inlinable init(kappa: Double, b: Double, x0: Double, oneMinusX0: Double, logOneMinusX0Squared: Double) {
            self.kappa = kappa
            self.b = b
            self.x0 = x0
            self.oneMinusX0 = oneMinusX0
            self.logOneMinusX0Squared = logOneMinusX0Squared
        }
    }

    /// The envelope for concentration `kappa` (≥ 0; +∞ draws the mean itself).
    @inlinable
    public func envelope(kappa: Double) -> Envelope {
        precondition(kappa >= 0, "vMF concentration must be ≥ 0, got \(kappa)")
        if kappa == .infinity { return Envelope(kappa: kappa, b: 0, x0: 1, oneMinusX0: 0, logOneMinusX0Squared: -.infinity) }
        let m = Double(dimension - 1)
        let b = m / (hypot(2 * kappa, m) + 2 * kappa)
        // log(1 − x0²) = log(4b/(1+b)²).
        return Envelope(kappa: kappa, b: b, x0: (1 - b) / (1 + b), oneMinusX0: 2 * b / (1 + b),
                        logOneMinusX0Squared: 2 * 0.693_147_180_559_945_309_4 + log(b) - 2 * log1p(b))
    }

    /// One draw of W = μᵀx for concentration `kappa`.
    @inlinable
    public func sampleCosine(kappa: Double, using rng: inout some RandomNumberGenerator) -> Double {
        var proposals = 0
        return drawCosine(kappa: kappa, proposals: &proposals, using: &rng).w
    }

    /// One draw of W with the number of proposals it took (1/acceptance rate on average), for diagnostics.
    @inlinable
    public func sampleCosineCountingProposals(kappa: Double, using rng: inout some RandomNumberGenerator) -> (cosine: Double, proposals: Int) {
        var proposals = 0
        let w = drawCosine(kappa: kappa, proposals: &proposals, using: &rng).w
        return (w, proposals)
    }

    /// Writes one unit vector drawn from vMF(mean, kappa) into `out`. `mean` need not be exactly unit length
    /// (it is normalised on the fly) but must be non-zero; both buffers hold `dimension` values.
    @inlinable
    public func sample(
        mean: UnsafeBufferPointer<Float>, kappa: Double, into out: UnsafeMutableBufferPointer<Float>,
        using rng: inout some RandomNumberGenerator
    ) {
        sample(mean: mean, envelope: envelope(kappa: kappa), into: out, using: &rng)
    }

    /// As ``sample(mean:kappa:into:using:)`` with the envelope of its κ made beforehand (``envelope(kappa:)``).
    @inlinable
    public func sample(
        mean: UnsafeBufferPointer<Float>, envelope: Envelope, into out: UnsafeMutableBufferPointer<Float>,
        using rng: inout some RandomNumberGenerator
    ) {
        let d = dimension
        precondition(mean.count == d && out.count == d, "vMF sample: mean and output must have \(d) values")
        var proposals = 0
        let cosine = drawCosine(envelope, proposals: &proposals, using: &rng)
        let m = mean.baseAddress!, y = out.baseAddress!
        while true {
            StandardNormal.fill(out, using: &rng)
            let (mv, mm, vv) = VectorKernels.dots(m, y, count: d)
            precondition(mm > 0 && mm.isFinite, "vMF sample: the mean direction must be non-zero and finite")
            let perpendicular = vv - mv * mv / mm
            // A normal vector nearly parallel to μ has no usable orthogonal part: redraw. The bound sits well
            // above the Float-lane rounding of the dots (≤ 1.4e-6 relative); rejecting on the angle to μ alone
            // leaves the orthogonal direction uniform, and the chance is negligible (< 1% even at d = 2).
            guard perpendicular > 1e-4 * vv else { continue }
            let sine = (cosine.oneMinusW * cosine.onePlusW).squareRoot()
            let beta = sine / perpendicular.squareRoot()
            let alpha = cosine.w / mm.squareRoot() - beta * mv / mm
            // ‖αμ + βy‖ = 1 exactly for these dots, so one pass writes the unit result; its norm is off only
            // by the dots' Float-lane rounding (≤ 1.4e-6 in ‖·‖², so ≤ 7.2e-7 in ‖·‖), the combination's roundings and the Float stores.
            VectorKernels.combine(alpha: Float(alpha), m, beta: Float(beta), y, count: d)
            return
        }
    }

    /// W together with 1 − W and 1 + W, each computed without cancellation.
    @usableFromInline
    struct Cosine {
        @usableFromInline var w: Double
        @usableFromInline var oneMinusW: Double
        @usableFromInline var onePlusW: Double
        @inlinable init(w: Double, oneMinusW: Double, onePlusW: Double) {
            self.w = w
            self.oneMinusW = oneMinusW
            self.onePlusW = onePlusW
        }
    }

    @inlinable
    func drawCosine(kappa: Double, proposals: inout Int, using rng: inout some RandomNumberGenerator) -> Cosine {
        drawCosine(envelope(kappa: kappa), proposals: &proposals, using: &rng)
    }

    @inlinable
    func drawCosine(_ envelope: Envelope, proposals: inout Int, using rng: inout some RandomNumberGenerator) -> Cosine {
        let kappa = envelope.kappa
        if kappa == .infinity { return Cosine(w: 1, oneMinusW: 0, onePlusW: 2) }
        let m = Double(dimension - 1)
        let b = envelope.b, x0 = envelope.x0, oneMinusX0 = envelope.oneMinusX0
        let logOneMinusX0Squared = envelope.logOneMinusX0Squared
        let shape = m / 2
        while true {
            proposals += 1
            // Z ~ Beta(m/2, m/2) as G1/(G1+G2); W = (1 − (1+b)Z)/(1 − (1−b)Z) = (G2 − bG1)/(G2 + bG1).
            let g1 = GammaDistribution.sample(shape: shape, using: &rng)
            let g2 = GammaDistribution.sample(shape: shape, using: &rng)
            let denominator = g2 + b * g1
            let w = (g2 - b * g1) / denominator
            let oneMinusW = 2 * b * g1 / denominator
            let onePlusW = 2 * g2 / denominator
            // Accept when κW + m·log(1 − x0W) − c ≥ log U, with c = κx0 + m·log(1 − x0²), rearranged so the
            // large terms cancel analytically: κ(W − x0) = κ((1 − x0) − (1 − W)), 1 − x0W = (1 − x0) + x0(1 − W).
            let t = kappa * (oneMinusX0 - oneMinusW) + m * (log(oneMinusX0 + x0 * oneMinusW) - logOneMinusX0Squared)
            if t >= log(UnitUniform.next(using: &rng)) {
                return Cosine(w: w, oneMinusW: oneMinusW, onePlusW: onePlusW)
            }
        }
    }
}
