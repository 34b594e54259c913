import COpenBLAS
import Foundation
import TailForgeNumerics

/// A trained multinomial logistic-regression model: class scores `W·x + b`, probabilities by softmax.
public struct SoftmaxModel: Sendable, Equatable {
    public let classCount: Int
    public let dimension: Int
    /// `[classCount × dimension]`, row-major.
    public let weights: [Float]
    /// `[classCount]`.
    public let bias: [Float]

    public init(classCount: Int, dimension: Int, weights: [Float], bias: [Float]) {
        precondition(classCount > 0 && dimension > 0, "SoftmaxModel needs at least one class and one dimension")
        precondition(weights.count == classCount * dimension && bias.count == classCount, "SoftmaxModel: weights/bias do not match \(classCount)×\(dimension)")
        self.classCount = classCount
        self.dimension = dimension
        self.weights = weights
        self.bias = bias
    }

    public init(parameters: ModelParameters) {
        self.init(classCount: parameters.classCount, dimension: parameters.dimension,
                  weights: Array(parameters.weights), bias: Array(parameters.bias))
    }

    public var parameters: ModelParameters {
        ModelParameters(classCount: classCount, dimension: dimension, values: weights + bias)
    }

    /// Rows scored per GEMM, bounding the scratch memory to `blockRows × classCount` floats.
    static let blockRows = 4096

    /// Calls `body` with each block's first row, row count and logits `[rows × classCount]`.
    private func forEachLogitBlock(_ embeddings: Matrix, source: String,
                                   _ body: (Int, Int, UnsafeMutableBufferPointer<Float>) -> Void) throws(TrainingError) {
        guard embeddings.columns == dimension else {
            throw .dimensionMismatch(shard: source, expected: dimension, found: embeddings.columns)
        }
        var logits = [Float](repeating: 0, count: min(Self.blockRows, max(embeddings.rows, 1)) * classCount)
        var start = 0
        while start < embeddings.rows {
            let n = min(Self.blockRows, embeddings.rows - start)
            weights.withUnsafeBufferPointer { w in
                embeddings.storage.withUnsafeBufferPointer { x in
                    logits.withUnsafeMutableBufferPointer { z in
                        for i in 0 ..< n { for c in 0 ..< classCount { z[i * classCount + c] = bias[c] } }
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(classCount), Int32(dimension),
                                    1, x.baseAddress! + start * dimension, Int32(dimension), w.baseAddress!, Int32(dimension),
                                    1, z.baseAddress!, Int32(classCount))
                        body(start, n, UnsafeMutableBufferPointer(rebasing: z[0 ..< n * classCount]))
                    }
                }
            }
            start += n
        }
    }

    /// The class scores `W·x + b` of each row, `[rows × classCount]` row-major.
    public func logits(_ embeddings: Matrix, source: String = "input") throws(TrainingError) -> [Float] {
        var out = [Float](repeating: 0, count: embeddings.rows * classCount)
        try forEachLogitBlock(embeddings, source: source) { start, n, z in
            for i in 0 ..< n * classCount { out[start * classCount + i] = z[i] }
        }
        return out
    }

    /// The most probable class of each row (ties: lower class id).
    public func predict(_ embeddings: Matrix, source: String = "input") throws(TrainingError) -> [Int32] {
        var labels = [Int32](repeating: 0, count: embeddings.rows)
        try forEachLogitBlock(embeddings, source: source) { start, n, z in
            for i in 0 ..< n {
                labels[start + i] = Int32(TopKSelection.argmax(UnsafeBufferPointer(rebasing: z[i * classCount ..< (i + 1) * classCount])))
            }
        }
        return labels
    }

    /// The `k` most probable classes of each row, most probable first (ties: lower class id), with their
    /// softmax probabilities. `k` is capped at the class count.
    public func topK(_ embeddings: Matrix, k requested: Int, source: String = "input") throws(TrainingError) -> TopKPredictions {
        guard requested >= 1 else { throw .invalidSetting(name: "top-k", value: "\(requested)", expected: "at least 1") }
        let k = min(requested, classCount)
        var labels = [Int32](repeating: 0, count: embeddings.rows * k)
        var probabilities = [Float](repeating: 0, count: embeddings.rows * k)
        try forEachLogitBlock(embeddings, source: source) { start, n, z in
            var selection = TopKSelection(k: k)
            for i in 0 ..< n {
                selection.select(UnsafeBufferPointer(rebasing: z[i * classCount ..< (i + 1) * classCount]),
                                 labels: &labels, probabilities: &probabilities, at: (start + i) * k)
            }
        }
        return TopKPredictions(k: k, labels: labels, probabilities: probabilities)
    }
}

/// The `k` most probable classes per row: `labels` and `probabilities` are `[rows × k]`, row-major, most
/// probable first.
public struct TopKPredictions: Sendable, Equatable {
    public let k: Int
    public let labels: [Int32]
    public let probabilities: [Float]

    /// The most probable class of each row.
    public var top1: [Int32] {
        stride(from: 0, to: labels.count, by: k).map { labels[$0] }
    }
}
