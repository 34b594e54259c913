import TailForgeNumerics

/// The paper's kernel: a sample from vMF(centre, κ_centre) with Wood's rejection sampler.
struct VMFKernelSampler: SyntheticSampler {
    let centres: Matrix
    let sampler: VonMisesFisherSampler
    /// Each centre's envelope at its κ, made once: a class's few real rows are drawn around thousands of times.
    let envelopes: [VonMisesFisherSampler.Envelope]

    init(centres: Matrix, kappas: [Float]) {
        precondition(kappas.count == centres.rows, "vMF kernel: \(kappas.count) κ for \(centres.rows) centres")
        self.centres = centres
        sampler = VonMisesFisherSampler(dimension: centres.columns)
        envelopes = kappas.map { [sampler] in sampler.envelope(kappa: Double($0)) }
    }

    func drawOne(centre: Int, kappa: Float, into dest: UnsafeMutableBufferPointer<Float>, using rng: inout ClassRandomStream) -> Float {
        let d = centres.columns
        let made = envelopes[centre]
        let envelope = made.kappa == Double(kappa) ? made : sampler.envelope(kappa: Double(kappa))
        centres.storage.withUnsafeBufferPointer { c in
            sampler.sample(mean: UnsafeBufferPointer(rebasing: c[centre * d ..< (centre + 1) * d]), envelope: envelope, into: dest, using: &rng)
        }
        return kappa
    }
}
