import TailForgeNumerics
import TailForgeStorage

/// The model file `tailforge train --classifier vmf-mixture` writes and `evaluate` and `predict` read (HDF5, readable
/// with h5py alone). Root attribute `format` = `tailforge-vmf-mixture-model`, `format_version` 1.
///
/// The model (``VMFMixtureModel``): datasets `/mode_parameters` float64 `[M, d]` (each mode's natural parameter θ),
/// `/mode_offsets` int64 `[C + 1]` (class c's modes are rows `mode_offsets[c] ..< mode_offsets[c + 1]`),
/// `/mode_log_weights` float64 `[M]`, `/class_kappa` float64 `[C]` (each class's within-mode κ), optional
/// `/class_names`; attributes `class_count`, `dimension`, `mode_count`, `input_normalization` = `l2` (rows are
/// scaled to unit length before scoring, as for softmax models).
///
/// The logit adjustment, stored as a softmax model stores it (``SoftmaxModelFile``, read back by the same code):
/// attribute `logit_adjustment_tau` (0 without `--calibrate`), `/class_prior` float64 `[C]` (the fitted rows' class
/// shares), `/calibration_tau_grid` float64 `[T]` and `/calibration_balanced_accuracies` float64 `[T]` (pooled
/// out-of-fold balanced accuracy of each τ at the chosen K_max and κ₀).
///
/// How the settings were chosen (``VMFMixtureSelectionRecord``): attributes `mixture_max_modes`,
/// `mixture_prior_concentration` (κ₀, absolute), `mixture_prior_concentration_multiple` (κ₀/d), `selection_folds`,
/// `selection_seed`, `selection_balanced_accuracy` (out-of-fold, at the choice); datasets
/// `/selection_max_modes_grid` int64 `[A]`, `/selection_prior_concentration_multiples` float64 `[B]` and
/// `/selection_balanced_accuracies` float64 `[A, B, T]` (every candidate's out-of-fold balanced accuracy).
///
/// The inputs: `training_rows` (distinct rows fitted), `synthetic_rows_left_out` (a balanced input's synthetic rows,
/// which are not fitted), `input_files` and `input_sha256` (newline-separated, in order, as softmax models record
/// them), and `tool_version`. Nothing machine- or time-dependent (no wall times, thread counts or paths).
///
/// Semi-supervised fits (`--unlabeled`, ``VMFMixtureSemiSupervised``) add `unlabeled_rows`, `unlabeled_files` and
/// `unlabeled_sha256` (newline-separated, in order), `em_iterations` and `em_converged` (1 if it stopped because no
/// pool row changed class, 0 at the iteration limit) and `em_leave_one_out` (1 for `train --transductive`, whose E-step
/// scores each pool row without its own weight; 0 for `--unlabeled`); a fit without a pool has none of them.
public enum VMFMixtureModelFile {
    public static let format = "tailforge-vmf-mixture-model"
    public static let formatVersion: Int64 = 1

    /// What the file records besides the model.
    public struct Metadata: Sendable, Equatable {
        public var selection: VMFMixtureSelectionRecord
        /// τ (the chosen one, 0 without `--calibrate`) and the class prior π.
        public var adjustment: LogitAdjustment
        public var trainingRows: Int
        /// Synthetic rows of balanced inputs that were left out of the fit.
        public var syntheticRowsLeftOut: Int
        /// Input file names (no directories) and their identities (``TrainingInputFile/identity``), in order.
        public var inputFiles: [String]
        public var inputSHA256: [String]
        public var classNames: [String]?
        public var toolVersion: String
        /// The unlabeled pool that refined the fit by EM (`train --unlabeled`), nil without one.
        public var unlabeled: Unlabeled?

        public struct Unlabeled: Sendable, Equatable {
            public var rows: Int
            /// File names (no directories) and SHA-256s, in order.
            public var files: [String]
            public var sha256: [String]
            public var iterations: Int
            public var converged: Bool
            /// The pool was the rows to classify (`--transductive`): a leave-one-out E-step.
            public var leaveOneOut: Bool

            public init(rows: Int, files: [String], sha256: [String], iterations: Int, converged: Bool, leaveOneOut: Bool = false) {
                self.rows = rows
                self.files = files
                self.sha256 = sha256
                self.iterations = iterations
                self.converged = converged
                self.leaveOneOut = leaveOneOut
            }
        }

        public init(selection: VMFMixtureSelectionRecord, adjustment: LogitAdjustment, trainingRows: Int, syntheticRowsLeftOut: Int = 0,
                    inputFiles: [String], inputSHA256: [String], classNames: [String]?, toolVersion: String = ToolVersion.current) {
            self.selection = selection
            self.adjustment = adjustment
            self.trainingRows = trainingRows
            self.syntheticRowsLeftOut = syntheticRowsLeftOut
            self.inputFiles = inputFiles
            self.inputSHA256 = inputSHA256
            self.classNames = classNames
            self.toolVersion = toolVersion
        }
    }

    /// Writes atomically (temporary sibling, renamed on success): an error or an interrupt leaves no file.
    public static func write(_ model: VMFMixtureModel, metadata: Metadata, to path: String) throws(StorageError) {
        let selection = metadata.selection
        guard metadata.adjustment.prior.count == model.classCount, metadata.classNames.map({ $0.count == model.classCount }) ?? true,
              selection.chosenIndices != nil, selection.tauGrid.contains(metadata.adjustment.tau) else {
            throw .invalidArgument("the vMF mixture model's metadata does not match it (\(model.classCount) classes, prior "
                                   + "\(metadata.adjustment.prior.count), τ \(metadata.adjustment.tau) of \(selection.tauGrid))")
        }
        let modeCount = model.modeOffsets.last ?? 0
        let writer = try AtomicHDF5Writer(path: path)
        try writer.writeAttributes([
            "format": .string(format),
            "format_version": .int(formatVersion),
            "class_count": .int(Int64(model.classCount)),
            "dimension": .int(Int64(model.dimension)),
            "mode_count": .int(Int64(modeCount)),
            "input_normalization": .string(SoftmaxModelFile.inputNormalization),
            "logit_adjustment_tau": .double(metadata.adjustment.tau),
            "mixture_max_modes": .int(Int64(selection.maxModes)),
            "mixture_prior_concentration": .double(selection.priorConcentration(dimension: model.dimension)),
            "mixture_prior_concentration_multiple": .double(selection.priorConcentrationMultiple),
            "selection_folds": .int(Int64(selection.folds)),
            "selection_seed": .int(Int64(bitPattern: selection.seed)),
            "selection_balanced_accuracy": .double(selection.balancedAccuracy),
            "training_rows": .int(Int64(metadata.trainingRows)),
            "synthetic_rows_left_out": .int(Int64(metadata.syntheticRowsLeftOut)),
            "input_files": .string(metadata.inputFiles.joined(separator: "\n")),
            "input_sha256": .string(metadata.inputSHA256.joined(separator: "\n")),
            "tool_version": .string(metadata.toolVersion),
        ])
        if let unlabeled = metadata.unlabeled { try writer.writeAttributes(unlabeledAttributes(unlabeled)) }
        try writer.writeDataset("mode_parameters", values: model.modeParameters, shape: [modeCount, model.dimension])
        try writer.writeDataset("mode_offsets", values: model.modeOffsets.map(Int64.init), shape: [model.classCount + 1])
        try writer.writeDataset("mode_log_weights", values: model.modeLogWeights, shape: [modeCount])
        try writer.writeDataset("class_kappa", values: model.classKappa, shape: [model.classCount])
        if let names = metadata.classNames { try writer.writeStrings("class_names", names) }
        try SoftmaxModelFile.writeLogitAdjustmentDatasets(writer, prior: metadata.adjustment.prior, tauGrid: selection.tauGrid,
                                                          balancedAccuracies: selection.chosenAccuracies)
        try writer.writeDataset("selection_max_modes_grid", values: selection.maxModesGrid.map(Int64.init), shape: [selection.maxModesGrid.count])
        try writer.writeDataset("selection_prior_concentration_multiples", values: selection.priorConcentrationMultiples,
                                shape: [selection.priorConcentrationMultiples.count])
        try writer.writeDataset("selection_balanced_accuracies", values: selection.balancedAccuracies,
                                shape: [selection.maxModesGrid.count, selection.priorConcentrationMultiples.count, selection.tauGrid.count])
        try writer.commit()
    }

    /// What the model file says of the unlabeled pool.
    static func unlabeledAttributes(_ unlabeled: Metadata.Unlabeled) -> [String: AttributeValue] {
        [
            "unlabeled_rows": .int(Int64(unlabeled.rows)),
            "unlabeled_files": .string(unlabeled.files.joined(separator: "\n")),
            "unlabeled_sha256": .string(unlabeled.sha256.joined(separator: "\n")),
            "em_iterations": .int(Int64(unlabeled.iterations)),
            "em_converged": .int(unlabeled.converged ? 1 : 0),
            "em_leave_one_out": .int(unlabeled.leaveOneOut ? 1 : 0),
        ]
    }

    /// A model read back, with its attributes, class names, logit adjustment and how it was chosen.
    public struct Loaded: Sendable {
        public var model: VMFMixtureModel
        public var attributes: [String: AttributeValue]
        public var classNames: [String]?
        /// τ and π; `evaluate` and `predict` apply it unless `--no-calibration` (τ = 0 is the raw mixture).
        public var adjustment: LogitAdjustment
        public var selection: VMFMixtureSelectionRecord

        /// The adjustment `evaluate` and `predict` apply: nil (the raw log densities) without calibration.
        public func adjustment(applyCalibration: Bool) -> LogitAdjustment? { applyCalibration ? adjustment : nil }
    }

    /// Reads a model, refusing any file that is not a vMF mixture model (a softmax model gets its own message).
    public static func read(path: String) throws -> Loaded {
        let file = try HDF5File.open(path: path)
        let attributes = try file.rootAttributes()
        let version = try ModelFileError.checkFormat(attributes, path: path, expected: .vmfMixture)
        guard version <= formatVersion else {
            throw ModelFileError.unsupportedVersion(path: path, version: version, supported: formatVersion)
        }
        if let normalization = attributes["input_normalization"], normalization.stringValue != SoftmaxModelFile.inputNormalization {
            throw ModelFileError.unsupportedInputNormalization(path: path, value: normalization.stringValue ?? "\(normalization)")
        }
        func corrupt(_ reason: String) -> ModelFileError { .corrupt(path: path, reason: reason) }
        for name in ["mode_parameters", "mode_offsets", "mode_log_weights", "class_kappa"] where !file.contains(name) {
            throw corrupt("no /\(name) dataset")
        }
        let parameters = try file.readDataset("mode_parameters", as: Double.self)
        let offsets = try file.readDataset("mode_offsets", as: Int64.self)
        let logWeights = try file.readDataset("mode_log_weights", as: Double.self)
        let kappa = try file.readDataset("class_kappa", as: Double.self)
        guard parameters.shape.count == 2, offsets.shape.count == 1, offsets.shape[0] >= 2, kappa.shape == [offsets.shape[0] - 1],
              logWeights.shape == [parameters.shape[0]] else {
            throw corrupt("/mode_parameters \(parameters.shape), /mode_offsets \(offsets.shape), /mode_log_weights \(logWeights.shape) "
                          + "and /class_kappa \(kappa.shape) do not fit together")
        }
        let classCount = kappa.shape[0], dimension = parameters.shape[1]
        guard attributes["class_count"]?.intValue == Int64(classCount), attributes["dimension"]?.intValue == Int64(dimension) else {
            throw corrupt("its class_count and dimension attributes disagree with /class_kappa \(kappa.shape) and /mode_parameters \(parameters.shape)")
        }
        let model: VMFMixtureModel
        do {
            model = try VMFMixtureModel(classCount: classCount, dimension: dimension, modeOffsets: offsets.values.map { Int($0) },
                                        modeParameters: parameters.values, modeLogWeights: logWeights.values, classKappa: kappa.values)
        } catch {
            throw corrupt("\(error)")
        }
        var classNames: [String]?
        if file.contains("class_names") {
            classNames = try file.openDataset("class_names", rank: 1, elementClass: .string).readStrings()
            guard classNames?.count == classCount else {
                throw corrupt("\(classNames?.count ?? 0) class names for \(classCount) classes")
            }
        }
        guard let calibration = try SoftmaxModelFile.readCalibration(file, path: path, attributes: attributes, classCount: classCount) else {
            throw corrupt("no logit_adjustment_tau attribute and /class_prior dataset")
        }
        return Loaded(model: model, attributes: attributes, classNames: classNames, adjustment: calibration.adjustment,
                      selection: try readSelection(file, path: path, attributes: attributes, tauGrid: calibration.tauGrid))
    }

    static func readSelection(_ file: HDF5File, path: String, attributes: [String: AttributeValue], tauGrid: [Double]) throws -> VMFMixtureSelectionRecord {
        func corrupt(_ reason: String) -> ModelFileError { .corrupt(path: path, reason: reason) }
        for name in ["selection_max_modes_grid", "selection_prior_concentration_multiples", "selection_balanced_accuracies"] where !file.contains(name) {
            throw corrupt("no /\(name) dataset")
        }
        let maxModesGrid = try file.readDataset("selection_max_modes_grid", as: Int64.self).values.map { Int($0) }
        let multiples = try file.readDataset("selection_prior_concentration_multiples", as: Double.self).values
        let scores = try file.readDataset("selection_balanced_accuracies", as: Double.self)
        guard scores.shape == [maxModesGrid.count, multiples.count, tauGrid.count] else {
            throw corrupt("/selection_balanced_accuracies has shape \(scores.shape) for \(maxModesGrid.count) K_max, "
                          + "\(multiples.count) κ₀ and \(tauGrid.count) τ values")
        }
        guard let maxModes = attributes["mixture_max_modes"]?.intValue, let multiple = attributes["mixture_prior_concentration_multiple"]?.doubleValue,
              let folds = attributes["selection_folds"]?.intValue, let seed = attributes["selection_seed"]?.intValue,
              let tau = attributes["logit_adjustment_tau"]?.doubleValue else {
            throw corrupt("its mixture_* and selection_* attributes are incomplete")
        }
        let record = VMFMixtureSelectionRecord(maxModesGrid: maxModesGrid, priorConcentrationMultiples: multiples, tauGrid: tauGrid,
                                               folds: Int(folds), seed: UInt64(bitPattern: seed), balancedAccuracies: scores.values,
                                               maxModes: Int(maxModes), priorConcentrationMultiple: multiple, tau: tau)
        guard record.chosenIndices != nil else {
            throw corrupt("the chosen K_max \(maxModes) and κ₀ \(multiple)·d are not in its grids")
        }
        return record
    }
}
