import TailForgeNumerics

/// Ablation kernel: SMOTE on the sphere. A centre chosen uniformly, one of its k nearest same-class neighbours
/// chosen uniformly, a point a uniform fraction of the way along the chord, projected back to the sphere.
/// A class with a single sample has no neighbour: its synthetic rows repeat it.
struct SMOTESampler: SyntheticSampler {
    let neighbours: Int

    func draw(
        count: Int, centres: Matrix, kappas: [Float], into out: inout [Float],
        centreIndex: inout [Int32], kappaUsed: inout [Float], using rng: inout ClassRandomStream
    ) {
        let d = centres.columns
        let n = centres.rows
        let k = min(neighbours, n - 1)
        let knn = k > 0 ? NearestNeighbours.search(centres, k: k) : nil
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: count * d))
        centres.storage.withUnsafeBufferPointer { c in
            out.withUnsafeMutableBufferPointer { o in
                for s in 0..<count {
                    let centre = uniformIndex(below: n, using: &rng)
                    let dest = UnsafeMutableBufferPointer(rebasing: o[start + s * d ..< start + (s + 1) * d])
                    if let knn, knn.k > 0 {
                        let other = Int(knn.indices[centre * knn.k + uniformIndex(below: knn.k, using: &rng)])
                        let t = Float(uniformUnit(using: &rng))
                        for j in 0..<d { dest[j] = c[centre * d + j] + t * (c[other * d + j] - c[centre * d + j]) }
                        // Antipodal pair at the midpoint: nothing to project; keep the centre.
                        if !normalizeInPlace(dest) { for j in 0..<d { dest[j] = c[centre * d + j] } }
                    } else {
                        for j in 0..<d { dest[j] = c[centre * d + j] }
                    }
                    centreIndex.append(Int32(centre))
                    kappaUsed.append(0)
                }
            }
        }
    }
}
