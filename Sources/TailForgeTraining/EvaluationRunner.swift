import TailForgeNumerics
import TailForgeStorage

/// `tailforge evaluate`: applies a model file to a labelled test file and scores it.
public struct EvaluationRunner: Sendable {
    public var model: String
    public var test: String
    /// The original long-tailed training file, for many/medium/few-shot groups.
    public var training: String?

    public init(model: String, test: String, training: String? = nil) {
        self.model = model
        self.test = test
        self.training = training
    }

    /// Rows scored at a time, bounding memory for large test files.
    static let chunkRows = 65_536

    public func run() throws -> Evaluation {
        let loaded = try SoftmaxModelFile.read(path: model)
        let m = loaded.model
        let file = try LabeledEmbeddingsFile(path: test)
        guard file.dimension == m.dimension else {
            throw TrainingError.dimensionMismatch(shard: test, expected: m.dimension, found: file.dimension)
        }
        let labels = try file.readLabels()
        var trainingCounts: [Int]?
        if let training {
            let trainingLabels = try LabeledEmbeddingsFile(path: training).readLabels()
            var counts = [Int](repeating: 0, count: m.classCount)
            for (row, label) in trainingLabels.enumerated() {
                guard Int(label) < m.classCount else {
                    throw TrainingError.labelOutOfRange(shard: training, row: row, label: label, classCount: m.classCount)
                }
                counts[Int(label)] += 1
            }
            trainingCounts = counts
        }
        let predictions = try predictInChunks(m, file)
        return try Evaluation(predictions: predictions, labels: labels, classCount: m.classCount,
                              trainingCounts: trainingCounts, classNames: loaded.classNames ?? file.classNames, source: test)
    }

    private func predictInChunks(_ model: SoftmaxModel, _ file: LabeledEmbeddingsFile) throws -> [Int32] {
        var predictions = [Int32]()
        predictions.reserveCapacity(file.count)
        var start = 0
        while start < file.count {
            let rows = start ..< min(file.count, start + Self.chunkRows)
            let chunk = try file.readMatrix(rows: rows)
            try checkFinite(chunk, path: file.path, firstRow: start)
            predictions += try model.predict(chunk, source: file.path)
            start = rows.upperBound
        }
        return predictions
    }
}

/// Throws ``TrainingError/nonFiniteValue(shard:row:column:)`` naming the file's row.
func checkFinite(_ chunk: TailForgeNumerics.Matrix, path: String, firstRow: Int) throws(TrainingError) {
    if let bad = chunk.storage.firstIndex(where: { !$0.isFinite }) {
        throw .nonFiniteValue(shard: path, row: firstRow + bad / chunk.columns, column: bad % chunk.columns)
    }
}
