import Foundation
import TailForgeStorage

/// `tailforge train`: loads the training files (rows scaled to unit length, as `balance` does, so raw
/// long-tailed input trains the same model as its normalised copy), fits the model by L-BFGS on local threads
/// and writes the model file.
public struct TrainingRunner: Sendable {
    public var inputs: [String]
    public var output: String
    public var settings: TrainingSettings
    public var threads: Int
    public var blockRows: Int
    /// Dataset names, the same in every input.
    public var names: DatasetNames
    /// When set (`--calibrate`, `--l2 auto`), τ — and with an `l2Grid` λ — are chosen on held-out real rows
    /// (``LogitAdjustmentCalibrator``) and stored in the model file: at a given λ after the final fit (the
    /// calibration fit starts from its weights, ``CalibrationFitPlan``), with an `l2Grid` before it.
    public var calibration: CalibrationSettings?

    public init(inputs: [String], output: String, settings: TrainingSettings,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount, blockRows: Int = 1024,
                names: DatasetNames = .standard, calibration: CalibrationSettings? = nil) {
        self.inputs = inputs
        self.output = output
        self.settings = settings
        self.threads = threads
        self.blockRows = blockRows
        self.names = names
        self.calibration = calibration
    }

    /// What a run did.
    public struct Summary: Sendable {
        public var report: LBFGSReport
        /// The final fit's settings: the run's, with the λ `--l2 auto` chose.
        public var settings: TrainingSettings
        public var classCount: Int
        public var dimension: Int
        public var rows: Int
        public var loadSeconds: Double
        public var trainSeconds: Double
        /// What `--calibrate` (or `--l2 auto`) chose, with the calibration fits' reports (one per candidate λ).
        public var calibration: CalibrationRecord?
        public var calibrationReports: [LBFGSReport]
        /// Wall seconds of all calibration fits.
        public var calibrationSeconds: Double { calibrationReports.reduce(0) { $0 + $1.seconds } }
        /// What the calibration fits cost in final fits, by evaluations weighted by the rows each sums (load- and
        /// build-independent; at a given λ > 0 at most the fit rows' share, ``CalibrationFitPlan``).
        public var calibrationCost: Double? {
            guard let calibration, report.evaluations > 0, rows > 0 else { return nil }
            let evaluations = calibrationReports.reduce(0) { $0 + $1.evaluations }
            return Double(evaluations * calibration.fitRows) / Double(report.evaluations * rows)
        }
    }

    /// Runs the job; `progress` receives every iteration (the command prints one line each) and `phase` a line
    /// when a fit starts (with `--calibrate` there are two — the final fit, then the calibration fit — and with
    /// `--l2 auto` the candidates' fits come first, one line each, then the final fit).
    public func run(progress: (LBFGSIteration) -> Void = { _ in }, phase: (String) -> Void = { _ in }) async throws -> Summary {
        guard !inputs.isEmpty else { throw TrainingError.noShards }
        try settings.optimizer.validate()
        try calibration?.validate()
        try AtomicHDF5Writer.checkWritable(path: output, distinctFrom: inputs)
        let clock = ContinuousClock()
        let loadStart = clock.now
        let files = try TrainingInputFile.openAll(inputs, names: names)
        let classNames = try Self.agreedClassNames(files)
        let loaded = try files.map { file throws in try file.load(threads: threads, provenance: calibration != nil) }
        let shards = loaded.map(\.shard)
        let classCount = classNames?.count ?? Int(shards.map { $0.labels.max() ?? 0 }.max() ?? 0) + 1
        try Self.checkLabels(shards, classCount: classCount)
        // A balanced file's identity comes from its attributes (the same for both layouts: no second read).
        let digests = files.map(\.identity)
        let classWeights = try settings.classWeighting.weights(
            classCounts: SoftmaxTrainer.classCounts(of: shards, classCount: classCount))
        let source = try LocalGradientSource(shards: shards, classCount: classCount, classWeights: classWeights,
                                             threads: threads, blockRows: blockRows)
        func calibrate(_ calibration: CalibrationSettings, after final: SoftmaxTrainer.Result?) async throws -> LogitAdjustmentCalibrator.Outcome {
            let what = calibration.l2Grid == nil ? "to choose the logit adjustment τ"
                : calibration.tauGrid == [0] ? "to choose λ" : "to choose λ and the logit adjustment τ"
            phase(String(format: "calibration: holding out %.0f %% of each class's real rows (seed %llu) ",
                         calibration.holdOutFraction * 100, calibration.seed) + what)
            return try await LogitAdjustmentCalibrator.calibrate(
                shards: shards, provenance: loaded.map { $0.provenance! }, classCount: classCount, settings: settings, calibration: calibration,
                after: final, threads: threads, blockRows: blockRows, phase: phase, progress: progress)
        }
        // A λ path must be walked before the final fit knows its λ; at a given λ the calibration fit follows the final fit.
        var calibrated: LogitAdjustmentCalibrator.Outcome?
        if let calibration, !CalibrationFitPlan.followsTheFinalFit(calibration) {
            calibrated = try await calibrate(calibration, after: nil)
        }
        let loadSeconds = (clock.now - loadStart).seconds - (calibrated?.seconds ?? 0)
        // The final fit starts from zero as a plain `train --l2 λ` does, so the chosen model can be reproduced.
        let finalSettings = calibrated?.settings ?? settings
        if calibration != nil {
            phase("final fit on all \(source.rowCount) rows" + (calibrated == nil ? "" : String(format: " at λ = %g", finalSettings.l2)))
        }
        let result = try await SoftmaxTrainer.train(source: source, settings: finalSettings) { iteration, _ in progress(iteration) }
        if let calibration, CalibrationFitPlan.followsTheFinalFit(calibration) {
            calibrated = try await calibrate(calibration, after: result)
        }
        let metadata = SoftmaxModelFile.Metadata(settings: finalSettings, report: result.report, trainingRows: source.rowCount,
                                                 blockRows: blockRows, inputFiles: inputs.map(baseName),
                                                 inputSHA256: digests, classNames: classNames, calibration: calibrated?.record)
        try SoftmaxModelFile.write(result.model, metadata: metadata, to: output)
        return Summary(report: result.report, settings: finalSettings, classCount: classCount, dimension: source.dimension,
                       rows: source.rowCount, loadSeconds: loadSeconds, trainSeconds: result.report.seconds,
                       calibration: calibrated?.record, calibrationReports: calibrated?.fits ?? [])
    }

    /// Every label within the classes: when only some files name their classes, another may label past them.
    static func checkLabels(_ shards: [TrainingShard], classCount: Int) throws(TrainingError) {
        for shard in shards {
            if let bad = shard.labels.firstIndex(where: { $0 < 0 || Int($0) >= classCount }) {
                throw .labelOutOfRange(shard: shard.name, row: bad, label: shard.labels[bad], classCount: classCount)
            }
        }
    }

    /// The class names the shards carry, which must agree where present.
    static func agreedClassNames(_ files: [TrainingInputFile]) throws -> [String]? {
        var names: [String]?
        var from = ""
        for file in files {
            guard let these = file.classNames else { continue }
            if let names, names != these {
                throw TrainingError.invalidSetting(name: "class names of \(file.path)", value: "\(these.count) names",
                                                   expected: "the same class names as \(from) (\(names.count)): shards must come from one dataset")
            }
            names = these
            from = file.path
        }
        return names
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
