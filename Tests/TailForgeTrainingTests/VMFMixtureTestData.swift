import Foundation
import TailForgeNumerics
@testable import TailForgeTraining

/// Synthetic vMF data for the mixture tests, drawn with the project's own sampler and generator.
enum VMFMixtureTestData {
    /// A uniformly random unit direction.
    static func direction(_ dimension: Int, using rng: inout Xoshiro256PlusPlus) -> [Float] {
        let v = (0 ..< dimension).map { _ in StandardNormal.next(using: &rng) }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return v.map { Float($0 / norm) }
    }

    /// `count` rows from vMF(mean, κ).
    static func rows(mean: [Float], kappa: Double, count: Int, using rng: inout Xoshiro256PlusPlus) -> [Float] {
        let sampler = VonMisesFisherSampler(dimension: mean.count)
        var out = [Float](repeating: 0, count: count * mean.count)
        mean.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { all in
                for i in 0 ..< count {
                    sampler.sample(mean: m, kappa: kappa, into: UnsafeMutableBufferPointer(rebasing: all[i * mean.count ..< (i + 1) * mean.count]), using: &rng)
                }
            }
        }
        return out
    }

    /// Classes of `counts[c]` rows, class c's rows split evenly (round robin) over `modes[c]` modes drawn around a
    /// random class direction with concentration `modeKappa` (0: modes uniformly random), rows around their mode
    /// with concentration `kappa`. Returns the rows, labels and each class's mode directions.
    static func classes(dimension: Int, counts: [Int], modes: [Int], kappa: Double, modeKappa: Double = 0,
                        seed: UInt64) -> (rows: Matrix, labels: [Int32], modes: [[[Float]]]) {
        var rng = Xoshiro256PlusPlus(seed: seed, stream: 0)
        var storage: [Float] = [], labels: [Int32] = [], allModes: [[[Float]]] = []
        for (c, count) in counts.enumerated() {
            let centre = direction(dimension, using: &rng)
            let directions = (0 ..< modes[c]).map { _ in
                modeKappa > 0 ? rows(mean: centre, kappa: modeKappa, count: 1, using: &rng) : direction(dimension, using: &rng)
            }
            allModes.append(directions)
            for i in 0 ..< count {
                storage += rows(mean: directions[i % modes[c]], kappa: kappa, count: 1, using: &rng)
                labels.append(Int32(c))
            }
        }
        return (Matrix(rows: labels.count, columns: dimension, storage: storage), labels, allModes)
    }

    static func cosine(_ a: [Double], _ b: [Float]) -> Double {
        var ab = 0.0, aa = 0.0, bb = 0.0
        for t in a.indices {
            ab += a[t] * Double(b[t])
            aa += a[t] * a[t]
            bb += Double(b[t]) * Double(b[t])
        }
        return ab / (aa * bb).squareRoot()
    }

    /// Balanced accuracy of `predicted` against `labels`.
    static func balancedAccuracy(_ predicted: [Int32], _ labels: [Int32], classCount: Int) -> Double {
        var right = [Int](repeating: 0, count: classCount), total = right
        for (p, y) in zip(predicted, labels) {
            total[Int(y)] += 1
            if p == y { right[Int(y)] += 1 }
        }
        let present = (0 ..< classCount).filter { total[$0] > 0 }
        return present.reduce(0) { $0 + Double(right[$1]) / Double(total[$1]) } / Double(present.count)
    }
}
