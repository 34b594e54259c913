import Foundation
import TailForgeNumerics
import TailForgeStorage

/// `tailforge train --classifier vmf-mixture`: loads the training files' real rows (unit length, as every reader
/// scales them), chooses K_max, κ₀ and — with `calibrate` — τ by stratified k-fold cross-validation
/// (``VMFMixtureSelection``), refits on all rows and writes the model file (``VMFMixtureModelFile``).
///
/// Only real rows are fitted: a balanced file's synthetic rows (marked by `/is_synthetic`, or not stored at all in
/// the compact layout) are draws around its real rows, so the mixture would count every real row again through its
/// copies and its within-mode κ would describe the sampler's kernel, not the class. A file that does not mark
/// synthetic rows is fitted whole (``TrainingInputFile/loadRealRows()``). Of those, each class's distinct rows are
/// fitted: an exact copy of an earlier row of its class is dropped and counted (``VMFMixtureFitter``).
public struct VMFMixtureTrainingRunner: Sendable {
    public var inputs: [String]
    public var output: String
    public var settings: VMFMixtureSelectionSettings
    public var threads: Int
    /// Dataset names, the same in every input.
    public var names: DatasetNames
    /// Files of unlabeled rows (`/embeddings` only is read) that refine the fitted mixture by EM
    /// (``VMFMixtureSemiSupervised``); none: the labelled fit alone.
    public var unlabeled: [String]
    /// EM's iteration limit.
    public var emIterations: Int
    /// The pool is the rows to be classified (`train --transductive`): EM scores each pool row without its own weight
    /// (``VMFMixtureSemiSupervised``'s leave-one-out E-step).
    public var leaveOneOut: Bool

    public init(inputs: [String], output: String, settings: VMFMixtureSelectionSettings = VMFMixtureSelectionSettings(),
                threads: Int = ProcessInfo.processInfo.activeProcessorCount, names: DatasetNames = .standard,
                unlabeled: [String] = [], emIterations: Int = VMFMixtureSemiSupervised.defaultIterations, leaveOneOut: Bool = false) {
        self.inputs = inputs
        self.output = output
        self.settings = settings
        self.threads = max(1, threads)
        self.names = names
        self.unlabeled = unlabeled
        self.emIterations = emIterations
        self.leaveOneOut = leaveOneOut
    }

    /// What a run did.
    public struct Summary: Sendable {
        /// What cross-validation chose, as stored in the model.
        public var record: VMFMixtureSelectionRecord
        /// τ (0 without calibration) and the class prior.
        public var adjustment: LogitAdjustment
        /// Modes per class and within-mode κ per class of the model refitted on all rows.
        public var modesPerClass: [Int]
        public var classKappa: [Double]
        public var classCount: Int
        public var dimension: Int
        /// Real rows read, synthetic rows of balanced inputs left out, and real rows left out as exact copies of an
        /// earlier row of their class: `rows − duplicateRowsLeftOut` rows are fitted.
        public var rows: Int
        public var syntheticRowsLeftOut: Int
        public var duplicateRowsLeftOut: Int
        public var loadSeconds: Double
        /// Wall seconds of the cross-validation folds, and of the final fit on all rows.
        public var foldSeconds: Double
        public var refitSeconds: Double
        /// The EM refinement with unlabeled rows: rows used, what each iteration did, and its wall seconds.
        public var semiSupervised: SemiSupervised?

        public struct SemiSupervised: Sendable {
            public var rows: Int
            public var iterations: [VMFMixtureSemiSupervised.Iteration]
            public var converged: Bool
            public var seconds: Double
            public var leaveOneOut: Bool
        }

        /// Pooled out-of-fold balanced accuracy of the choice.
        public var outOfFoldBalancedAccuracy: Double { record.balancedAccuracy }
    }

    /// Runs the job; `progress` gets a line as each fold and the final fit go (the command prints them to stderr).
    public func run(progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> Summary {
        guard !inputs.isEmpty else { throw TrainingError.noShards }
        try AtomicHDF5Writer.checkWritable(path: output, distinctFrom: inputs + unlabeled)
        if !unlabeled.isEmpty, !VMFMixtureSemiSupervised.iterationRange.contains(emIterations) {
            throw TrainingError.invalidSetting(name: "EM iterations", value: "\(emIterations)",
                                               expected: "from \(VMFMixtureSemiSupervised.iterationRange.lowerBound) to \(VMFMixtureSemiSupervised.iterationRange.upperBound)")
        }
        let clock = ContinuousClock()
        let loadStart = clock.now
        let files = try TrainingInputFile.openAll(inputs, names: names)
        // The pool is read and checked before minutes of cross-validation.
        let pool = try UnlabeledPool.load(unlabeled, embeddings: names.embeddings, dimension: files[0].dimension, trainingFiles: files)
        let classNames = try TrainingRunner.agreedClassNames(files)
        var rows = Matrix(rows: 0, columns: files[0].dimension)
        var labels: [Int32] = []
        var syntheticRowsLeftOut = 0
        for file in files {
            let (shard, leftOut) = try file.loadRealRows()
            // Without class names the class count is the largest label + 1; with them, a file may label past them.
            try TrainingRunner.checkLabels([shard], classCount: classNames?.count ?? Int(Int32.max))
            rows.appendRows(shard.embeddings)
            labels += shard.labels
            syntheticRowsLeftOut += leftOut
            if leftOut > 0 {
                progress("\(file.path): fitting its \(shard.rowCount) real rows; its \(leftOut) synthetic rows are left out")
            }
        }
        let classCount = classNames?.count ?? Int(labels.max() ?? 0) + 1
        let loadSeconds = (clock.now - loadStart).seconds
        let settings = self.settings, threads = self.threads, fitted = rows, fittedLabels = labels
        // Errors about the rows as a whole (a class without rows) name the files they came from.
        let source = inputs.joined(separator: " + ")
        // The cross-validation blocks for minutes: it runs on a pool thread while this task waits.
        let result = try await ComputePool.run { () throws(TrainingError) in
            try VMFMixtureSelection.run(rows: fitted, labels: fittedLabels, classCount: classCount, settings: settings, threads: threads,
                                        source: source, progress: progress)
        }
        let record = Self.record(result, settings: settings)
        let duplicateRows = rows.rows - result.fit.classCounts.reduce(0, +)
        var fit = result.fit
        var semiSupervised: Summary.SemiSupervised?
        if let pool {
            progress("EM with \(pool.rows.rows) unlabeled rows of \(pool.files.joined(separator: " + ")), at most \(emIterations) iterations"
                     + (leaveOneOut ? "; transductive: each row scored without its own weight" : ""))
            let emStart = clock.now
            let (emIterations, poolSource, leaveOneOut) = (self.emIterations, pool.files.joined(separator: " + "), self.leaveOneOut)
            let outcome = try await ComputePool.run { () throws(TrainingError) in
                let (unit, classRows) = try VMFMixtureFitter.prepare(rows: fitted, labels: fittedLabels, classCount: classCount, source: source)
                return try VMFMixtureSemiSupervised.refine(base: result.fit, unit: unit, classRows: classRows, maxModes: result.maxModes,
                                                          kappa0: result.priorConcentration, seed: settings.seed, pool: pool.rows,
                                                          poolSource: poolSource, iterations: emIterations, threads: threads,
                                                          leaveOneOutEStep: leaveOneOut, progress: progress)
            }
            fit = outcome.fit
            semiSupervised = .init(rows: pool.rows.rows, iterations: outcome.iterations, converged: outcome.converged,
                                   seconds: (clock.now - emStart).seconds, leaveOneOut: leaveOneOut)
        }
        var metadata = VMFMixtureModelFile.Metadata(selection: record, adjustment: result.adjustment, trainingRows: rows.rows - duplicateRows,
                                                    syntheticRowsLeftOut: syntheticRowsLeftOut, inputFiles: inputs.map(baseName),
                                                    inputSHA256: files.map(\.identity), classNames: classNames)
        if let pool, let semiSupervised {
            metadata.unlabeled = .init(rows: semiSupervised.rows, files: pool.files.map(baseName), sha256: pool.sha256,
                                       iterations: semiSupervised.iterations.count, converged: semiSupervised.converged,
                                       leaveOneOut: semiSupervised.leaveOneOut)
        }
        try VMFMixtureModelFile.write(fit.model, metadata: metadata, to: output)
        return Summary(record: record, adjustment: result.adjustment, modesPerClass: fit.modesPerClass,
                       classKappa: fit.classKappa, classCount: classCount, dimension: rows.columns, rows: rows.rows,
                       syntheticRowsLeftOut: syntheticRowsLeftOut, duplicateRowsLeftOut: duplicateRows, loadSeconds: loadSeconds,
                       foldSeconds: result.foldSeconds, refitSeconds: result.refitSeconds, semiSupervised: semiSupervised)
    }

    /// The selection's outcome as the model file records it.
    static func record(_ result: VMFMixtureSelectionResult, settings: VMFMixtureSelectionSettings) -> VMFMixtureSelectionRecord {
        VMFMixtureSelectionRecord(
            maxModesGrid: settings.maxModesGrid, priorConcentrationMultiples: settings.priorConcentrationMultiples,
            tauGrid: result.tauGrid, folds: result.folds, seed: settings.seed,
            balancedAccuracies: result.candidates.flatMap(\.balancedAccuracies),
            maxModes: result.maxModes, priorConcentrationMultiple: result.chosen.priorConcentrationMultiple,
            tau: result.tau)
    }
}

extension VMFMixtureTrainingRunner.Summary {
    /// What `train` prints: the cross-validation table (each K_max and κ₀ with its best τ and out-of-fold balanced
    /// accuracy, the chosen one marked), the choice, the modes per class, and the costs.
    public func lines(output: String) -> [String] {
        let r = record
        var lines = [String(format: "cross-validation: %d folds over %d rows, pooled out-of-fold balanced accuracy (mean per-class recall)", r.folds,
                            rows - duplicateRowsLeftOut)
                     + (r.calibrated ? ", each setting at its best τ" : ", τ = 0")]
        lines.append(" K_max   κ₀/d         κ₀      τ  balanced accuracy")
        for (a, maxModes) in r.maxModesGrid.enumerated() {
            for (b, multiple) in r.priorConcentrationMultiples.enumerated() {
                let accuracies = Array(r.accuracies(maxModesIndex: a, priorIndex: b))
                let best = LogitAdjustmentCalibrator.best(accuracies)
                let chosen = maxModes == r.maxModes && multiple == r.priorConcentrationMultiple
                lines.append(String(format: "%6d %6g %10.1f %6.2f %16.2f %%", maxModes, multiple, multiple * Double(dimension),
                                    r.tauGrid[best], accuracies[best] * 100) + (chosen ? "  ← chosen" : ""))
            }
        }
        lines.append(String(format: "chosen K_max = %d, κ₀ = %g·d = %g, τ = %.2f (ties go to the smaller K_max, κ₀, τ): out-of-fold balanced accuracy %.2f %%",
                            r.maxModes, r.priorConcentrationMultiple, r.priorConcentration(dimension: dimension), r.tau, r.balancedAccuracy * 100)
                     + (r.calibrated ? String(format: " (τ = 0: %.2f %%); applied by evaluate and predict unless --no-calibration", r.rawBalancedAccuracy * 100) : ""))
        let counts = Dictionary(grouping: modesPerClass, by: { $0 }).mapValues(\.count).sorted { $0.key < $1.key }
        let sortedKappa = classKappa.sorted()
        let median = VMFMixtureFitter.median(ofSorted: sortedKappa)
        lines.append("modes per class: " + counts.map { "\($0.key) × \($0.value) class\($0.value == 1 ? "" : "es")" }.joined(separator: ", ")
                     + String(format: " (%d modes); within-mode κ median %.4g, from %.4g to %.4g", modesPerClass.reduce(0, +), median,
                              sortedKappa.first ?? .nan, sortedKappa.last ?? .nan))
        // The path is appended, never part of the format: a name such as model-%d.h5 must print as itself.
        lines.append(String(format: "%d rows × %d dimensions, %d classes", rows, dimension, classCount)
                     + (syntheticRowsLeftOut > 0 ? " (\(syntheticRowsLeftOut) synthetic rows left out)" : "")
                     + (duplicateRowsLeftOut > 0
                        ? "; \(duplicateRowsLeftOut) duplicate rows left out (fitted on the \(rows - duplicateRowsLeftOut) distinct rows)" : "")
                     + String(format: "; load %.2f s, cross-validation %.2f s, final fit %.2f s; model written to ", loadSeconds, foldSeconds, refitSeconds)
                     + output)
        if let semi = semiSupervised, let last = semi.iterations.last {
            lines.append(String(format: "EM with %d unlabeled rows%@: %d iteration%@ (%@), pool mean log-likelihood %.6f → %.6f; %.2f s",
                                semi.rows, semi.leaveOneOut ? " (transductive, leave-one-out)" : "", semi.iterations.count, semi.iterations.count == 1 ? "" : "s",
                                semi.converged ? "no row changed class in the last" : "stopped at the iteration limit",
                                semi.iterations[0].meanLogLikelihood, last.meanLogLikelihood, semi.seconds))
        }
        return lines
    }
}
