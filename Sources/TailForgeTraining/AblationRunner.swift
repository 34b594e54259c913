import Foundation
import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage

/// `tailforge ablate TRAIN TEST`: fits every recipe of the grid (``AblationRecipe``) on the long-tailed
/// training file — balanced where the recipe says so, else laid out as `balance --sampler none` writes it — and scores each on the test file, raw and with
/// the calibrated logit adjustment, many/medium/few-shot groups from the training file's counts. Every row also
/// carries its held-out balanced accuracy, by which the report picks the recipe a user without test labels
/// would choose (``AblationReport/chosenRow``).
///
/// Resumable: after each recipe the whole report is rewritten (``AblationReport/write(path:distinctFrom:)``),
/// and a re-run with the same report path skips every recipe whose recorded settings — input digests, balance,
/// training and calibration settings, tool version — equal this run's; a recipe whose settings changed is
/// fitted again and replaces its old entry. Balanced sets and models go to `workDirectory` (balanced sets in the
/// compact layout: the real rows and κ, the synthetic rows regenerated bit-exactly on load). `balancer` says where
/// the balancing runs (this machine, or a cluster); it writes the same bytes either way, so where a recipe was
/// balanced is not part of its recorded settings.
public struct AblationRunner: Sendable {
    public var train: String
    public var test: String
    public var recipes: [AblationRecipe]
    /// Seed of every balancing draw.
    public var seed: UInt64
    public var training: TrainingSettings
    public var calibration: CalibrationSettings
    /// The λ candidates of the `+l2-auto` recipes.
    public var l2Grid: [Double]
    public var threads: Int
    /// Where the report is kept (and resumed from); nil keeps it in memory only.
    public var resultsPath: String?
    public var workDirectory: String
    /// Where the recipes are balanced (default: on `threads` local threads).
    public var balancer: any AblationBalancer
    /// The cross-validation of the `vmf-mixture` recipes; its seed is the calibration seed.
    public var mixture: VMFMixtureSelectionSettings
    /// The unlabeled files (`/embeddings` only) of `vmf-mixture-pool`, and EM's iteration limit for it and
    /// `vmf-mixture-transductive`.
    public var unlabeled: [String] = []
    public var emIterations = VMFMixtureSemiSupervised.defaultIterations

    public init(train: String, test: String, recipes: [AblationRecipe] = AblationRecipe.standard, seed: UInt64 = 0,
                training: TrainingSettings = TrainingSettings(), calibration: CalibrationSettings = CalibrationSettings(),
                l2Grid: [Double] = CalibrationSettings.standardL2Grid, threads: Int = ProcessInfo.processInfo.activeProcessorCount, resultsPath: String? = nil, workDirectory: String,
                balancer: (any AblationBalancer)? = nil, mixture: VMFMixtureSelectionSettings = VMFMixtureSelectionSettings(calibrate: true)) {
        self.train = train
        self.test = test
        self.recipes = recipes
        self.seed = seed
        self.training = training
        self.calibration = calibration
        self.l2Grid = l2Grid
        self.threads = max(1, threads)
        self.resultsPath = resultsPath
        self.workDirectory = workDirectory
        self.balancer = balancer ?? LocalAblationBalancer(threads: threads)
        self.mixture = mixture
    }

    /// What happened to one recipe, for progress lines.
    public enum Event: Sendable {
        case reused(AblationRecipe)
        case started(AblationRecipe, index: Int, of: Int)
        case finished(AblationRecipe, AblationReport.Entry)
    }

    /// Where a recipe's balanced set and model go.
    public func balancedPath(_ recipe: AblationRecipe) -> String { (workDirectory as NSString).appendingPathComponent("\(recipe).balanced.h5") }
    public func modelPath(_ recipe: AblationRecipe) -> String { (workDirectory as NSString).appendingPathComponent("\(recipe).model.h5") }

    /// Checks the inputs and settings before any work.
    public func preflight() throws {
        guard !recipes.isEmpty else { throw AblationError.noRecipes }
        for recipe in recipes { try calibrationSettings(recipe).validate() }
        for recipe in recipes { try recipe.balanceSettings(seed: seed)?.validate() }
        // Opened as every other command opens its inputs, so a missing, unreadable or non-HDF5 file gets their words.
        for path in [train, test] { _ = try HDF5File.open(path: path) }
        if recipes.contains(where: { $0.unlabeled == .pool }), unlabeled.isEmpty { throw AblationError.poolRecipeWithoutPool }
        let pooled = recipes.filter { $0.unlabeled != nil }
        if !pooled.isEmpty {
            guard VMFMixtureSemiSupervised.iterationRange.contains(emIterations) else {
                throw TrainingError.invalidSetting(name: "EM iterations", value: "\(emIterations)",
                                                   expected: "from \(VMFMixtureSemiSupervised.iterationRange.lowerBound) to \(VMFMixtureSemiSupervised.iterationRange.upperBound)")
            }
            // Read as the recipe's fit reads them, so a missing file, another dimension, an empty pool or the training file
            // itself stops the run here rather than after the recipes before it.
            let files = try TrainingInputFile.openAll([train])
            for recipe in pooled { _ = try pool(for: recipe, trainingFiles: files) }
        }
        if let resultsPath {
            try AtomicHDF5Writer.checkWritable(path: resultsPath, distinctFrom: [train, test])
            _ = try AblationReport.read(path: resultsPath)
        }
    }

    /// Runs every recipe not already in the report; returns the report with this run's recipes in grid order.
    public func run(event: (Event) -> Void = { _ in }) async throws -> AblationReport {
        try preflight()
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        let trainSHA256 = try SHA256.hexDigest(ofFileAt: train), testSHA256 = try SHA256.hexDigest(ofFileAt: test)
        let poolSHA256 = try recipes.contains { $0.unlabeled == .pool } ? unlabeled.map { path in try SHA256.hexDigest(ofFileAt: path) } : []
        let previous = try resultsPath.flatMap { path throws(AblationError) in try AblationReport.read(path: path) }
        var report = AblationReport(train: train, test: test, entries: previous?.entries ?? [])
        let settings = recipes.map { recipe in
            guard recipe.classifier == .softmax else {
                // Only what decides the mixture is recorded, so --l2 or --max-iter do not refit it, nor --calibration-holdout
                // the plain mixture (the EM recipes hold out that share of the rows for their held-out column).
                let pooled = recipe.unlabeled != nil
                return AblationReport.Settings(
                    recipe: recipe.description, trainSHA256: trainSHA256, testSHA256: testSHA256, balance: nil, training: TrainingSettings(),
                    calibrationHoldout: pooled ? calibration.holdOutFraction : 0, calibrationSeed: calibration.seed, l2Grid: nil,
                    toolVersion: ToolVersion.current,
                    mixture: AblationReport.MixtureSettings(mixtureSettings, unlabeledSHA256: recipe.unlabeled.map { $0 == .test ? [testSHA256] : poolSHA256 },
                                                            emIterations: pooled ? emIterations : nil))
            }
            return AblationReport.Settings(
                recipe: recipe.description, trainSHA256: trainSHA256, testSHA256: testSHA256, balance: recipe.balanceSettings(seed: seed),
                training: trainingSettings(recipe), calibrationHoldout: calibration.holdOutFraction, calibrationSeed: calibration.seed,
                l2Grid: calibrationSettings(recipe).l2Grid, toolVersion: ToolVersion.current)
        }
        let reused = settings.map { these in report.entries.contains { $0.settings == these } }
        // The mixture is fitted here from the long-tailed file itself: nothing to balance, on this machine or a cluster.
        try await balancer.start(recipes.indices.compactMap { index in
            reused[index] || recipes[index].classifier != .softmax ? nil : balancing(recipes[index], settings: settings[index])
        })
        do {
            for (index, recipe) in recipes.enumerated() {
                if reused[index] {
                    event(.reused(recipe))
                    continue
                }
                event(.started(recipe, index: index, of: recipes.count))
                let entry = recipe.classifier == .softmax ? try await fit(recipe, settings: settings[index])
                    : try await fitMixture(recipe, settings: settings[index])
                report.entries.removeAll { $0.settings.recipe == settings[index].recipe }
                report.entries.append(entry)
                report.entries.sort { Self.order($0.settings.recipe) < Self.order($1.settings.recipe) }
                if let resultsPath { try report.write(path: resultsPath, distinctFrom: [train, test]) }
                event(.finished(recipe, entry))
            }
        } catch {
            balancer.abandon()
            throw error
        }
        // Only this run's recipes are shown; the file keeps every entry.
        var shown = report
        shown.entries = report.entries.filter { entry in recipes.contains { $0.description == entry.settings.recipe } }
        return shown
    }

    static func order(_ name: String) -> Int { AblationRecipe.all.firstIndex { $0.description == name } ?? Int.max }

    func trainingSettings(_ recipe: AblationRecipe) -> TrainingSettings {
        var s = training
        s.classWeighting = recipe.classWeighting
        // A searched λ comes from the grid, so `--l2` does not decide (or invalidate) an `+l2-auto` recipe.
        if recipe.l2Search { s.l2 = l2Grid.first ?? s.l2 }
        return s
    }

    /// The `vmf-mixture` recipe's cross-validation: the runner's, seeded with the calibration seed.
    var mixtureSettings: VMFMixtureSelectionSettings {
        var settings = mixture
        settings.seed = calibration.seed
        return settings
    }

    /// The calibration of a recipe's fit: the runner's, with the λ grid for a `+l2-auto` recipe.
    func calibrationSettings(_ recipe: AblationRecipe) -> CalibrationSettings {
        var c = calibration
        c.l2Grid = recipe.l2Search ? l2Grid : nil
        return c
    }

    /// The set a recipe trains, and its fit: a long-tailed recipe's is the input laid out by `sampler: none`
    /// (``AblationRecipe/trainingSetSettings(seed:)``), so it too can be a cluster job that fits where its rows are.
    func balancing(_ recipe: AblationRecipe, settings: AblationReport.Settings) -> AblationBalancing {
        AblationBalancing(recipe: recipe.description, input: train, output: balancedPath(recipe), settings: recipe.trainingSetSettings(seed: seed),
                          model: modelPath(recipe), training: settings.training, calibration: calibrationSettings(recipe))
    }

    /// Lays out (balances) the recipe's training set, fits once with calibration (unless the balancer did, on a
    /// cluster) and scores the model raw and adjusted.
    func fit(_ recipe: AblationRecipe, settings: AblationReport.Settings) async throws -> AblationReport.Entry {
        let balancing = balancing(recipe, settings: settings)
        let balanced = try await balancer.finish(balancing)
        let trainingFile = balancing.output
        let model = modelPath(recipe)
        let fitted: AblationBalanced.Fit
        var loadSeconds = 0.0
        if let fit = balanced.fit {
            fitted = fit
        } else {
            let summary = try await TrainingRunner(inputs: [trainingFile], output: model, settings: settings.training, threads: threads,
                                                   calibration: calibrationSettings(recipe)).run()
            fitted = AblationBalanced.Fit(rows: summary.rows, l2: summary.settings.l2, calibration: summary.calibration,
                                          calibrationFitSeconds: summary.calibrationSeconds, finalFitSeconds: summary.trainSeconds)
            loadSeconds = summary.loadSeconds
        }
        let balanceSeconds = balanced.balanceSeconds, calibrationSeconds = fitted.calibrationFitSeconds
        let rows = try scoredRows(recipe, model: model, l2: fitted.l2) { calibrated in
            (calibrated ? fitted.calibration?.balancedAccuracy : fitted.calibration?.rawBalancedAccuracy,
             balanceSeconds + loadSeconds + fitted.finalFitSeconds + (calibrated ? calibrationSeconds : 0))
        }
        return AblationReport.Entry(settings: settings, balanceSeconds: balanceSeconds, calibrationFitSeconds: calibrationSeconds,
                                    finalFitSeconds: fitted.finalFitSeconds, trainingRows: fitted.rows, rows: rows)
    }

    /// Fits a `vmf-mixture` recipe on the long-tailed file (its real rows; cross-validation with calibration; EM over
    /// its pool for the pool recipe, `train --transductive`'s leave-one-out EM over the test rows for the transductive one) and scores it raw (τ = 0) and adjusted. The plain mixture's
    /// held-out balanced accuracy is the pooled out-of-fold one, at τ = 0 and at the chosen τ (K_max and κ₀ as chosen
    /// jointly with τ); an EM recipe's is measured on held-out training rows by ``VMFMixturePoolHoldOut``. Both rows
    /// cost the whole recipe: loading, cross-validation, final fit, and for an EM recipe the EM and its held-out fit.
    func fitMixture(_ recipe: AblationRecipe, settings: AblationReport.Settings) async throws -> AblationReport.Entry {
        let model = modelPath(recipe)
        let clock = ContinuousClock()
        let summary = try await VMFMixtureTrainingRunner(inputs: [train], output: model, settings: mixtureSettings, threads: threads,
                                                         unlabeled: unlabeledFiles(recipe), emIterations: emIterations,
                                                         leaveOneOut: recipe.unlabeled == .test).run()
        var heldOut = (raw: summary.record.rawBalancedAccuracy, calibrated: summary.record.balancedAccuracy)
        var estimateSeconds = 0.0
        if recipe.unlabeled != nil {
            let start = clock.now
            let estimate = try await poolHoldOut(recipe, summary: summary)
            heldOut = (estimate.raw, estimate.calibrated)
            estimateSeconds = (clock.now - start).seconds
        }
        let emSeconds = summary.semiSupervised?.seconds ?? 0
        let seconds = summary.loadSeconds + summary.foldSeconds + summary.refitSeconds + emSeconds + estimateSeconds
        let rows = try scoredRows(recipe, model: model, l2: nil) { calibrated in (calibrated ? heldOut.calibrated : heldOut.raw, seconds) }
        return AblationReport.Entry(settings: settings, balanceSeconds: 0, calibrationFitSeconds: summary.foldSeconds + estimateSeconds,
                                    finalFitSeconds: summary.refitSeconds + emSeconds, trainingRows: summary.rows, rows: rows)
    }

    /// The unlabeled files a recipe's EM reads: none, the runner's pool, or the test file (its embeddings only).
    func unlabeledFiles(_ recipe: AblationRecipe) -> [String] {
        switch recipe.unlabeled {
        case nil: []
        case .pool: unlabeled
        case .test: [test]
        }
    }

    /// A recipe's pool rows, read and checked as `train --unlabeled` reads them; another dimension is named as the pool's.
    func pool(for recipe: AblationRecipe, trainingFiles: [TrainingInputFile]) throws -> UnlabeledPool? {
        do {
            return try UnlabeledPool.load(unlabeledFiles(recipe), embeddings: DatasetNames.standard.embeddings,
                                          dimension: trainingFiles[0].dimension, trainingFiles: trainingFiles)
        } catch TrainingError.dimensionMismatch(let path, let expected, let found) {
            throw AblationError.poolDimension(path: path, transductive: recipe.unlabeled == .test, found: found, train: train, expected: expected)
        }
    }

    /// An EM recipe's held-out balanced accuracy (``VMFMixturePoolHoldOut``), with the choices its cross-validation made.
    func poolHoldOut(_ recipe: AblationRecipe, summary: VMFMixtureTrainingRunner.Summary) async throws -> VMFMixturePoolHoldOut.Estimate {
        let files = try TrainingInputFile.openAll([train])
        let rows = try files[0].loadRealRows().shard
        guard let pool = try pool(for: recipe, trainingFiles: files) else { throw AblationError.poolRecipeWithoutPool }
        let record = summary.record, (adjustment, classCount, dimension) = (summary.adjustment, summary.classCount, summary.dimension)
        let (seed, fraction, holdOutSeed, iterations, threads) = (mixtureSettings.seed, calibration.holdOutFraction, calibration.seed, emIterations, threads)
        return try await ComputePool.run {
            try VMFMixturePoolHoldOut.estimate(
                rows: rows.embeddings, labels: rows.labels, classCount: classCount, pool: pool.rows, poolSource: pool.files.joined(separator: " + "),
                transductive: recipe.unlabeled == .test, maxModes: record.maxModes, kappa0: record.priorConcentration(dimension: dimension),
                adjustment: adjustment, seed: seed, fraction: fraction, holdOutSeed: holdOutSeed, iterations: iterations, threads: threads)
        }
    }

    /// The recipe's two rows, raw and with the model's logit adjustment, scored on the test file; `heldOut` gives
    /// each row's held-out balanced accuracy and wall seconds.
    func scoredRows(_ recipe: AblationRecipe, model: String, l2: Double?,
                    heldOut: (_ calibrated: Bool) -> (balancedAccuracy: Double?, seconds: Double)) throws -> [AblationReport.Row] {
        let calibrations = [false, true]
        let evaluations = try EvaluationRunner(model: model, test: test, training: train).evaluations(calibrations: calibrations)
        return zip(calibrations, evaluations).map { calibrated, evaluation in
            func group(_ g: Evaluation.ShotGroup) -> Double? { evaluation.groups?.first { $0.group == g }?.accuracy }
            let (balancedAccuracy, seconds) = heldOut(calibrated)
            return AblationReport.Row(
                name: recipe.rowName(calibrated: calibrated), calibrated: calibrated, tau: evaluation.logitAdjustmentTau,
                l2: l2, heldOutBalancedAccuracy: balancedAccuracy,
                top1: evaluation.top1Accuracy, many: group(.many), medium: group(.medium), few: group(.few),
                meanClassAccuracy: evaluation.meanClassAccuracy, seconds: seconds)
        }
    }
}
