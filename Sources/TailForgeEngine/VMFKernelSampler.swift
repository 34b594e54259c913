import TailForgeNumerics

/// The paper's kernel: a sample from vMF(centre, κ_centre) with Wood's rejection sampler.
struct VMFKernelSampler: SyntheticSampler {
    let centres: Matrix
    let sampler: VonMisesFisherSampler

    init(centres: Matrix) {
        self.centres = centres
        sampler = VonMisesFisherSampler(dimension: centres.columns)
    }

    func drawOne(centre: Int, kappa: Float, into dest: UnsafeMutableBufferPointer<Float>, using rng: inout ClassRandomStream) -> Float {
        let d = centres.columns
        centres.storage.withUnsafeBufferPointer { c in
            sampler.sample(mean: UnsafeBufferPointer(rebasing: c[centre * d ..< (centre + 1) * d]), kappa: Double(kappa), into: dest, using: &rng)
        }
        return kappa
    }
}
