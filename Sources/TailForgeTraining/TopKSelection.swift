import Foundation

/// The partial selection every model type uses to turn one row of logits into its `k` best classes, most
/// probable first (ties: lower class id), with their softmax probabilities, so softmax and vMF-mixture models
/// report top-k the same way.
struct TopKSelection {
    let k: Int
    private var topIndex: [Int]
    private var topValue: [Float]

    init(k: Int) {
        self.k = k
        topIndex = [Int](repeating: 0, count: k)
        topValue = [Float](repeating: 0, count: k)
    }

    /// Writes the best `k` classes of `row` and their probabilities to `labels` and `probabilities` from `offset`.
    mutating func select(_ row: UnsafeBufferPointer<Float>, labels: inout [Int32], probabilities: inout [Float], at offset: Int) {
        // Keep the k best in order, inserting each better score (strict >, so ties keep the lower class id).
        var filled = 0
        for c in row.indices {
            let v = row[c]
            if filled == k, !(v > topValue[k - 1]) { continue }
            var j = filled == k ? k - 1 : filled
            if filled < k { filled += 1 }
            while j > 0, v > topValue[j - 1] {
                topValue[j] = topValue[j - 1]
                topIndex[j] = topIndex[j - 1]
                j -= 1
            }
            topValue[j] = v
            topIndex[j] = c
        }
        let m = Double(topValue[0])
        var sum = 0.0
        for c in row.indices { sum += Foundation.exp(Double(row[c]) - m) }
        for j in 0 ..< k {
            labels[offset + j] = Int32(topIndex[j])
            probabilities[offset + j] = Float(Foundation.exp(Double(topValue[j]) - m) / sum)
        }
    }

    /// The index of the largest value (ties: the lower index).
    static func argmax(_ row: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for c in row.indices.dropFirst() where row[c] > row[best] { best = c }
        return best
    }
}
