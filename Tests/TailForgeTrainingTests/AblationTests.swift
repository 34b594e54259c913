import Foundation
import Testing
import TailForgeEngine
import TailForgeStorage
@testable import TailForgeTraining
import TailForgeTestSupport

/// `tailforge ablate`: the grid's rows are real fits (the raw row is `train` + `evaluate --no-calibration`), the
/// report resumes recipes whose settings are unchanged and refits those whose settings changed.
@Suite struct AblationTests {
    /// The generated data set in a temporary directory that goes with the value.
    struct Data {
        let scratch: TemporaryDirectory
        let train: String
        let test: String
        var directory: String { scratch.path }
    }

    static func data() throws -> Data {
        let scratch = TemporaryDirectory("ablate")
        let (train, test) = try SyntheticPreset.small.write(to: scratch.path, seed: 4, dimension: 16)
        return Data(scratch: scratch, train: train, test: test)
    }

    static func runner(_ data: Data, recipes: [String], maxIterations: Int = 15, json: Bool = true) throws -> AblationRunner {
        var training = TrainingSettings()
        training.optimizer.maxIterations = maxIterations
        return AblationRunner(train: data.train, test: data.test, recipes: try recipes.map { name throws(AblationError) in try AblationRecipe(parsing: name) },
                              seed: 2, training: training, threads: 2, resultsPath: json ? data.directory + "/ablation.json" : nil,
                              workDirectory: data.directory + "/work")
    }

    @Test func eachRecipeGivesARawAndACalibratedRowFromRealFits() async throws {
        let data = try Self.data()
        let report = try await Self.runner(data, recipes: ["unweighted", "vmf-local+guard"]).run()
        #expect(report.entries.map(\.settings.recipe) == ["unweighted", "vmf-local+guard"])
        let rows = report.entries.flatMap(\.rows)
        #expect(rows.map(\.name) == ["unweighted", "logit adjustment (unweighted + calibrate)", "vmf-local+guard", "vmf-local+guard + calibrate"])
        #expect(rows.map(\.calibrated) == [false, true, false, true])
        #expect(rows.allSatisfy { (0...1).contains($0.top1) && $0.few != nil && $0.many != nil })
        #expect(rows[0].tau == nil && rows[1].tau != nil)
        #expect(report.entries[1].settings.balance?.driftGuard == 0.5 && report.entries[0].settings.balance == nil)
        #expect(report.entries[1].trainingRows == 4_000, "the small preset balanced to its largest class, 200 × 20")

        // The raw row is exactly what train and evaluate --no-calibration give on the long-tailed file.
        var training = TrainingSettings()
        training.optimizer.maxIterations = 15
        let model = data.directory + "/plain.h5"
        _ = try await TrainingRunner(inputs: [data.train], output: model, settings: training, threads: 2).run()
        let plain = try EvaluationRunner(model: model, test: data.test, training: data.train, applyCalibration: false).run()
        #expect(rows[0].top1 == plain.top1Accuracy)
        // Header, four rows and the line naming the row chosen by held-out balanced accuracy.
        #expect(report.table().split(separator: "\n").count == 6)
    }

    @Test func aRerunSkipsUnchangedRecipesAndRefitsChangedOnes() async throws {
        let data = try Self.data()
        let first = try await Self.runner(data, recipes: ["unweighted", "class-weight"], maxIterations: 10).run()
        let path = data.directory + "/ablation.json"
        let bytes = try Foundation.Data(contentsOf: URL(fileURLWithPath: path))
        #expect(try AblationReport.read(path: path) == first)

        var reused: [String] = [], fitted: [String] = []
        let again = try await Self.runner(data, recipes: ["unweighted", "class-weight"], maxIterations: 10).run { event in
            switch event {
            case .reused(let r): reused.append(r.description)
            case .started(let r, _, _): fitted.append(r.description)
            case .finished: break
            }
        }
        #expect(reused == ["unweighted", "class-weight"] && fitted.isEmpty)
        let bytesAgain = try Foundation.Data(contentsOf: URL(fileURLWithPath: path))
        #expect(again == first && bytesAgain == bytes)

        // A changed training setting invalidates every recipe it applies to; a new recipe is added in grid order.
        reused = []; fitted = []
        let changed = try await Self.runner(data, recipes: ["smote", "unweighted"], maxIterations: 11).run { event in
            switch event {
            case .reused(let r): reused.append(r.description)
            case .started(let r, _, _): fitted.append(r.description)
            case .finished: break
            }
        }
        #expect(reused.isEmpty && fitted == ["smote", "unweighted"])
        #expect(changed.entries.map(\.settings.recipe) == ["unweighted", "smote"])
        let stored = try #require(try AblationReport.read(path: path))
        #expect(stored.entries.map(\.settings.recipe) == ["unweighted", "class-weight", "smote"], "the file keeps the other recipes")
        #expect(stored.entries[0].settings.training.optimizer.maxIterations == 11 && stored.entries[1].settings.training.optimizer.maxIterations == 10)
    }

    /// Records what the runner asks of its balancer, balancing locally, and fails the balancing of `failing`.
    final class RecordingBalancer: AblationBalancer, @unchecked Sendable {
        let local = LocalAblationBalancer(threads: 2)
        let failing: String?
        var started: [[String]] = [], finished: [String] = [], abandoned = 0
        /// The `balance` settings of each recipe's set.
        var layouts: [String: BalanceSettings] = [:]
        init(failing: String? = nil) { self.failing = failing }
        func start(_ balancings: [AblationBalancing]) async throws {
            started.append(balancings.map(\.recipe))
            for balancing in balancings { layouts[balancing.recipe] = balancing.settings }
        }
        func finish(_ balancing: AblationBalancing) async throws -> AblationBalanced {
            finished.append(balancing.recipe)
            if balancing.recipe == failing { throw AblationError.noRecipes }
            return try await local.finish(balancing)
        }
        func abandon() { abandoned += 1 }
    }

    /// The balancer is told every balancing the run needs (every recipe's set) before the first fit (none for a recipe the report
    /// already has), collects each when its recipe is fitted, and is told to abandon the rest when the run fails.
    @Test func theBalancerStartsEveryNeededBalancingFirstAndIsAbandonedOnFailure() async throws {
        let data = try Self.data()
        var runner = try Self.runner(data, recipes: ["unweighted", "smote", "vmf-local"], maxIterations: 5)
        let balancer = RecordingBalancer()
        runner.balancer = balancer
        let first = try await runner.run()
        // The long-tailed recipe too: its set is the input laid out by `sampler: none`, so a cluster can fit it as well.
        #expect(balancer.started == [["unweighted", "smote", "vmf-local"]] && balancer.finished == ["unweighted", "smote", "vmf-local"]
                && balancer.abandoned == 0, "\(balancer.started) \(balancer.finished)")
        #expect(balancer.layouts["unweighted"]?.sampler == SamplerKind.none && balancer.layouts["smote"]?.sampler == .smote)

        // The same rows as a run with the default (local) balancer in another work directory.
        var plain = try Self.runner(data, recipes: ["unweighted", "smote", "vmf-local"], maxIterations: 5, json: false)
        plain.workDirectory = data.directory + "/plain-work"
        #expect(try await plain.run().entries.map { $0.rows.map(\.top1) } == first.entries.map { $0.rows.map(\.top1) })

        // Resumed: nothing to balance; a new recipe whose balancing fails abandons the others and keeps the report.
        let failing = RecordingBalancer(failing: "gaussian")
        runner.recipes = try ["vmf-local", "gaussian", "vmf-class"].map { name throws(AblationError) in try AblationRecipe(parsing: name) }
        runner.balancer = failing
        await #expect(throws: AblationError.self) { try await runner.run() }
        #expect(failing.started == [["gaussian", "vmf-class"]] && failing.finished == ["gaussian"] && failing.abandoned == 1)
        #expect(try AblationReport.read(path: data.directory + "/ablation.json")?.entries.map(\.settings.recipe) == ["unweighted", "vmf-local", "smote"])
    }

    @Test func badInputIsRefusedBeforeAnyWork() async throws {
        let data = try Self.data()
        #expect(throws: AblationError.self) { try AblationRecipe(parsing: "vmf-lcoal") }
        let path = data.directory + "/ablation.json"
        try Foundation.Data("not json".utf8).write(to: URL(fileURLWithPath: path))
        await #expect(throws: AblationError.self) { try await Self.runner(data, recipes: ["unweighted"]).run() }
        #expect(!FileManager.default.fileExists(atPath: data.directory + "/work"), "nothing is done before the report is known")
        var missing = try Self.runner(data, recipes: ["unweighted"], json: false)
        missing.test = data.directory + "/nope.h5"
        await #expect(throws: StorageError.missingFile(path: missing.test)) { try await missing.run() }
        var overInput = try Self.runner(data, recipes: ["unweighted"])
        overInput.resultsPath = data.train
        await #expect(throws: StorageError.self) { try await overInput.run() }
    }
}

extension AblationTests {
    /// The `+l2-auto` recipes choose λ from the runner's grid; every row carries its λ and held-out balanced
    /// accuracy, and the report picks the row with the best held-out score — never by test accuracy.
    @Test func autoLambdaRecipesRecordTheirLambdaAndTheBestHeldOutRowIsChosen() async throws {
        let data = try Self.data()
        var runner = try Self.runner(data, recipes: ["class-weight", "unweighted+l2-auto", "class-weight+l2-auto"], maxIterations: 15)
        runner.l2Grid = [1e-1, 1e-4]
        let report = try await runner.run()
        #expect(report.entries.map(\.settings.recipe) == ["class-weight", "unweighted+l2-auto", "class-weight+l2-auto"])
        #expect(report.entries.map(\.settings.l2Grid) == [nil, [1e-1, 1e-4], [1e-1, 1e-4]])
        let rows = report.entries.flatMap(\.rows)
        #expect(rows[2].name == "unweighted, λ auto" && rows[5].name == "class weights + calibrate, λ auto")
        #expect(rows[0].l2 == 1e-4 && rows[1].l2 == 1e-4)
        #expect(rows[2...].allSatisfy { [1e-1, 1e-4].contains($0.l2 ?? -1) })
        #expect(rows.allSatisfy { $0.heldOutBalancedAccuracy != nil })
        let best = rows.map { $0.heldOutBalancedAccuracy ?? -1 }.max()
        #expect(report.chosenRow?.heldOutBalancedAccuracy == best && report.chosenRow == rows.first { $0.heldOutBalancedAccuracy == best })
        #expect(report.table().contains("* chosen without test labels"))
        // The model behind an auto row is the plain fit at its λ: its raw row matches train --l2 λ + evaluate.
        var training = TrainingSettings(l2: try #require(rows[4].l2), classWeighting: .balanced)
        training.optimizer.maxIterations = 15
        _ = try await TrainingRunner(inputs: [data.train], output: data.directory + "/plain.h5", settings: training, threads: 2).run()
        let plain = try EvaluationRunner(model: data.directory + "/plain.h5", test: data.test, training: data.train, applyCalibration: false).run()
        #expect(rows[4].top1 == plain.top1Accuracy)
    }

    @Test func aReportWithoutTheNewFieldsStillReads() throws {
        // A report written before λ search: no l2Grid, l2 or heldOutBalancedAccuracy keys.
        let scratch = TemporaryDirectory("ablate-old")
        let directory = scratch.path
        let json = """
            {"format": "tailforge-ablation-v1", "train": "t.h5", "test": "e.h5", "entries": [{"settings": {"recipe": "unweighted",
             "trainSHA256": "a", "testSHA256": "b", "training": {"l2": 0.0001, "optimizer": {"historySize": 10, "maxIterations": 5,
             "gradientTolerance": 1e-05, "lossTolerance": 1e-09, "maxLineSearchEvaluations": 20, "sufficientDecrease": 0.0001,
             "curvature": 0.9}, "classWeighting": {"none": {}}}, "calibrationHoldout": 0.2, "calibrationSeed": 0, "toolVersion": "x"},
             "balanceSeconds": 0, "calibrationFitSeconds": 1, "finalFitSeconds": 1, "trainingRows": 10,
             "rows": [{"name": "unweighted", "calibrated": false, "top1": 0.5, "meanClassAccuracy": 0.5, "seconds": 1}]}]}
            """
        try Foundation.Data(json.utf8).write(to: URL(fileURLWithPath: directory + "/old.json"))
        let report = try #require(try AblationReport.read(path: directory + "/old.json"))
        #expect(report.entries[0].settings.l2Grid == nil && report.entries[0].rows[0].l2 == nil && report.chosenRow == nil)
        #expect(report.table().contains("unweighted"))
    }

    /// `--plots` over unbalanced recipes only: the class-count picture's `--input` goes only with `--balanced`
    /// (the script refuses it alone, and `ablate --recipes unweighted,class-weight --plots DIR` failed on that).
    @Test func thePlotCommandPairsTheInputWithABalancedSet() {
        let plots = AblationPlots(script: "Scripts/plots", outputDirectory: "pictures")
        let alone = plots.scriptArguments(train: "train.h5", test: "test.h5", reports: ["a.json", "b.json"], names: ["a", "b"], balanced: nil)
        #expect(!alone.contains("--input") && !alone.contains("--balanced"), "\(alone)")
        #expect(alone.starts(with: ["Scripts/plots", "all", "--train", "train.h5", "--test", "test.h5", "--reports", "a.json", "b.json"]), "\(alone)")
        let paired = plots.scriptArguments(train: "train.h5", test: "test.h5", reports: ["a.json", "b.json"], names: ["a", "b"], balanced: "full.h5")
        #expect(paired.suffix(4) == ["--input", "train.h5", "--balanced", "full.h5"], "\(paired)")
    }

    @Test func theMixtureRecipeIsFittedOnTheLongTailedRowsAndResumesUnlessItsOwnSettingsChange() async throws {
        let data = try Self.data()
        var runner = try Self.runner(data, recipes: ["vmf-mixture"])
        // A small grid and three folds keep the cross-validation quick.
        runner.mixture = VMFMixtureSelectionSettings(maxModesGrid: [1, 2], priorConcentrationMultiples: [1, 2], calibrate: true, folds: 3)
        let report = try await runner.run()
        let entry = try #require(report.entries.first)
        #expect(entry.settings.recipe == "vmf-mixture" && entry.settings.balance == nil && entry.settings.l2Grid == nil)
        #expect(entry.settings.mixture == AblationReport.MixtureSettings(runner.mixture))
        #expect(entry.rows.map(\.name) == ["generative vMF mixture", "generative vMF mixture + calibrate"])
        #expect(entry.rows.allSatisfy { $0.l2 == nil && $0.few != nil && $0.many != nil })
        let model = try VMFMixtureModelFile.read(path: runner.modelPath(AblationRecipe.vmfMixture))
        #expect(entry.rows[0].tau == nil && entry.rows[1].tau == model.adjustment.tau)
        // Its held-out column is the out-of-fold balanced accuracy, raw and at the chosen τ.
        #expect(entry.rows[0].heldOutBalancedAccuracy == model.selection.rawBalancedAccuracy)
        #expect(entry.rows[1].heldOutBalancedAccuracy == model.selection.balancedAccuracy)
        #expect(entry.trainingRows == (try LabeledEmbeddingsFile(path: data.train).count))
        #expect(!FileManager.default.fileExists(atPath: runner.balancedPath(AblationRecipe.vmfMixture)), "nothing is balanced for it")
        // The raw row is train --classifier vmf-mixture + evaluate --no-calibration on the long-tailed file.
        let plain = try EvaluationRunner(model: runner.modelPath(AblationRecipe.vmfMixture), test: data.test, training: data.train,
                                         applyCalibration: false).run()
        #expect(entry.rows[0].top1 == plain.top1Accuracy)

        // The softmax settings do not decide it; its own do.
        var other = runner
        other.training.l2 = 1e-3
        other.training.optimizer.maxIterations = 3
        other.calibration.holdOutFraction = 0.3
        var reused: [String] = [], fitted: [String] = []
        _ = try await other.run { event in
            if case .reused(let r) = event { reused.append(r.description) }
            if case .started(let r, _, _) = event { fitted.append(r.description) }
        }
        #expect(reused == ["vmf-mixture"] && fitted.isEmpty)
        other.mixture.folds = 4
        _ = try await other.run { event in
            if case .started(let r, _, _) = event { fitted.append(r.description) }
        }
        #expect(fitted == ["vmf-mixture"])
    }

    @Test func aMisspeltRecipeNamesTheOneItMisspells() {
        let error = AblationError.unknownRecipe("unweigted", known: AblationRecipe.all.map(\.description))
        #expect(error.description.hasPrefix("unknown recipe 'unweigted' (did you mean `unweighted`?); the recipes are unweighted, "), "\(error)")
    }
}
