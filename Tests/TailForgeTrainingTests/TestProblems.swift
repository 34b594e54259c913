import Foundation
import TailForgeNumerics
@testable import TailForgeTraining

/// Unit-norm rows around random class means: `spread` is the noise scale relative to the means.
func clusteredProblem(rows: Int, dimension: Int, classCount: Int, spread: Double, seed: UInt64) -> (Matrix, [Int32]) {
    var rng = Xoshiro256PlusPlus(seed: seed, stream: 0)
    let means = (0 ..< classCount).map { _ in (0 ..< dimension).map { _ in StandardNormal.next(using: &rng) } }
    var storage = [Float]()
    var labels = [Int32]()
    for i in 0 ..< rows {
        let c = i % classCount
        var v = means[c].map { $0 + spread * StandardNormal.next(using: &rng) }
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for j in v.indices { v[j] /= n }
        storage += v.map(Float.init)
        labels.append(Int32(c))
    }
    return (Matrix(rows: rows, columns: dimension, storage: storage), labels)
}

/// The rows `range` of a problem as a shard.
func shard(_ m: Matrix, _ labels: [Int32], _ range: Range<Int>, weights: [Float]? = nil) throws -> TrainingShard {
    try TrainingShard(name: "rows \(range)", embeddings: m.gatherRows(range), labels: Array(labels[range]),
                      sampleWeights: weights.map { Array($0[range]) })
}

/// A plain float64 implementation of the objective of `SoftmaxObjective`, the reference for the tests.
func referenceObjective(_ x: [Double], data: Matrix, labels: [Int32], classCount c: Int, l2: Double,
                        sampleWeights: [Float]? = nil, classWeights: [Float]? = nil) -> (Double, [Double]) {
    let d = data.columns, n = data.rows
    var loss = 0.0
    var g = [Double](repeating: 0, count: c * (d + 1))
    for i in 0 ..< n {
        let y = Int(labels[i])
        let w = Double(sampleWeights?[i] ?? 1) * Double(classWeights?[y] ?? 1)
        var z = (0 ..< c).map { k in (0 ..< d).reduce(x[c * d + k]) { $0 + x[k * d + $1] * Double(data[i, $1]) } }
        let m = z.max()!
        let s = z.reduce(0) { $0 + Foundation.exp($1 - m) }
        loss += w * (Foundation.log(s) + m - z[y])
        for k in 0 ..< c {
            z[k] = w * (Foundation.exp(z[k] - m) / s - (k == y ? 1 : 0))
            for j in 0 ..< d { g[k * d + j] += z[k] * Double(data[i, j]) }
            g[c * d + k] += z[k]
        }
    }
    var penalty = 0.0
    for i in g.indices {
        g[i] /= Double(n)
        if i < c * d { g[i] += l2 * x[i]; penalty += x[i] * x[i] }
    }
    return (loss / Double(n) + 0.5 * l2 * penalty, g)
}
