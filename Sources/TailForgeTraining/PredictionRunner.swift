import TailForgeNumerics
import TailForgeStorage

/// `tailforge predict`: writes each row's most probable classes and their probabilities, for a model of either type
/// (``TrainedModelFile``). Rows are scaled to unit
/// length first, as the model's training rows were, so an embedding and any multiple of it get the same
/// prediction.
///
/// Output (HDF5): `/labels` int32 `[N]` (the top-1 class), `/top_k_labels` int32 `[N, k]` and
/// `/top_k_probabilities` float32 `[N, k]` (most probable first), root attributes `format` =
/// `tailforge-predictions`, `k`, `model_sha256`, `input_sha256`, and `logit_adjustment_tau` when the model's
/// logit adjustment was applied (then labels and probabilities are the adjusted softmax's), and for a vMF mixture
/// model `model_type` = `vmf-mixture` (its probabilities are the softmax of its log densities p(x | c), adjusted).
public struct PredictionRunner: Sendable {
    public static let format = "tailforge-predictions"
    public var model: String
    public var input: String
    public var output: String
    public var k: Int
    /// The embeddings dataset's name in `input` (labels are not read).
    public var embeddingsDataset: String
    /// Apply the model's logit adjustment (from `train --calibrate`) when it has one; false is `--no-calibration`.
    public var applyCalibration: Bool

    public init(model: String, input: String, output: String, k: Int = 5, embeddingsDataset: String = DatasetNames.standard.embeddings,
                applyCalibration: Bool = true) {
        self.model = model
        self.input = input
        self.output = output
        self.k = k
        self.embeddingsDataset = embeddingsDataset
        self.applyCalibration = applyCalibration
    }

    /// Rows scored and written at a time.
    static let chunkRows = 65_536

    /// Returns the number of rows predicted.
    @discardableResult
    public func run() throws -> Int {
        guard k >= 1 else { throw TrainingError.invalidSetting(name: "--top-k", value: "\(k)", expected: "at least 1") }
        try AtomicHDF5Writer.checkWritable(path: output, distinctFrom: [model, input])
        let loaded = try TrainedModelFile.read(path: model)
        let m = try loaded.scorer(applyCalibration: applyCalibration)
        let appliedTau = loaded.appliedTau(applyCalibration: applyCalibration)
        // Only embeddings are needed: a file without labels can be predicted.
        let embeddings = try EmbeddingsDataset(path: input, name: embeddingsDataset)
        let rows = embeddings.count
        guard embeddings.dimension == m.dimension else {
            throw ModelFileError.dimensionMismatch(model: model, modelDimension: m.dimension, data: input, dataDimension: embeddings.dimension)
        }
        guard rows > 0 else { throw TrainingError.emptyShard(shard: input) }
        let k = min(self.k, m.classCount)
        let writer = try AtomicHDF5Writer(path: output)
        if let appliedTau { try writer.writeAttributes(["logit_adjustment_tau": .double(appliedTau)]) }
        // Softmax predictions keep their bytes; another model type is named.
        if loaded.type != .softmax { try writer.writeAttributes(["model_type": .string(loaded.type.rawValue)]) }
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
            let top = try m.topK(try embeddings.readUnitMatrix(rows: range), k: k, source: input)
            try top1.write(top.top1, rows: range)
            try labels.write(top.labels, rows: range)
            try probabilities.write(top.probabilities, rows: range)
            start = range.upperBound
        }
        try writer.commit()
        return rows
    }
}
