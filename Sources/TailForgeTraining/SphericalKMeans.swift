import COpenBLAS
import TailForgeNumerics

/// Spherical k-means of unit rows: k-means++ seeding on the distance 1 − cos, Lloyd steps that assign each row to
/// the centre of largest cosine (ties: the first) and move each centre to the direction of its rows' sum, until
/// no assignment changes (at most ``maxSteps`` steps). A cluster left empty takes the row of lowest cosine to its
/// own centre among clusters with more than one row. Of ``restarts`` runs the one with the largest Σ cos of rows to
/// their centres (= Σ_k ‖S_k‖, S_k the sum of cluster k's rows) is kept, the first on ties.
///
/// Every random choice comes from the caller's generator, and the arithmetic does not depend on threads, so the
/// result is a function of (rows, K, generator state).
public enum SphericalKMeans {
    public static let restarts = 3
    public static let maxSteps = 100

    /// One clustering: each row's cluster, and per cluster its row sum S_k and row count.
    public struct Clustering: Sendable, Equatable {
        public let clusterCount: Int
        /// `[rows]`: the cluster of each row.
        public let assignments: [Int]
        /// `[clusterCount × dimension]`: S_k, the sum of cluster k's rows.
        public let sums: [Double]
        /// `[clusterCount]`: rows per cluster, each at least 1.
        public let counts: [Int]
        /// Σ_k ‖S_k‖: the sum over rows of the cosine to their cluster's centre.
        public let objective: Double
    }

    /// Clusters `count` unit rows (`rows`, `[count × dimension]` row-major) into `clusters` clusters,
    /// 1 ≤ clusters ≤ count. With one cluster nothing is drawn from `generator`.
    public static func cluster(rows: [Double], count: Int, dimension: Int, clusters: Int,
                               using generator: inout some RandomNumberGenerator) -> Clustering {
        precondition(clusters >= 1 && clusters <= count && rows.count == count * dimension,
                     "SphericalKMeans: \(clusters) clusters of \(count) rows of dimension \(dimension) (\(rows.count) values)")
        if clusters == 1 { return summarize(rows: rows, count: count, dimension: dimension, clusters: 1,
                                            assignments: [Int](repeating: 0, count: count)) }
        var best: Clustering?
        for _ in 0 ..< restarts {
            let run = lloyd(rows: rows, count: count, dimension: dimension,
                            centres: seed(rows: rows, count: count, dimension: dimension, clusters: clusters, using: &generator),
                            clusters: clusters)
            if best == nil || run.objective > best!.objective { best = run }
        }
        return best!
    }

    /// k-means++: the first centre a uniformly drawn row, each next one a row drawn with probability proportional
    /// to its 1 − cos to the nearest centre so far (uniformly when every row sits on a centre).
    static func seed(rows: [Double], count: Int, dimension: Int, clusters: Int,
                     using generator: inout some RandomNumberGenerator) -> [Double] {
        var centres = [Double](repeating: 0, count: clusters * dimension)
        var nearest = [Double](repeating: -.infinity, count: count)
        var dots = [Double](repeating: 0, count: count)
        var pick = uniformIndex(count, using: &generator)
        for j in 0 ..< clusters {
            if j > 0 {
                var total = 0.0
                for i in 0 ..< count { total += max(0, 1 - nearest[i]) }
                if total > 0 {
                    let target = unitUniform(using: &generator) * total
                    var cumulative = 0.0
                    pick = -1
                    for i in 0 ..< count where 1 - nearest[i] > 0 {
                        cumulative += 1 - nearest[i]
                        pick = i
                        if cumulative > target { break }
                    }
                } else {
                    pick = uniformIndex(count, using: &generator)
                }
            }
            for t in 0 ..< dimension { centres[j * dimension + t] = rows[pick * dimension + t] }
            rows.withUnsafeBufferPointer { x in
                centres.withUnsafeBufferPointer { c in
                    dots.withUnsafeMutableBufferPointer { z in
                        cblas_dgemv(CblasRowMajor, CblasNoTrans, Int32(count), Int32(dimension), 1, x.baseAddress, Int32(dimension),
                                    c.baseAddress! + j * dimension, 1, 0, z.baseAddress, 1)
                    }
                }
            }
            for i in 0 ..< count { nearest[i] = max(nearest[i], dots[i]) }
        }
        return centres
    }

    static func lloyd(rows: [Double], count: Int, dimension: Int, centres start: [Double], clusters: Int) -> Clustering {
        var centres = start
        var assignments = [Int](repeating: -1, count: count)
        var cosines = [Double](repeating: 0, count: count * clusters)
        for _ in 0 ..< maxSteps {
            rows.withUnsafeBufferPointer { x in
                centres.withUnsafeBufferPointer { c in
                    cosines.withUnsafeMutableBufferPointer { z in
                        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(clusters), Int32(dimension),
                                    1, x.baseAddress, Int32(dimension), c.baseAddress, Int32(dimension), 0, z.baseAddress, Int32(clusters))
                    }
                }
            }
            var next = assignments
            for i in 0 ..< count {
                var best = 0
                for k in 1 ..< clusters where cosines[i * clusters + k] > cosines[i * clusters + best] { best = k }
                next[i] = best
            }
            if next == assignments { break }
            assignments = next
            var counts = [Int](repeating: 0, count: clusters)
            for k in assignments { counts[k] += 1 }
            // Re-seed each emptied cluster with the row farthest from its own centre (among clusters that can spare one).
            for empty in 0 ..< clusters where counts[empty] == 0 {
                var farthest = -1
                for i in 0 ..< count where counts[assignments[i]] > 1 {
                    if farthest < 0 || cosines[i * clusters + assignments[i]] < cosines[farthest * clusters + assignments[farthest]] {
                        farthest = i
                    }
                }
                counts[assignments[farthest]] -= 1
                assignments[farthest] = empty
                counts[empty] = 1
            }
            let sums = clusterSums(rows: rows, count: count, dimension: dimension, clusters: clusters, assignments: assignments)
            for k in 0 ..< clusters {
                var norm = 0.0
                for t in 0 ..< dimension { norm += sums[k * dimension + t] * sums[k * dimension + t] }
                norm = norm.squareRoot()
                // Rows that cancel exactly have no direction: the centre stays where it was.
                guard norm > 0 else { continue }
                for t in 0 ..< dimension { centres[k * dimension + t] = sums[k * dimension + t] / norm }
            }
        }
        return summarize(rows: rows, count: count, dimension: dimension, clusters: clusters, assignments: assignments)
    }

    static func clusterSums(rows: [Double], count: Int, dimension: Int, clusters: Int, assignments: [Int]) -> [Double] {
        var sums = [Double](repeating: 0, count: clusters * dimension)
        rows.withUnsafeBufferPointer { x in
            sums.withUnsafeMutableBufferPointer { s in
                for i in 0 ..< count {
                    cblas_daxpy(Int32(dimension), 1, x.baseAddress! + i * dimension, 1, s.baseAddress! + assignments[i] * dimension, 1)
                }
            }
        }
        return sums
    }

    static func summarize(rows: [Double], count: Int, dimension: Int, clusters: Int, assignments: [Int]) -> Clustering {
        let sums = clusterSums(rows: rows, count: count, dimension: dimension, clusters: clusters, assignments: assignments)
        var counts = [Int](repeating: 0, count: clusters)
        for k in assignments { counts[k] += 1 }
        var objective = 0.0
        for k in 0 ..< clusters {
            var norm = 0.0
            for t in 0 ..< dimension { norm += sums[k * dimension + t] * sums[k * dimension + t] }
            objective += norm.squareRoot()
        }
        return Clustering(clusterCount: clusters, assignments: assignments, sums: sums, counts: counts, objective: objective)
    }

    /// A uniform index in 0..<n from the top 53 bits (the bias, below 2⁻⁴⁰ for any row count here, is immaterial).
    static func uniformIndex(_ n: Int, using generator: inout some RandomNumberGenerator) -> Int {
        min(n - 1, Int(unitUniform(using: &generator) * Double(n)))
    }

    /// A uniform value in [0, 1) from 53 random bits.
    static func unitUniform(using generator: inout some RandomNumberGenerator) -> Double {
        Double(generator.next() >> 11) * 0x1p-53
    }
}
