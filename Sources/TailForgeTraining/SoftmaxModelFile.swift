import TailForgeStorage

/// The model file written by `tailforge train` and read by `evaluate` and `predict` (HDF5):
/// `/weights` float32 `[C, d]`, `/bias` float32 `[C]`, optional `/class_names`, and root attributes:
/// `format` = `tailforge-softmax-model`, `format_version`, the training settings (`l2`, `class_weighting`,
/// `max_iterations`, `gradient_tolerance`, `loss_tolerance`, `history_size`, `block_rows`), the outcome
/// (`converged`, `stop_reason`, `iterations`, `evaluations`, `final_loss`, `gradient_norm`,
/// `initial_gradient_norm`), `training_rows`, the inputs (`input_files` basenames and `input_sha256`,
/// newline-separated, in order), and `input_normalization` = `l2`: the model was trained on unit rows, and
/// `evaluate` and `predict` scale every row to unit length before applying it, so an embedding and any
/// multiple of it get the same prediction.
///
/// Nothing machine- or time-dependent is stored (no wall times, thread counts or absolute paths), so the same
/// training gives the same bytes.
public enum SoftmaxModelFile {
    public static let format = "tailforge-softmax-model"
    /// 2: records `input_normalization` (version 1 models were trained on `balance` output, unit rows too).
    public static let formatVersion: Int64 = 2
    /// How rows are transformed before the model sees them: scaled to unit Euclidean length.
    public static let inputNormalization = "l2"

    /// What the file records besides the weights.
    public struct Metadata: Sendable, Equatable {
        public var settings: TrainingSettings
        public var report: LBFGSReport
        public var trainingRows: Int
        public var blockRows: Int
        /// Input file names (no directories) and their SHA-256, in training order.
        public var inputFiles: [String]
        public var inputSHA256: [String]
        public var classNames: [String]?

        public init(settings: TrainingSettings, report: LBFGSReport, trainingRows: Int, blockRows: Int,
                    inputFiles: [String], inputSHA256: [String], classNames: [String]?) {
            self.settings = settings
            self.report = report
            self.trainingRows = trainingRows
            self.blockRows = blockRows
            self.inputFiles = inputFiles
            self.inputSHA256 = inputSHA256
            self.classNames = classNames
        }
    }

    /// Writes atomically (temporary sibling, renamed on success).
    public static func write(_ model: SoftmaxModel, metadata: Metadata, to path: String) throws(StorageError) {
        let writer = try AtomicHDF5Writer(path: path)
        let s = metadata.settings, r = metadata.report
        try writer.writeAttributes([
            "format": .string(format),
            "format_version": .int(formatVersion),
            "class_count": .int(Int64(model.classCount)),
            "dimension": .int(Int64(model.dimension)),
            "l2": .double(s.l2),
            "class_weighting": .string(s.classWeighting.name),
            "max_iterations": .int(Int64(s.optimizer.maxIterations)),
            "gradient_tolerance": .double(s.optimizer.gradientTolerance),
            "loss_tolerance": .double(s.optimizer.lossTolerance),
            "history_size": .int(Int64(s.optimizer.historySize)),
            "block_rows": .int(Int64(metadata.blockRows)),
            "converged": .int(r.converged ? 1 : 0),
            "stop_reason": .string(r.reason.rawValue),
            "iterations": .int(Int64(r.iterations)),
            "evaluations": .int(Int64(r.evaluations)),
            "final_loss": .double(r.finalLoss),
            "gradient_norm": .double(r.gradientNorm),
            "initial_gradient_norm": .double(r.initialGradientNorm),
            "training_rows": .int(Int64(metadata.trainingRows)),
            "input_files": .string(metadata.inputFiles.joined(separator: "\n")),
            "input_sha256": .string(metadata.inputSHA256.joined(separator: "\n")),
            "input_normalization": .string(inputNormalization),
        ])
        try writer.writeDataset("weights", values: model.weights, shape: [model.classCount, model.dimension])
        try writer.writeDataset("bias", values: model.bias, shape: [model.classCount])
        if let names = metadata.classNames { try writer.writeStrings("class_names", names) }
        try writer.commit()
    }

    /// A model read back, with its attributes and class names.
    public struct Loaded: Sendable {
        public var model: SoftmaxModel
        public var attributes: [String: AttributeValue]
        public var classNames: [String]?
    }

    /// Reads a model, refusing files that were not written by `tailforge train`.
    public static func read(path: String) throws -> Loaded {
        let file = try HDF5File.open(path: path)
        let attributes = try file.rootAttributes()
        guard attributes["format"]?.stringValue == format else {
            throw ModelFileError.notATailForgeModel(path: path, format: attributes["format"].map { $0.stringValue ?? "\($0)" })
        }
        guard let version = attributes["format_version"]?.intValue else {
            throw ModelFileError.corrupt(path: path, reason: "no format_version attribute")
        }
        guard version <= formatVersion else { throw ModelFileError.unsupportedVersion(path: path, version: version) }
        if let normalization = attributes["input_normalization"], normalization.stringValue != inputNormalization {
            throw ModelFileError.unsupportedInputNormalization(path: path, value: normalization.stringValue ?? "\(normalization)")
        }
        let weights = try file.readDataset("weights", as: Float.self)
        let bias = try file.readDataset("bias", as: Float.self)
        guard weights.shape.count == 2, bias.shape.count == 1, weights.shape[0] == bias.shape[0],
              weights.shape[0] > 0, weights.shape[1] > 0 else {
            throw ModelFileError.corrupt(path: path, reason: "/weights has shape \(weights.shape) and /bias \(bias.shape)")
        }
        let classCount = weights.shape[0], dimension = weights.shape[1]
        guard attributes["class_count"]?.intValue == Int64(classCount), attributes["dimension"]?.intValue == Int64(dimension) else {
            throw ModelFileError.corrupt(path: path, reason: "attributes disagree with /weights \(weights.shape)")
        }
        guard weights.values.allSatisfy(\.isFinite), bias.values.allSatisfy(\.isFinite) else {
            throw ModelFileError.corrupt(path: path, reason: "weights or biases are not finite")
        }
        var classNames: [String]?
        if file.contains("class_names") {
            classNames = try file.openDataset("class_names", rank: 1, elementClass: .string).readStrings()
            guard classNames?.count == classCount else {
                throw ModelFileError.corrupt(path: path, reason: "\(classNames?.count ?? 0) class names for \(classCount) classes")
            }
        }
        return Loaded(model: SoftmaxModel(classCount: classCount, dimension: dimension, weights: weights.values, bias: bias.values),
                      attributes: attributes, classNames: classNames)
    }
}
