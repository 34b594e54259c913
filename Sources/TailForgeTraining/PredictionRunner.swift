import TailForgeNumerics
import TailForgeStorage

/// `tailforge predict`: writes each row's most probable classes and their probabilities.
///
/// Output (HDF5): `/labels` int32 `[N]` (the top-1 class), `/top_k_labels` int32 `[N, k]` and
/// `/top_k_probabilities` float32 `[N, k]` (most probable first), root attributes `format` =
/// `tailforge-predictions`, `k`, `model_sha256`, `input_sha256`.
public struct PredictionRunner: Sendable {
    public static let format = "tailforge-predictions"
    public var model: String
    public var input: String
    public var output: String
    public var k: Int

    public init(model: String, input: String, output: String, k: Int = 5) {
        self.model = model
        self.input = input
        self.output = output
        self.k = k
    }

    /// Rows scored and written at a time.
    static let chunkRows = 65_536

    /// Returns the number of rows predicted.
    @discardableResult
    public func run() throws -> Int {
        guard k >= 1 else { throw TrainingError.invalidSetting(name: "--top-k", value: "\(k)", expected: "at least 1") }
        try AtomicHDF5Writer.checkWritable(path: output)
        let m = try SoftmaxModelFile.read(path: model).model
        // Only embeddings are needed: a file without labels can be predicted.
        let file = try HDF5File.open(path: input)
        let embeddings = try file.openDataset("embeddings", rank: 2, elementClass: .float)
        let rows = embeddings.shape[0], dimension = embeddings.shape[1]
        guard dimension == m.dimension else {
            throw TrainingError.dimensionMismatch(shard: input, expected: m.dimension, found: dimension)
        }
        guard rows > 0 else { throw TrainingError.emptyShard(shard: input) }
        let k = min(self.k, m.classCount)
        let writer = try AtomicHDF5Writer(path: output)
        try writer.writeAttributes([
            "format": .string(Self.format),
            "k": .int(Int64(k)),
            "model_sha256": .string(try SHA256.hexDigest(ofFileAt: model)),
            "input_sha256": .string(try SHA256.hexDigest(ofFileAt: input)),
        ])
        let top1 = try writer.createDataset("labels", kind: .int32, shape: [rows], chunkRows: Self.chunkRows)
        let labels = try writer.createDataset("top_k_labels", kind: .int32, shape: [rows, k], chunkRows: Self.chunkRows)
        let probabilities = try writer.createDataset("top_k_probabilities", kind: .float32, shape: [rows, k], chunkRows: Self.chunkRows)
        var start = 0
        while start < rows {
            let range = start ..< min(rows, start + Self.chunkRows)
            let chunk = Matrix(rows: range.count, columns: dimension, storage: try embeddings.read(rows: range, as: Float.self))
            try checkFinite(chunk, path: input, firstRow: start)
            let top = try m.topK(chunk, k: k, source: input)
            try top1.write(top.top1, rows: range)
            try labels.write(top.labels, rows: range)
            try probabilities.write(top.probabilities, rows: range)
            start = range.upperBound
        }
        try writer.commit()
        return rows
    }
}
