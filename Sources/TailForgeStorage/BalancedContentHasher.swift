/// The running content digests of a balanced set (``BalancedContentDigest``) and of its real rows
/// (``BalancedSetIdentity/realContentKeys``), fed rows in output order.
///
/// `BalancedDatasetWriter` feeds it the rows it writes; a virtual publish (``VirtualBalancedDataset``) feeds it
/// the shard rows it maps, in output order, so both record the same digests and identity for one set.
public struct BalancedContentHasher: Sendable {
    public let dimension: Int
    private var embeddings = SHA256()
    private var labels = SHA256()
    private var isSynthetic = SHA256()
    private var sourceIndex = SHA256()
    private var kappa = SHA256()
    private var realEmbeddings = SHA256()
    private var realLabels = SHA256()
    private var realSourceIndex = SHA256()

    public init(dimension: Int) { self.dimension = dimension }

    /// Feeds the next rows (`labels.count` of them; `embeddings` row-major). The arrays must agree in length.
    public mutating func update(
        embeddings newEmbeddings: [Float], labels newLabels: [Int32], isSynthetic newIsSynthetic: [UInt8],
        sourceIndex newSourceIndex: [Int64], kappa newKappa: [Float]
    ) {
        newEmbeddings.withUnsafeBufferPointer { embeddings.update(elementsOf: $0) }
        newLabels.withUnsafeBufferPointer { labels.update(elementsOf: $0) }
        newIsSynthetic.withUnsafeBufferPointer { isSynthetic.update(elementsOf: $0) }
        newSourceIndex.withUnsafeBufferPointer { sourceIndex.update(elementsOf: $0) }
        newKappa.withUnsafeBufferPointer { kappa.update(elementsOf: $0) }
        updateRealRows(embeddings: newEmbeddings, labels: newLabels, isSynthetic: newIsSynthetic, sourceIndex: newSourceIndex)
    }

    /// Feeds each run of consecutive real rows to the real-row digests (a class block is its real rows, then
    /// its synthetic rows, so there is one run per class).
    private mutating func updateRealRows(embeddings: [Float], labels: [Int32], isSynthetic: [UInt8], sourceIndex: [Int64]) {
        var start = 0
        while start < labels.count {
            guard isSynthetic[start] == 0 else { start += 1; continue }
            var end = start + 1
            while end < labels.count, isSynthetic[end] == 0 { end += 1 }
            embeddings.withUnsafeBufferPointer { realEmbeddings.update(elementsOf: UnsafeBufferPointer(rebasing: $0[start * dimension ..< end * dimension])) }
            labels.withUnsafeBufferPointer { realLabels.update(elementsOf: UnsafeBufferPointer(rebasing: $0[start..<end])) }
            sourceIndex.withUnsafeBufferPointer { realSourceIndex.update(elementsOf: UnsafeBufferPointer(rebasing: $0[start..<end])) }
            start = end
        }
    }

    /// The content digest of each dataset of `layout` (a compact layout has no `is_synthetic`).
    public func digests(_ names: BalancedLayout.RowDatasets) -> [String: String] {
        var result = [names.embeddings: embeddings.hexDigest(), names.labels: labels.hexDigest(),
                      names.sourceIndex: sourceIndex.hexDigest(), names.kappa: kappa.hexDigest()]
        if let name = names.isSynthetic { result[name] = isSynthetic.hexDigest() }
        return result
    }

    /// Digests of the real rows' embeddings, labels and source indices in output order (keys
    /// ``BalancedSetIdentity/realContentKeys``): the same for the full and compact layouts of one set.
    public var realContentDigests: [String: String] {
        ["embeddings": realEmbeddings.hexDigest(), "labels": realLabels.hexDigest(), "source_index": realSourceIndex.hexDigest()]
    }
}
