import TailForgeNumerics
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
/// A model trained with `--calibrate` also has (format version 3) the logit adjustment ``LogitAdjustment``
/// that `evaluate` and `predict` apply unless `--no-calibration`: attribute `logit_adjustment_tau`, dataset
/// `/class_prior` float64 `[C]` (the real rows' class shares), and how τ was chosen: attributes
/// `calibration_holdout_fraction`, `calibration_seed`, `calibration_holdout_rows`, `calibration_fit_rows`,
/// `calibration_balanced_accuracy` (held-out, at τ), datasets `/calibration_tau_grid` and
/// `/calibration_balanced_accuracies` float64 (the held-out balanced accuracy of every candidate τ). A model
/// without them is written as version 2, as before, and read as unadjusted. How the calibration fit (at the chosen
/// λ) went: attributes `calibration_fit_start` (`final-fit`: from the final fit's weights, `zero`, or
/// `previous-candidate` on a λ path), `calibration_fit_evaluations`, `calibration_fit_evaluation_cap` (only when it
/// had one: the final fit's `evaluations`), `calibration_fit_converged` (1 or 0) and `calibration_fit_stop_reason`
/// (`max-evaluations` when it hit the cap); absent from models written before they were recorded.
///
/// A model whose λ was chosen by `--l2 auto` (still version 3: the search changes nothing `evaluate` applies,
/// so older readers lose no meaning) also has datasets `/calibration_l2_grid` float64 `[L]` (the candidates in
/// the order fitted, largest first) and `/calibration_l2_balanced_accuracies` float64 `[L, T]` (held-out
/// balanced accuracy of every candidate λ and τ); the chosen λ is the `l2` attribute. Without `--calibrate` the
/// τ grid is {0}, so the adjustment is the identity.
///
/// Attribute `blas_core` names the OpenBLAS kernel family of the process that ran the fit (``BLAS/coreName``; for a
/// cluster job, the coordinator's trainer): sgemm rounds differently per family, so the same training gives the
/// same bytes only on the same family, and `replay` names both kernels when the bytes differ. Older models lack it
/// and read as before (no version change: nothing `evaluate` applies depends on it).
///
/// Nothing else machine- or time-dependent is stored (no wall times, thread counts or absolute paths), so the same
/// training on the same kernel family gives the same bytes.
public enum SoftmaxModelFile {
    public static let format = "tailforge-softmax-model"
    /// 2: records `input_normalization` (version 1 models were trained on `balance` output, unit rows too).
    public static let formatVersion: Int64 = 2
    /// 3: carries a logit adjustment; written only then, so uncalibrated models stay readable by older
    /// tailforge, and an older tailforge refuses a calibrated model instead of silently ignoring τ.
    public static let calibratedFormatVersion: Int64 = 3
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
        /// The logit adjustment chosen by `--calibrate`, if any.
        public var calibration: CalibrationRecord?
        /// The OpenBLAS kernel family the fit ran on (attribute `blas_core`): by default this process's.
        public var blasCore: String

        public init(settings: TrainingSettings, report: LBFGSReport, trainingRows: Int, blockRows: Int,
                    inputFiles: [String], inputSHA256: [String], classNames: [String]?, calibration: CalibrationRecord? = nil,
                    blasCore: String = BLAS.coreName) {
            self.settings = settings
            self.report = report
            self.trainingRows = trainingRows
            self.blockRows = blockRows
            self.inputFiles = inputFiles
            self.inputSHA256 = inputSHA256
            self.classNames = classNames
            self.calibration = calibration
            self.blasCore = blasCore
        }
    }

    /// Writes atomically (temporary sibling, renamed on success).
    public static func write(_ model: SoftmaxModel, metadata: Metadata, to path: String) throws(StorageError) {
        let writer = try AtomicHDF5Writer(path: path)
        let s = metadata.settings, r = metadata.report
        try writer.writeAttributes([
            "format": .string(format),
            "format_version": .int(metadata.calibration == nil ? formatVersion : calibratedFormatVersion),
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
            "blas_core": .string(metadata.blasCore),
        ])
        try writer.writeDataset("weights", values: model.weights, shape: [model.classCount, model.dimension])
        try writer.writeDataset("bias", values: model.bias, shape: [model.classCount])
        if let names = metadata.classNames { try writer.writeStrings("class_names", names) }
        if let calibration = metadata.calibration {
            try writer.writeAttributes([
                "logit_adjustment_tau": .double(calibration.adjustment.tau),
                "calibration_holdout_fraction": .double(calibration.holdOutFraction),
                "calibration_seed": .int(Int64(bitPattern: calibration.seed)),
                "calibration_holdout_rows": .int(Int64(calibration.heldOutRows)),
                "calibration_fit_rows": .int(Int64(calibration.fitRows)),
                "calibration_balanced_accuracy": .double(calibration.balancedAccuracy),
            ])
            if let fit = calibration.fit {
                var attributes: [String: AttributeValue] = [
                    "calibration_fit_start": .string(fit.start.rawValue),
                    "calibration_fit_evaluations": .int(Int64(fit.evaluations)),
                    "calibration_fit_converged": .int(fit.converged ? 1 : 0),
                    "calibration_fit_stop_reason": .string(fit.stopReason.rawValue),
                ]
                if let cap = fit.evaluationCap { attributes["calibration_fit_evaluation_cap"] = .int(Int64(cap)) }
                try writer.writeAttributes(attributes)
            }
            try writeLogitAdjustmentDatasets(writer, prior: calibration.adjustment.prior, tauGrid: calibration.tauGrid,
                                             balancedAccuracies: calibration.balancedAccuracies)
            if !calibration.l2Candidates.isEmpty {
                let candidates = calibration.l2Candidates
                try writer.writeDataset("calibration_l2_grid", values: candidates.map(\.l2), shape: [candidates.count])
                try writer.writeDataset("calibration_l2_balanced_accuracies", values: candidates.flatMap(\.balancedAccuracies),
                                        shape: [candidates.count, calibration.tauGrid.count])
            }
        }
        try writer.commit()
    }

    /// The datasets of a logit adjustment (`/class_prior`, and the τ grid with each τ's balanced accuracy), in the
    /// order every model file writes them; the `logit_adjustment_tau` attribute goes with the writer's others.
    /// ``readCalibration(_:path:attributes:classCount:)`` reads them back, whichever model type wrote them.
    static func writeLogitAdjustmentDatasets(_ writer: AtomicHDF5Writer, prior: [Double], tauGrid: [Double],
                                             balancedAccuracies: [Double]) throws(StorageError) {
        try writer.writeDataset("class_prior", values: prior, shape: [prior.count])
        try writer.writeDataset("calibration_tau_grid", values: tauGrid, shape: [tauGrid.count])
        try writer.writeDataset("calibration_balanced_accuracies", values: balancedAccuracies, shape: [balancedAccuracies.count])
    }

    /// A model read back, with its attributes and class names.
    public struct Loaded: Sendable {
        public var model: SoftmaxModel
        public var attributes: [String: AttributeValue]
        public var classNames: [String]?
        /// The stored logit adjustment (nil for a model trained without `--calibrate`, and for older files).
        public var calibration: CalibrationRecord?

        /// The OpenBLAS kernel family the fit ran on (nil for a model written before `blas_core` was recorded).
        public var blasCore: String? { attributes["blas_core"]?.stringValue }

        /// The model `evaluate` and `predict` apply: with the logit adjustment folded into the biases, unless
        /// `applyCalibration` is false or there is none.
        public func model(applyCalibration: Bool) throws -> SoftmaxModel {
            guard applyCalibration, let calibration else { return model }
            return try calibration.adjustment.adjusting(model)
        }
    }

    /// Reads a model, refusing files that were not written by `tailforge train`.
    public static func read(path: String) throws -> Loaded {
        let file = try HDF5File.open(path: path)
        let attributes = try file.rootAttributes()
        let version = try ModelFileError.checkFormat(attributes, path: path, expected: .softmax)
        guard version <= calibratedFormatVersion else {
            throw ModelFileError.unsupportedVersion(path: path, version: version, supported: calibratedFormatVersion)
        }
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
                      attributes: attributes, classNames: classNames,
                      calibration: try readCalibration(file, path: path, attributes: attributes, classCount: classCount))
    }

    /// The logit adjustment, when the file has one; a partial or invalid one is damage, not absence.
    static func readCalibration(_ file: HDF5File, path: String, attributes: [String: AttributeValue],
                                classCount: Int) throws -> CalibrationRecord? {
        guard let tauValue = attributes["logit_adjustment_tau"] else {
            guard !file.contains("class_prior") else {
                throw ModelFileError.corrupt(path: path, reason: "/class_prior without a logit_adjustment_tau attribute")
            }
            return nil
        }
        guard let tau = tauValue.doubleValue, file.contains("class_prior") else {
            throw ModelFileError.corrupt(path: path, reason: "logit_adjustment_tau without /class_prior, or not a number")
        }
        let prior = try file.readDataset("class_prior", as: Double.self)
        guard prior.shape == [classCount] else {
            throw ModelFileError.corrupt(path: path, reason: "/class_prior has shape \(prior.shape) for \(classCount) classes")
        }
        let adjustment: LogitAdjustment
        do {
            adjustment = try LogitAdjustment(tau: tau, prior: prior.values)
        } catch {
            throw ModelFileError.corrupt(path: path, reason: "its logit adjustment is invalid (\(error))")
        }
        var grid = [tau], accuracies = [attributes["calibration_balanced_accuracy"]?.doubleValue ?? .nan]
        if file.contains("calibration_tau_grid"), file.contains("calibration_balanced_accuracies") {
            grid = try file.readDataset("calibration_tau_grid", as: Double.self).values
            accuracies = try file.readDataset("calibration_balanced_accuracies", as: Double.self).values
            guard grid.count == accuracies.count else {
                throw ModelFileError.corrupt(path: path, reason: "\(grid.count) candidate τ values but \(accuracies.count) accuracies")
            }
        }
        return CalibrationRecord(
            adjustment: adjustment,
            holdOutFraction: attributes["calibration_holdout_fraction"]?.doubleValue ?? .nan,
            seed: UInt64(bitPattern: attributes["calibration_seed"]?.intValue ?? 0),
            heldOutRows: Int(attributes["calibration_holdout_rows"]?.intValue ?? 0),
            fitRows: Int(attributes["calibration_fit_rows"]?.intValue ?? 0),
            tauGrid: grid, balancedAccuracies: accuracies,
            l2Candidates: try readL2Candidates(file, path: path, tauCount: grid.count),
            fit: try readCalibrationFit(path: path, attributes: attributes))
    }

    /// How the calibration fit went (nil for a model written before it was recorded).
    static func readCalibrationFit(path: String, attributes: [String: AttributeValue]) throws -> CalibrationRecord.Fit? {
        guard let startValue = attributes["calibration_fit_start"] else { return nil }
        guard let start = startValue.stringValue.flatMap(CalibrationRecord.Fit.Start.init(rawValue:)),
              let evaluations = attributes["calibration_fit_evaluations"]?.intValue,
              let converged = attributes["calibration_fit_converged"]?.intValue,
              let reason = attributes["calibration_fit_stop_reason"]?.stringValue.flatMap(LBFGSStopReason.init(rawValue:)) else {
            throw ModelFileError.corrupt(path: path, reason: "its calibration_fit_* attributes are incomplete or unknown (start \(startValue))")
        }
        return CalibrationRecord.Fit(start: start, evaluations: Int(evaluations),
                                     evaluationCap: attributes["calibration_fit_evaluation_cap"]?.intValue.map { Int($0) },
                                     converged: converged != 0, stopReason: reason)
    }

    /// The λ search's candidates and scores (none for a model trained at a given λ, and for older files).
    static func readL2Candidates(_ file: HDF5File, path: String, tauCount: Int) throws -> [CalibrationRecord.L2Candidate] {
        let hasGrid = file.contains("calibration_l2_grid"), hasScores = file.contains("calibration_l2_balanced_accuracies")
        guard hasGrid || hasScores else { return [] }
        guard hasGrid, hasScores else {
            throw ModelFileError.corrupt(path: path, reason: "it has one of /calibration_l2_grid and /calibration_l2_balanced_accuracies but not the other")
        }
        let grid = try file.readDataset("calibration_l2_grid", as: Double.self)
        let scores = try file.readDataset("calibration_l2_balanced_accuracies", as: Double.self)
        guard grid.shape.count == 1, scores.shape == [grid.shape[0], tauCount] else {
            throw ModelFileError.corrupt(path: path, reason: "/calibration_l2_balanced_accuracies has shape \(scores.shape) "
                                         + "for \(grid.values.count) candidate λ values and \(tauCount) τ values")
        }
        return grid.values.indices.map { i in
            CalibrationRecord.L2Candidate(l2: grid.values[i], balancedAccuracies: Array(scores.values[i * tauCount ..< (i + 1) * tauCount]))
        }
    }
}
