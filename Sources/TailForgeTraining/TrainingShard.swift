import TailForgeNumerics

/// One piece of the training data: embeddings (float32, one row per sample), their labels, and optional
/// per-row sample weights.
///
/// A shard holds the only in-memory copy of its rows: sources read them in place.
public struct TrainingShard: Sendable {
    /// Where the rows came from, used in error messages (a file path, or "shard 3").
    public let name: String
    public let embeddings: Matrix
    public let labels: [Int32]
    /// Optional non-negative weight per row, multiplied with the class weight of the row's label.
    public let sampleWeights: [Float]?

    /// Checks the shapes, that every value is finite and that every weight is finite and non-negative.
    /// Label ranges are checked against the class count by the gradient source.
    public init(name: String, embeddings: Matrix, labels: [Int32], sampleWeights: [Float]? = nil) throws(TrainingError) {
        guard embeddings.rows > 0 else { throw .emptyShard(shard: name) }
        guard labels.count == embeddings.rows else {
            throw .labelCountMismatch(shard: name, rows: embeddings.rows, labels: labels.count)
        }
        if let firstBad = embeddings.storage.firstIndex(where: { !$0.isFinite }) {
            throw .nonFiniteValue(shard: name, row: firstBad / embeddings.columns, column: firstBad % embeddings.columns)
        }
        if let weights = sampleWeights {
            guard weights.count == embeddings.rows else {
                throw .labelCountMismatch(shard: name, rows: embeddings.rows, labels: weights.count)
            }
            if let bad = weights.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
                throw .invalidSampleWeight(shard: name, row: bad, value: weights[bad])
            }
        }
        self.name = name
        self.embeddings = embeddings
        self.labels = labels
        self.sampleWeights = sampleWeights
    }

    public var rowCount: Int { embeddings.rows }
    public var dimension: Int { embeddings.columns }
}
