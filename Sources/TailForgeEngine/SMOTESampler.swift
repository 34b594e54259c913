import TailForgeNumerics

/// Ablation kernel: SMOTE on the sphere. One of the centre's k nearest same-class neighbours chosen uniformly,
/// a point a uniform fraction of the way along the chord, projected back to the sphere. Uses no κ (records 0).
/// A class with a single sample has no neighbour: its synthetic rows repeat it.
struct SMOTESampler: SyntheticSampler {
    let centres: Matrix
    /// The centres' k nearest neighbours, nil when the class has a single row.
    let neighbours: NearestNeighbourResult?

    init(centres: Matrix, neighbours k: Int) {
        self.centres = centres
        let capped = min(k, centres.rows - 1)
        neighbours = capped > 0 ? NearestNeighbours.search(centres, k: capped) : nil
    }

    func drawOne(centre: Int, kappa: Float, into dest: UnsafeMutableBufferPointer<Float>, using rng: inout ClassRandomStream) -> Float {
        let d = centres.columns
        centres.storage.withUnsafeBufferPointer { c in
            if let knn = neighbours, knn.k > 0 {
                let other = Int(knn.indices[centre * knn.k + uniformIndex(below: knn.k, using: &rng)])
                let t = Float(uniformUnit(using: &rng))
                for j in 0..<d { dest[j] = c[centre * d + j] + t * (c[other * d + j] - c[centre * d + j]) }
                // Antipodal pair at the midpoint: nothing to project; keep the centre.
                if !normalizeInPlace(dest) { for j in 0..<d { dest[j] = c[centre * d + j] } }
            } else {
                for j in 0..<d { dest[j] = c[centre * d + j] }
            }
        }
        return 0
    }
}
