import ArgumentParser
import Foundation
import TailForgeCluster
import TailForgeNumerics
import TailForgeStorage
import TailForgeTraining

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a classifier on one or more HDF5 files: multinomial logistic regression by L-BFGS, or the generative vMF mixture.",
        discussion: """
            The objective is mean cross-entropy + (l2/2)·‖W‖² (bias not penalised): scikit-learn's \
            LogisticRegression(C) is the same problem with C = 1/(l2·N), N the number of training rows.

            --calibrate chooses the logit adjustment τ (class c scored logit_c − τ·log π_c, π the real rows' \
            class shares) without test labels: it holds out --calibration-holdout of each class's real rows \
            (and every synthetic row generated from them), fits on the rest, keeps the τ in 0, 0.05, …, 2 with \
            the best held-out balanced accuracy (ties: smallest τ), and stores τ and π in the model; evaluate and \
            predict apply it unless --no-calibration. The fit on all rows runs first, from zero, exactly as \
            without --calibrate; the calibration fit then starts from its weights and may spend at most as many \
            evaluations as it did (over fewer rows), so calibration costs at most one extra fit (with --l2 0 it \
            starts from zero without a limit, as a warm start would carry the held-out rows' fit). Whether it \
            converged or hit the limit is printed and stored in the model. On an unweighted long-tailed fit it is \
            the classic post-hoc logit-adjustment baseline.

            --l2 auto chooses λ the same way, on the same hold-out: one calibration fit per candidate of \
            --l2-grid (default 1e-4,3e-5,1e-5,3e-6,1e-6), largest first, each warm-started from the previous \
            one and stopped at 10× the final fit's --loss-tol, the path stopping once two candidates in a row \
            score below the best; every fitted (λ, τ) pair is scored \
            by held-out balanced accuracy and the best wins (ties: the larger λ, then the smaller τ). With --calibrate the τ grid is searched too; without it τ stays 0 (the model \
            stores the search and an identity adjustment). The final fit on all rows starts from zero, so it is \
            the same model as train --l2 CHOSEN. It costs one fit per candidate fitted (the warm-started ones \
            are cheaper) plus the final fit. The chosen λ and every candidate's held-out score are printed (with \
            its fit's iterations, evaluations and seconds) and stored in the model.

            --classifier vmf-mixture trains the generative vMF mixture instead (README: "Generative vMF mixture"): \
            per class, spherical k-means into 1 to K_max modes, each mode a vMF posterior under a vMF(row-mean \
            direction, κ₀) prior, scored by its posterior predictive density p(x | c). K_max \
            (--mixture-max-modes) and κ₀ (--mixture-prior-concentration, multiples of d) — and with --calibrate \
            the logit adjustment τ — are chosen by stratified --folds-fold cross-validation over every row (pooled \
            out-of-fold balanced accuracy; ties: the smaller K_max, κ₀, τ; --calibration-seed seeds the folds and \
            k-means), then the model is refitted on all rows. Only real rows are fitted: a balanced file's synthetic \
            rows are left out. The L-BFGS, class-weight, hold-out and cluster options do not apply and are refused.

            --unlabeled POOL.h5 (vmf-mixture only; repeatable) refines the fitted mixture with unlabeled rows of the \
            same classes (only /embeddings is read): EM assigns each pool row to classes and modes by the model's \
            posterior, adds the rows to the modes' sums with those weights, and repeats, up to --em-iterations \
            times or until no pool row changes class. κ, the modes per class and τ stay as cross-validation chose \
            them on the labelled rows. Pass a pool that is not a training file.

            --transductive BATCH.h5 (vmf-mixture only; repeatable; not with --unlabeled) fits the mixture for \
            classifying exactly BATCH.h5's rows: EM over them as over a pool (their labels, if any, are never read), \
            each row scored without its own weight (leave-one-out), so a row first put in the wrong class does not \
            pull that class toward itself. Then evaluate or predict BATCH.h5 with the model.
            """)

    @Option(help: "The classifier: softmax (multinomial logistic regression by L-BFGS) or vmf-mixture (the generative vMF mixture, its settings chosen by cross-validation).")
    var classifier: String = "softmax"

    @Option(help: "With --classifier vmf-mixture: the candidate maximum modes per class K_max, comma-separated (default 2,3).")
    var mixtureMaxModes: String?

    @Option(help: "With --classifier vmf-mixture: the candidate mode-prior concentrations κ₀ as multiples of the dimension d, comma-separated (default 0.5,1,1.5,2,3,5).")
    var mixturePriorConcentration: String?

    @Option(help: "With --classifier vmf-mixture: cross-validation folds, 2 to 20 (default 5).")
    var folds: Int?

    @Option(help: "With --classifier vmf-mixture: a file of unlabeled rows (its /embeddings) that refines the mixture by EM; repeat for more files.")
    var unlabeled: [String] = []

    @Option(help: "With --classifier vmf-mixture: the file of rows you will classify (its /embeddings; labels are not read): EM over them with each row scored leave-one-out, for classifying exactly these rows; repeat for more files. Not with --unlabeled.")
    var transductive: [String] = []

    @Option(help: "With --unlabeled or --transductive: EM's iteration limit, 1 to 200 (default 20; it stops earlier once no pool row changes class).")
    var emIterations: Int?

    @Argument(help: "Training HDF5 files (embeddings [N, d] and labels [N]; balance output or raw data, rows are scaled to unit length), in a fixed order.")
    var inputs: [String]

    @OptionGroup var datasets: DatasetNameOptions

    @Option(name: .shortAndLong, help: "Model HDF5 file to write.")
    var output: String

    @Option(help: "L2 penalty λ on the weights, from 0 to 1e6 (scikit-learn C = 1/(λ·N)), or auto to choose it on held-out real rows.")
    var l2: String = Defaults.l2

    @Option(help: "With --l2 auto: the candidate λ values, comma-separated (default 1e-4,3e-5,1e-5,3e-6,1e-6).")
    var l2Grid: String?

    @Option(help: "Maximum number of L-BFGS iterations.")
    var maxIter: Int = Defaults.maxIter

    @Option(help: "Stop when the gradient norm falls below this fraction (0 to below 1) of its initial value.")
    var tol: Double = Defaults.tol

    @Option(help: "Stop when the relative loss decrease per iteration falls below this (0 to below 1).")
    var lossTol: Double = Defaults.lossTol

    @Option(help: "Class weights: none, or balanced (N/(C·n_c), as scikit-learn's class_weight=\"balanced\").")
    var classWeight: String = Defaults.classWeight

    @Flag(help: "Choose the logit adjustment τ on held-out real rows and store it in the model (at most one extra fit's cost).")
    var calibrate = false

    @Option(help: "With --calibrate or --l2 auto: fraction of each class's real rows held out, 0.05 to 0.5 (default 0.2).")
    var calibrationHoldout: Double?

    @Option(help: "With --calibrate or --l2 auto: seed of the stratified hold-out draw (default 0).")
    var calibrationSeed: UInt64?

    @Option(help: "Worker threads for the loss and gradient.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Compute the loss and gradient on cluster workers; an input may be PATH@WORKER for a shard that worker holds.")
    var distributed = false

    @Option(help: "The coordinator's endpoint for --distributed (tcp://HOST:5555).")
    var coordinator: String?

    @OptionGroup var keys: PeerKeyOptions

    @Option(help: "With --distributed: save the optimiser state to this file every --checkpoint-every iterations, and resume from it when it exists.")
    var checkpoint: String?

    @Option(help: "Iterations between checkpoints.")
    var checkpointEvery: Int = Defaults.checkpointEvery

    @Option(help: "With --distributed: resume from this checkpoint file.")
    var resume: String?

    @Option(help: "With --distributed: give up after this many seconds (up to a week) without progress from the cluster.")
    var clusterTimeout: Double = Defaults.clusterTimeout

    /// The softmax options' defaults, which `--classifier vmf-mixture` requires them to keep.
    enum Defaults {
        static let l2 = "1e-4"
        static let maxIter = 500
        static let tol = 1e-5
        static let lossTol = 1e-9
        static let classWeight = "none"
        static let checkpointEvery = 10
        static let clusterTimeout = 600.0
    }

    /// The `--classifier` values.
    static let classifiers = ModelType.allCases.map(\.rawValue)

    /// The classifier `--classifier` names.
    func modelType() throws -> ModelType {
        guard let type = ModelType(rawValue: classifier.trimmingCharacters(in: .whitespaces).lowercased()) else {
            throw ValidationError("--classifier must be \(Self.classifiers.joined(separator: " or ")), got '\(classifier)'"
                                  + Spelling.hint(for: classifier, among: Self.classifiers))
        }
        return type
    }

    func validate() throws {
        guard try modelType() == .softmax else { return try validateMixture() }
        for (flag, given) in [("mixture-max-modes", mixtureMaxModes != nil), ("mixture-prior-concentration", mixturePriorConcentration != nil),
                              ("folds", folds != nil), ("unlabeled", !unlabeled.isEmpty), ("transductive", !transductive.isEmpty),
                              ("em-iterations", emIterations != nil)] where given {
            throw ValidationError("--\(flag) applies to --classifier vmf-mixture only: add --classifier vmf-mixture, or drop --\(flag)")
        }
        if distributed {
            guard coordinator != nil else { throw ValidationError("--distributed needs --coordinator tcp://HOST:5555") }
        } else {
            guard coordinator == nil, checkpoint == nil, resume == nil else {
                throw ValidationError("--coordinator, --checkpoint and --resume apply to --distributed training only")
            }
        }
        if distributed, datasets.names != .standard {
            throw ValidationError("--distributed reads the standard dataset names (/embeddings, /labels, /class_names); "
                                  + "rename the datasets, or train on this machine")
        }
        guard !inputs.isEmpty else { throw ValidationError("give at least one training file") }
        try CommandLimits.check("checkpoint-every", checkpointEvery, in: 1...Int.max)
        try CommandLimits.check("cluster-timeout", clusterTimeout, in: 0.001...604_800, meaning: "a number of seconds above 0 and at most 604800 (a week)")
        let grid = try l2Candidates()
        if grid != nil, distributed {
            throw ValidationError("--l2 auto is not supported with --distributed yet: train locally, or give --l2 a number")
        }
        try CommandLimits.check("max-iter", maxIter, in: 0...Int.max)
        try CommandLimits.check("tol", tol, in: 0...0.999_999, meaning: "a fraction from 0 to below 1 of the initial gradient norm (1 or more stops before the first step)")
        try CommandLimits.check("loss-tol", lossTol, in: 0...0.999_999, meaning: "a relative decrease from 0 to below 1")
        let weightings = ["none", "balanced"]
        guard weightings.contains(classWeight) else {
            throw ValidationError("--class-weight must be none or balanced, got '\(classWeight)'" + Spelling.hint(for: classWeight, among: weightings))
        }
        try CommandLimits.check("threads", threads, in: CommandLimits.threads)
        if calibrate {
            guard !distributed else { throw ValidationError("--calibrate is not supported with --distributed yet: train locally, or drop --calibrate") }
        } else if grid == nil {
            guard calibrationHoldout == nil, calibrationSeed == nil else {
                throw ValidationError("--calibration-holdout and --calibration-seed apply only with --calibrate or --l2 auto")
            }
        }
        if let calibrationHoldout, !(calibrationHoldout.isFinite && CalibrationSettings.holdOutRange.contains(calibrationHoldout)) {
            throw ValidationError("--calibration-holdout must be between \(CalibrationSettings.holdOutRange.lowerBound) and \(CalibrationSettings.holdOutRange.upperBound)")
        }
    }

    /// `--classifier vmf-mixture`: every softmax-only option left at its default, the mixture's own in range.
    func validateMixture() throws {
        let defaults = Defaults.self
        let notForMixture: [(flag: String, given: Bool, why: String)] = [
            ("--distributed", distributed, "the vMF mixture trains on this machine; drop --distributed"),
            ("--coordinator", coordinator != nil, "the vMF mixture trains on this machine; drop --coordinator"),
            ("--checkpoint", checkpoint != nil, "the vMF mixture has no optimiser state to save; drop --checkpoint"),
            ("--resume", resume != nil, "the vMF mixture has no optimiser state to resume; drop --resume"),
            ("--checkpoint-every", checkpointEvery != defaults.checkpointEvery, "it is for --distributed softmax training; drop it"),
            ("--cluster-timeout", clusterTimeout != defaults.clusterTimeout, "it is for --distributed softmax training; drop it"),
            // By value: 0.0001 is the default written another way, which ArgumentParser cannot tell from a left-out flag either.
            ("--l2", Double(l2) != Double(defaults.l2), "the vMF mixture has no weight penalty (its mode prior κ₀, --mixture-prior-concentration, is what regularises it); drop --l2"),
            ("--l2-grid", l2Grid != nil, "the vMF mixture chooses κ₀ from --mixture-prior-concentration instead; drop --l2-grid"),
            ("--class-weight", classWeight != defaults.classWeight,
             "the vMF mixture fits each class's rows on their own, so class counts enter only through the prior π that --calibrate's τ adjusts; drop --class-weight"),
            ("--calibration-holdout", calibrationHoldout != nil,
             "the vMF mixture chooses its settings by cross-validation over every row, not on a hold-out; drop it (--folds sets the folds)"),
            ("--max-iter", maxIter != defaults.maxIter, "it bounds the L-BFGS optimiser of softmax training, which the vMF mixture does not use; drop it"),
            ("--tol", tol != defaults.tol, "it stops the L-BFGS optimiser of softmax training, which the vMF mixture does not use; drop it"),
            ("--loss-tol", lossTol != defaults.lossTol, "it stops the L-BFGS optimiser of softmax training, which the vMF mixture does not use; drop it"),
        ]
        if let refused = notForMixture.first(where: \.given) {
            throw ValidationError("\(refused.flag) does not apply to --classifier vmf-mixture: \(refused.why)")
        }
        guard !inputs.isEmpty else { throw ValidationError("give at least one training file") }
        try CommandLimits.check("threads", threads, in: CommandLimits.threads)
        if let folds { try CommandLimits.check("folds", folds, in: VMFMixtureSelectionSettings.foldRange) }
        guard unlabeled.isEmpty || transductive.isEmpty else {
            throw ValidationError("--unlabeled and --transductive are two uses of EM, not one: --transductive BATCH.h5 for the rows you will classify, --unlabeled POOL.h5 for a separate pool; give one of them")
        }
        if let emIterations {
            guard !unlabeled.isEmpty || !transductive.isEmpty else {
                throw ValidationError("--em-iterations bounds the EM over --unlabeled or --transductive rows: add one of them, or drop --em-iterations")
            }
            try CommandLimits.check("em-iterations", emIterations, in: VMFMixtureSemiSupervised.iterationRange)
        }
        _ = try mixtureSettings()
    }

    /// The cross-validation settings of `--classifier vmf-mixture`.
    func mixtureSettings() throws -> VMFMixtureSelectionSettings {
        var settings = VMFMixtureSelectionSettings()
        do {
            if let mixtureMaxModes { settings.maxModesGrid = try VMFMixtureSelectionSettings.maxModesGrid(parsing: mixtureMaxModes) }
            if let mixturePriorConcentration {
                settings.priorConcentrationMultiples = try VMFMixtureSelectionSettings.priorConcentrationMultiples(parsing: mixturePriorConcentration)
            }
        } catch { throw ValidationError(error.description) }
        settings.calibrate = calibrate
        settings.folds = folds ?? settings.folds
        settings.seed = calibrationSeed ?? settings.seed
        return settings
    }

    /// The fixed λ of `--l2 NUMBER` (nil for auto).
    func fixedL2() -> Double? { Double(l2.trimmingCharacters(in: .whitespaces)) }

    /// The candidates of `--l2 auto` (nil for a fixed λ), largest first.
    func l2Candidates() throws -> [Double]? {
        let value = l2.trimmingCharacters(in: .whitespaces)
        if value.lowercased() == "auto" {
            do {
                return try l2Grid.map { text throws(TrainingError) in try CalibrationSettings.l2Grid(parsing: text) }
                    ?? CalibrationSettings.standardL2Grid
            } catch { throw ValidationError(error.description) }
        }
        guard let number = Double(value) else {
            let hint = ManifestKeys.editDistance(value.lowercased(), "auto") <= 2 ? " (did you mean auto?)" : ""
            throw ValidationError("--l2 must be a number from 0 to 1e6, or auto to choose it on held-out rows; got '\(l2)'\(hint)")
        }
        try CommandLimits.check("l2", number, in: CalibrationSettings.l2Range, meaning: "a number from 0 to 1e6 (larger penalties leave every weight at zero), or auto")
        guard l2Grid == nil else {
            throw ValidationError("--l2-grid lists the candidates of --l2 auto; give --l2 auto with it, or drop --l2-grid to train at --l2 \(l2)")
        }
        return nil
    }

    /// What the calibration fit at a given λ cost next to the final fit, and how it ended.
    static func calibrationFitLine(_ fit: CalibrationRecord.Fit, final: LBFGSReport, cost: Double) -> String {
        let start = switch fit.start {
        case .finalFit: "warm-started from the final fit, limit \(fit.evaluationCap ?? 0) evaluations"
        case .zero, .previousCandidate: "from zero, no evaluation limit"
        }
        let ended = fit.converged ? "converged" : fit.stopReason == .maxEvaluations ? "stopped at the evaluation limit, not converged" : "not converged (\(fit.stopReason.rawValue))"
        return String(format: "calibration fit: %d evaluations against the final fit's %d (%@), %@; cost %.2f of the final fit's (evaluations × rows)",
                      fit.evaluations, final.evaluations, start, ended, cost)
    }

    func run() async throws {
        if try modelType() == .vmfMixture {
            let summary = try await VMFMixtureTrainingRunner(inputs: inputs, output: output, settings: try mixtureSettings(), threads: threads,
                                                             names: datasets.names, unlabeled: unlabeled + transductive,
                                                             emIterations: emIterations ?? VMFMixtureSemiSupervised.defaultIterations,
                                                             leaveOneOut: !transductive.isEmpty)
                .run { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
            for line in summary.lines(output: output) { print(line) }
            return
        }
        let grid = try l2Candidates()
        let settings = TrainingSettings(
            l2: fixedL2() ?? grid?.first ?? 1e-4, optimizer: LBFGSSettings(maxIterations: maxIter, gradientTolerance: tol, lossTolerance: lossTol),
            classWeighting: classWeight == "balanced" ? .balanced : .none)
        let progress = { (i: LBFGSIteration) in
            let line = String(format: "iter %4d  loss %.8f  |g| %.4e  step %.3e  evals %4d  %8.2f s\n",
                              i.iteration, i.loss, i.gradientNorm, i.step, i.evaluations, i.seconds)
            FileHandle.standardError.write(Data(line.utf8))
        }
        let summary: (report: LBFGSReport, rows: Int, dimension: Int, classCount: Int, loadSeconds: Double, trainSeconds: Double)
        if distributed, let coordinator {
            var runner = DistributedTrainingRunner(
                coordinator: coordinator, shards: inputs.map(TrainingShardSpec.init(argument:)), output: output, settings: settings,
                checkpointPath: checkpoint, checkpointEvery: checkpointEvery, resumePath: resume, timeoutSeconds: clusterTimeout,
                logger: DaemonService.logger(label: "tailforge.train"))
            runner.security = try keys.security()
            let s = try await runner.run { progress($0) }
            summary = (s.report, s.rows, s.dimension, s.classCount, s.openSeconds, s.trainSeconds)
        } else {
            var calibration: CalibrationSettings?
            if calibrate {
                calibration = CalibrationSettings(holdOutFraction: calibrationHoldout ?? 0.2, seed: calibrationSeed ?? 0, l2Grid: grid)
            } else if let grid {
                calibration = .l2SearchOnly(holdOutFraction: calibrationHoldout ?? 0.2, seed: calibrationSeed ?? 0, l2Grid: grid)
            }
            let s = try await TrainingRunner(inputs: inputs, output: output, settings: settings, threads: threads,
                                             names: datasets.names, calibration: calibration)
                .run(progress: progress) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
            summary = (s.report, s.rows, s.dimension, s.classCount, s.loadSeconds, s.trainSeconds)
            if let c = s.calibration {
                // One calibration fit per candidate fitted, in order: each line says what its score cost.
                for (candidate, fit) in zip(c.l2Candidates, s.calibrationReports) {
                    let best = candidate.balancedAccuracies.indices.max { candidate.balancedAccuracies[$0] < candidate.balancedAccuracies[$1] } ?? 0
                    print(String(format: "λ = %-7g held-out balanced accuracy %.2f %%", candidate.l2, candidate.bestBalancedAccuracy * 100)
                          + (calibrate ? String(format: " at τ = %.2f", c.tauGrid[best]) : "")
                          + String(format: " (%d iterations, %d evaluations, %.2f s)", fit.iterations, fit.evaluations, fit.seconds)
                          + (candidate.l2 == s.settings.l2 ? "  ← chosen" : ""))
                }
                if !c.l2Candidates.isEmpty {
                    print(String(format: "chosen λ = %g of %d candidates fitted (grid of %d; ties go to the larger λ): %d calibration fits on %d rows, %.2f s",
                                 s.settings.l2, c.l2Candidates.count, grid?.count ?? 0, s.calibrationReports.count, c.fitRows, s.calibrationSeconds))
                }
                if calibrate {
                    print(String(format: "logit adjustment τ = %.2f: held-out balanced accuracy %.2f %% (τ = 0: %.2f %%) on %d real rows; "
                                 + "calibration fit on %d rows, %.2f s; applied by evaluate and predict unless --no-calibration",
                                 c.adjustment.tau, c.balancedAccuracy * 100, (c.rawBalancedAccuracy ?? .nan) * 100, c.heldOutRows,
                                 c.fitRows, s.calibrationSeconds))
                    if let fit = c.fit, c.l2Candidates.isEmpty, let cost = s.calibrationCost {
                        print(Self.calibrationFitLine(fit, final: s.report, cost: cost))
                    }
                }
            }
        }
        let r = summary.report
        print(r.reason)
        print(String(format: "%d iterations, %d evaluations, final loss %.8f, gradient norm %.4e (%.2e of initial)",
                     r.iterations, r.evaluations, r.finalLoss, r.gradientNorm, r.gradientNorm / r.initialGradientNorm))
        // The path is appended, never part of the format: a name such as model-%d.h5 must print as itself.
        print(String(format: "%d rows × %d dimensions, %d classes; load %.2f s, train %.2f s; model written to ",
                     summary.rows, summary.dimension, summary.classCount, summary.loadSeconds, summary.trainSeconds) + output)
        if !r.converged {
            let warning = "warning: the model was written although training did not converge; "
                + "raise --max-iter or loosen --tol, and check the gradient norm above.\n"
            FileHandle.standardError.write(Data(warning.utf8))
        }
    }
}
