import Foundation
import TailForgeNumerics
import TailForgeStorage

/// `tailforge evaluate`: applies a model file (either type, ``TrainedModelFile``) to a labelled test file and scores
/// it. Test rows are scaled to unit length first, as the model's training rows were.
public struct EvaluationRunner: Sendable {
    public var model: String
    public var test: String
    /// The original long-tailed training file, for many/medium/few-shot groups.
    public var training: String?
    /// Dataset names of the test file (and of the training file).
    public var names: DatasetNames
    /// Apply the model's logit adjustment (from `train --calibrate`) when it has one; false is `--no-calibration`.
    public var applyCalibration: Bool
    /// Where to write the report as JSON too (never over the model, test or training file).
    public var jsonOutput: String?

    public init(model: String, test: String, training: String? = nil, names: DatasetNames = .standard,
                applyCalibration: Bool = true, jsonOutput: String? = nil) {
        self.model = model
        self.test = test
        self.training = training
        self.names = names
        self.applyCalibration = applyCalibration
        self.jsonOutput = jsonOutput
    }

    var inputs: [String] { [model, test] + (training.map { [$0] } ?? []) }

    /// Rows scored at a time, bounding memory for large test files.
    static let chunkRows = 65_536

    public func run() throws -> Evaluation {
        // Before any work: a report path that is one of the inputs would destroy it.
        if let jsonOutput { try AtomicHDF5Writer.checkWritable(path: jsonOutput, distinctFrom: inputs) }
        let evaluation = try evaluations(calibrations: [applyCalibration])[0]
        if let jsonOutput {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(Array(try encoder.encode(evaluation)), to: jsonOutput, distinctFrom: inputs)
        }
        return evaluation
    }

    /// The model scored once per entry of `calibrations` (true: with its logit adjustment, as ``applyCalibration``),
    /// reading the model, test and training files once for all of them: `ablate` scores every model raw and
    /// adjusted. Writes no report (``run()`` does).
    public func evaluations(calibrations: [Bool]) throws -> [Evaluation] {
        let loaded = try TrainedModelFile.read(path: model)
        let models = try calibrations.map { try loaded.scorer(applyCalibration: $0) }
        guard let m = models.first else { return [] }
        let file = try LabeledEmbeddingsFile(path: test, names: names)
        guard file.dimension == m.dimension else {
            throw ModelFileError.dimensionMismatch(model: model, modelDimension: m.dimension, data: test, dataDimension: file.dimension)
        }
        let labels = try file.readLabels()
        var trainingCounts: [Int]?
        if let training {
            // The long tail's counts: a balanced file (either layout, the same counts) gives its real rows only.
            let trainingFile = try TrainingInputFile(path: training, names: names)
            let trainingLabels = try trainingFile.realLabels()
            // Classes counted as `train` counts them: another count means another file, whose groups would be wrong
            // (a class missing from it would count as a zero-shot few-shot class).
            let trainingClasses = trainingFile.classNames?.count ?? Int(trainingLabels.max() ?? -1) + 1
            guard trainingClasses == m.classCount else {
                throw ModelFileError.classCountMismatch(model: model, modelClasses: m.classCount, training: training, trainingClasses: trainingClasses)
            }
            var counts = [Int](repeating: 0, count: m.classCount)
            for (row, label) in trainingLabels.enumerated() {
                // The reader keeps labels within the file's classes, now the model's: this guards against a reader change.
                guard Int(label) < m.classCount else {
                    throw TrainingError.labelOutOfRange(shard: "training file \(training)", row: row, label: label, classCount: m.classCount)
                }
                counts[Int(label)] += 1
            }
            trainingCounts = counts
        }
        let predictions = try predictInChunks(models, file.embeddings)
        return try zip(calibrations, predictions).map { calibrated, predictions in
            var evaluation = try Evaluation(predictions: predictions, labels: labels, classCount: m.classCount,
                                            trainingCounts: trainingCounts, classNames: loaded.classNames ?? file.classNames,
                                            source: "test file \(test)")
            evaluation.logitAdjustmentTau = loaded.appliedTau(applyCalibration: calibrated)
            // Softmax reports stay as they were; any other model type says what it is.
            evaluation.modelType = loaded.type == .softmax ? nil : loaded.type
            return evaluation
        }
    }

    /// Each model's predictions for every test row; each chunk of rows is read and scaled once for all models.
    private func predictInChunks(_ models: [any ClassScorer], _ embeddings: EmbeddingsDataset) throws -> [[Int32]] {
        var predictions = [[Int32]](repeating: [], count: models.count)
        for i in predictions.indices { predictions[i].reserveCapacity(embeddings.count) }
        var start = 0
        while start < embeddings.count {
            let rows = start ..< min(embeddings.count, start + Self.chunkRows)
            let chunk = try embeddings.readUnitMatrix(rows: rows)
            for (i, model) in models.enumerated() { predictions[i] += try model.predict(chunk, source: "test file \(test)") }
            start = rows.upperBound
        }
        return predictions
    }
}
