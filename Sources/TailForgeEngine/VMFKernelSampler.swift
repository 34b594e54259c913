import TailForgeNumerics

/// The paper's kernel: centre chosen uniformly among the class's real rows, sample from vMF(centre, κ_centre)
/// with Wood's rejection sampler.
struct VMFKernelSampler: SyntheticSampler {
    let sampler: VonMisesFisherSampler

    init(dimension: Int) { sampler = VonMisesFisherSampler(dimension: dimension) }

    func draw(
        count: Int, centres: Matrix, kappas: [Float], into out: inout [Float],
        centreIndex: inout [Int32], kappaUsed: inout [Float], using rng: inout ClassRandomStream
    ) {
        let d = centres.columns
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: count * d))
        centres.storage.withUnsafeBufferPointer { c in
            out.withUnsafeMutableBufferPointer { o in
                for s in 0..<count {
                    let centre = uniformIndex(below: centres.rows, using: &rng)
                    let kappa = kappas[centre]
                    let mean = UnsafeBufferPointer(rebasing: c[centre * d ..< (centre + 1) * d])
                    let dest = UnsafeMutableBufferPointer(rebasing: o[start + s * d ..< start + (s + 1) * d])
                    sampler.sample(mean: mean, kappa: Double(kappa), into: dest, using: &rng)
                    centreIndex.append(Int32(centre))
                    kappaUsed.append(kappa)
                }
            }
        }
    }
}
