import COpenBLAS
import Foundation
import TailForgeNumerics

/// The loss and gradient of one block of rows: two float32 GEMMs around a log-sum-exp softmax.
///
/// Scratch buffers are owned by one worker thread and reused for every block it computes.
struct SoftmaxBlockKernel {
    let classCount: Int
    let dimension: Int
    private var logits: [Float]
    private var weightGradient: [Float]
    private var biasGradient: [Double]

    init(classCount: Int, dimension: Int, maxBlockRows: Int) {
        self.classCount = classCount
        self.dimension = dimension
        logits = [Float](repeating: 0, count: maxBlockRows * classCount)
        weightGradient = [Float](repeating: 0, count: classCount * dimension)
        biasGradient = [Double](repeating: 0, count: classCount)
    }

    /// Adds rows `start ..< start + count` of `shard` to `accumulator`.
    ///
    /// Everything here is a function of the block's rows and the parameters only, in a fixed order, so the
    /// same block always contributes the same bits.
    mutating func accumulate(shard: TrainingShard, start: Int, count n: Int, parameters: ModelParameters,
                             classWeights: [Float]?, into accumulator: inout LossAndGradient) {
        let c = classCount, d = dimension
        var loss = 0.0
        parameters.values.withUnsafeBufferPointer { p in
            shard.embeddings.storage.withUnsafeBufferPointer { x in
                logits.withUnsafeMutableBufferPointer { z in
                    let rows = x.baseAddress! + start * d
                    let bias = p.baseAddress! + c * d
                    for i in 0 ..< n { (z.baseAddress! + i * c).update(from: bias, count: c) }
                    // Z = X·Wᵀ + b (b pre-loaded, beta = 1).
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(c), Int32(d),
                                1, rows, Int32(d), p.baseAddress!, Int32(d), 1, z.baseAddress!, Int32(c))
                    biasGradient.withUnsafeMutableBufferPointer { bg in
                        for k in 0 ..< c { bg[k] = 0 }
                        for i in 0 ..< n {
                            let row = z.baseAddress! + i * c
                            let label = Int(shard.labels[start + i])
                            var weight = Double(shard.sampleWeights?[start + i] ?? 1)
                            if let classWeights { weight *= Double(classWeights[label]) }
                            var m = row[0]
                            for k in 1 ..< c where row[k] > m { m = row[k] }
                            let labelLogit = row[label]
                            for k in 0 ..< c { row[k] = fastExp(row[k] - m) }
                            var sum = 0.0
                            for k in 0 ..< c { sum += Double(row[k]) }
                            // Cross-entropy = log Σ exp(z − m) + m − z_y, in float64.
                            loss += weight * (Foundation.log(sum) + Double(m) - Double(labelLogit))
                            let scale = weight / sum
                            for k in 0 ..< c {
                                var g = Double(row[k]) * scale
                                if k == label { g -= weight }
                                row[k] = Float(g)
                                bg[k] += g
                            }
                        }
                    }
                    weightGradient.withUnsafeMutableBufferPointer { wg in
                        // ∂/∂W = Gᵀ·X, G = w·(softmax − onehot) [n × C].
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(c), Int32(d), Int32(n),
                                    1, z.baseAddress!, Int32(c), rows, Int32(d), 0, wg.baseAddress!, Int32(d))
                    }
                }
            }
        }
        weightGradient.withUnsafeBufferPointer { wg in
            biasGradient.withUnsafeBufferPointer { bg in
                accumulator.addBlock(rows: n, loss: loss, weightGradient: wg, biasGradient: bg)
            }
        }
    }
}
