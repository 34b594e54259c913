import TailForgeNumerics

/// Ablation kernel: an isotropic Gaussian of variance 1/κ per coordinate around the centre, projected back to
/// the sphere. For large κ this matches vMF(centre, κ) to first order (whose tangent covariance is (I − μμᵀ)/κ),
/// so the comparison isolates the kernel's shape, not its width.
struct GaussianKernelSampler: SyntheticSampler {
    let centres: Matrix

    func drawOne(centre: Int, kappa: Float, into dest: UnsafeMutableBufferPointer<Float>, using rng: inout ClassRandomStream) -> Float {
        let d = centres.columns
        let scale = Float(1 / Double(kappa).squareRoot())
        centres.storage.withUnsafeBufferPointer { c in
            repeat {
                StandardNormal.fill(dest, using: &rng)
                for j in 0..<d { dest[j] = c[centre * d + j] + scale * dest[j] }
            } while !normalizeInPlace(dest)
        }
        return kappa
    }
}
