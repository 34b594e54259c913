import ArgumentParser
import Foundation
import TailForgeCluster
import TailForgeStorage
import TailForgeTraining

struct AblateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablate",
        abstract: "Fit and score the grid of balancing, weighting and calibration recipes on a long-tailed training file and a test file.",
        discussion: """
            Recipes: unweighted and class-weight (the long-tailed file as is), vmf-local (the paper's), vmf-class, \
            vmf-loo, gaussian and smote (balanced with balance's defaults and --seed), each balanced recipe also with \
            +guard (--drift-guard), and unweighted+l2-auto and class-weight+l2-auto, which choose λ from \
            --l2-grid with τ on the held-out rows (train --l2 auto --calibrate). Each is fitted once with \
            --calibrate and scored raw and with its logit adjustment, so it gives two rows; unweighted + calibrate \
            is the classic logit-adjustment baseline. vmf-mixture is the generative vMF mixture (train --classifier \
            vmf-mixture --calibrate with its default grids and --calibration-seed) on the long-tailed file's real \
            rows; its held-out balanced accuracy is the out-of-fold one of its cross-validation, and it is always \
            fitted on this machine, with --coordinator too. --unlabeled POOL.h5 adds vmf-mixture-pool, the same \
            mixture refined by EM over the pool (train --unlabeled), and --transductive adds vmf-mixture-transductive, \
            refined by EM over the test file's embeddings, never its labels (train --transductive TEST; marked \
            transductive in the table). Their \
            held-out balanced accuracy is measured on a --calibration-holdout share of the training rows, held out of \
            the mixture and scored after EM (for the transductive recipe the held-out rows join the pool, unlabeled). \
            The table also gives each row's held-out balanced accuracy \
            and marks with * the row a user without test labels would choose: the highest of them. \
            With --json the report is rewritten after each recipe, and running the same command again skips the \
            recipes whose recorded settings (input digests, balance, training and calibration settings, tool \
            version) are unchanged.

            Every recipe trains a set laid out by balance --layout compact: the long-tailed ones the input's real \
            rows alone (--sampler none: unit length, class-major). With --coordinator, every recipe is one job on \
            that cluster that lays out and fits its set (submitted before the first result is scored; a train: \
            section with calibrate: true, and l2: auto for the +l2-auto ones; the same bytes as balance --layout \
            compact + train --calibrate), so the report is the one a local run gives; only the scoring runs here. \
            The coordinator and its workers must read TRAIN and the work directory at the \
            paths this machine uses (a shared filesystem, inside the coordinator's --data-root), and run this \
            TailForge version (checked before anything is submitted; --allow-version-mismatch skips the check). \
            Ctrl-C cancels the jobs.
            """)

    @Argument(help: "The long-tailed training file (also gives the many/medium/few-shot groups).")
    var train: String

    @Argument(help: "The labelled test file.")
    var test: String

    @Option(help: "Comma-separated recipes to run (default: all but the EM ones), e.g. unweighted,class-weight,vmf-local,vmf-loo+guard,vmf-mixture.")
    var recipes: String?

    @Option(help: "A file of unlabeled rows (its /embeddings) for the recipe vmf-mixture-pool, which it adds; repeat for more files.")
    var unlabeled: [String] = []

    @Flag(help: "Add the recipe vmf-mixture-transductive: the mixture refined by EM over the test file's embeddings (never its labels).")
    var transductive = false

    @Option(help: "EM's iteration limit of vmf-mixture-pool and vmf-mixture-transductive, 1 to 200.")
    var emIterations: Int = VMFMixtureSemiSupervised.defaultIterations

    @Option(help: "Seed of the balancing draws.")
    var seed: UInt64 = 0

    @Option(help: "Write the report as JSON to this file after every recipe; an existing report is resumed.")
    var json: String?

    @Option(help: "Directory for the balanced sets (compact layout) and models (default: FILE.work beside --json, else a temporary directory removed at the end or on Ctrl-C).")
    var workDir: String?

    @Option(help: "Draw the pictures into this directory with Scripts/plots when python3 with numpy, h5py and matplotlib is present.")
    var plots: String?

    @Option(help: "L2 penalty λ on the weights, as for train.")
    var l2: Double = 1e-4

    @Option(help: "The candidate λ values of the +l2-auto recipes, comma-separated (default 1e-4,3e-5,1e-5,3e-6,1e-6).")
    var l2Grid: String?

    @Option(help: "Maximum number of L-BFGS iterations per fit.")
    var maxIter: Int = 500

    @Option(help: "Fraction of each class's real rows held out to choose τ, 0.05 to 0.5.")
    var calibrationHoldout: Double = 0.2

    @Option(help: "Seed of the calibration hold-out draw.")
    var calibrationSeed: UInt64 = 0

    @Option(help: "Worker threads.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Lay out and fit each recipe as a job on this coordinator (e.g. tcp://HOST:5555), which must read TRAIN and the work directory at these paths.")
    var coordinator: String?

    @OptionGroup var keys: PeerKeyOptions

    @Option(help: "With --coordinator: seconds to keep trying while the coordinator does not answer (a restart).")
    var timeout: Double = 120

    @Flag(help: "With --coordinator: submit even when the coordinator runs another TailForge version (its models may differ from a local run's).")
    var allowVersionMismatch = false

    func validate() throws {
        try CommandLimits.check("threads", threads, in: CommandLimits.threads)
        try CommandLimits.check("l2", l2, in: 0...1e6, meaning: "a number from 0 to 1e6")
        try CommandLimits.check("max-iter", maxIter, in: 0...Int.max)
        try CommandLimits.check("em-iterations", emIterations, in: VMFMixtureSemiSupervised.iterationRange)
        guard calibrationHoldout.isFinite, CalibrationSettings.holdOutRange.contains(calibrationHoldout) else {
            throw ValidationError("--calibration-holdout must be between \(CalibrationSettings.holdOutRange.lowerBound) and \(CalibrationSettings.holdOutRange.upperBound)")
        }
        do { _ = try selectedRecipes() } catch { throw ValidationError("--recipes: \(error)") }
        _ = try candidates()
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
        if coordinator == nil, keys.key != nil || keys.coordinatorKey != nil {
            throw ValidationError("--key and --coordinator-key are for --coordinator; add --coordinator tcp://HOST:PORT or leave them out")
        }
        if coordinator == nil, allowVersionMismatch {
            throw ValidationError("--allow-version-mismatch is for --coordinator; add --coordinator tcp://HOST:PORT or leave it out")
        }
    }

    /// The λ candidates of the +l2-auto recipes, largest first.
    func candidates() throws -> [Double] {
        guard let l2Grid else { return CalibrationSettings.standardL2Grid }
        do { return try CalibrationSettings.l2Grid(parsing: l2Grid) } catch { throw ValidationError(error.description) }
    }

    func selectedRecipes() throws -> [AblationRecipe] {
        try AblationRecipe.selection(names: recipes.map { $0.split(separator: ",").map(String.init) }, pool: !unlabeled.isEmpty,
                                     transductive: transductive)
    }

    func run() async throws {
        let temporary = workDir == nil && json == nil
        let work = workDir ?? json.map { $0 + ".work" } ?? NSTemporaryDirectory() + "tailforge-ablate-\(getpid())"
        // A temporary work directory goes at the end, and on Ctrl-C too (the interrupt handler removes it).
        let scratch = temporary ? TemporaryFiles.registerScratchDirectory(work) : nil
        defer {
            if let scratch {
                try? FileManager.default.removeItem(atPath: work)
                TemporaryFiles.forgetScratchDirectory(scratch)
            }
        }
        var training = TrainingSettings(l2: l2)
        training.optimizer.maxIterations = maxIter
        let cluster = try coordinator.map { endpoint in
            ClusterAblationBalancer(coordinator: endpoint, security: try keys.security(), timeoutSeconds: timeout,
                                    allowOtherVersion: allowVersionMismatch) { balancing, job in
                FileHandle.standardError.write(Data("\(balancing.recipe): job \(job) (balance and calibrated fit) submitted to \(endpoint)\n".utf8))
            }
        }
        // Ctrl-C cancels the jobs still queued or running before the usual cleanup: nobody else would collect them.
        let hook = try cluster.map { cluster in
            try InterruptHook { _ in
                for (outstanding, cancelled) in cluster.cancelOutstanding() {
                    let line = cancelled ? "interrupted: cancelled job \(outstanding.job) (\(outstanding.balancing.recipe))"
                        : "interrupted: job \(outstanding.job) (\(outstanding.balancing.recipe)) may still run: tailforge cancel \(outstanding.job) --coordinator \(cluster.coordinator)"
                    FileHandle.standardError.write(Data((line + "\n").utf8))
                }
            }
        }
        defer { hook?.remove() }
        var runner = AblationRunner(train: train, test: test, recipes: try selectedRecipes(), seed: seed, training: training,
                                    calibration: CalibrationSettings(holdOutFraction: calibrationHoldout, seed: calibrationSeed),
                                    l2Grid: try candidates(),
                                    threads: threads, resultsPath: json, workDirectory: work, balancer: cluster)
        runner.unlabeled = unlabeled
        runner.emIterations = emIterations
        let plotter = plots.map { directory in AblationPlots(script: AblationPlots.locateScript() ?? "Scripts/plots", outputDirectory: directory) }
        let report = try await runner.run { event in
            let line: String = switch event {
            case .reused(let recipe): "\(recipe): unchanged settings, reusing the recorded result"
            case .started(let recipe, let index, let count): "[\(index + 1)/\(count)] \(recipe)…"
            case .finished(let recipe, let entry):
                String(format: "%@: top-1 %.2f %% raw, %.2f %% calibrated", recipe.description, entry.rows[0].top1 * 100, entry.rows[1].top1 * 100)
                    + (entry.rows[1].l2.map { String(format: " at λ = %g", $0) } ?? "")
                    + (entry.settings.mixture == nil
                       ? String(format: "; balance %.1f s, fits %.1f + %.1f s", entry.balanceSeconds, entry.calibrationFitSeconds, entry.finalFitSeconds)
                       : entry.settings.mixture?.emIterations == nil
                       ? String(format: "; cross-validation %.1f s, final fit %.1f s", entry.calibrationFitSeconds, entry.finalFitSeconds)
                       : String(format: "; cross-validation and held-out EM fit %.1f s, final fit and EM %.1f s", entry.calibrationFitSeconds, entry.finalFitSeconds))
            }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        print(report.table())
        if let plotter {
            if let missing = AblationPlots.locateScript() == nil ? "Scripts/plots was not found beside this tailforge or in the current directory" : plotter.missingDependency() {
                FileHandle.standardError.write(Data("pictures skipped: \(missing)\n".utf8))
            } else {
                for path in try plotter.draw(report, runner: runner) { print("picture \(path)") }
                if report.entries.allSatisfy({ $0.settings.balance == nil }) {
                    FileHandle.standardError.write(Data("pictures of class counts, κ and a few-shot class's rows skipped: no balanced recipe was run\n".utf8))
                }
            }
        }
    }
}
