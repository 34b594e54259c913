import TailForgeNumerics

/// Ablation kernel: an isotropic Gaussian of variance 1/κ per coordinate around the centre, projected back to
/// the sphere. For large κ this matches vMF(centre, κ) to first order (whose tangent covariance is (I − μμᵀ)/κ),
/// so the comparison isolates the kernel's shape, not its width.
struct GaussianKernelSampler: SyntheticSampler {
    let dimension: Int

    func draw(
        count: Int, centres: Matrix, kappas: [Float], into out: inout [Float],
        centreIndex: inout [Int32], kappaUsed: inout [Float], using rng: inout ClassRandomStream
    ) {
        let d = dimension
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: count * d))
        centres.storage.withUnsafeBufferPointer { c in
            out.withUnsafeMutableBufferPointer { o in
                for s in 0..<count {
                    let centre = uniformIndex(below: centres.rows, using: &rng)
                    let kappa = kappas[centre]
                    let scale = Float(1 / Double(kappa).squareRoot())
                    let dest = UnsafeMutableBufferPointer(rebasing: o[start + s * d ..< start + (s + 1) * d])
                    repeat {
                        StandardNormal.fill(dest, using: &rng)
                        for j in 0..<d { dest[j] = c[centre * d + j] + scale * dest[j] }
                    } while !normalizeInPlace(dest)
                    centreIndex.append(Int32(centre))
                    kappaUsed.append(kappa)
                }
            }
        }
    }
}
