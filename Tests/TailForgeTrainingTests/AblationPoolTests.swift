import Foundation
import Testing
import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage
@testable import TailForgeTraining
import TailForgeTestSupport

/// `ablate`'s EM recipes: `vmf-mixture-pool` (the mixture refined over `--unlabeled` rows) and `vmf-mixture-transductive`
/// (refined over the test file's embeddings). Their rows are real fits with a held-out column measured without test
/// labels, they resume from and add to a report written before them, and a pool that cannot be used stops the run
/// before any work.
extension AblationTests {
    /// The small preset (d = 16) with a balanced unlabeled pool beside it.
    static func poolData() throws -> (data: Data, pool: String) {
        let scratch = TemporaryDirectory("ablate-pool")
        let (train, test) = try SyntheticPreset.small.write(to: scratch.path, seed: 4, dimension: 16, unlabeled: .balanced)
        return (Data(scratch: scratch, train: train, test: test), scratch.file(SyntheticPreset.unlabeledFileName))
    }

    /// A quick mixture: a small grid, three folds and at most five EM iterations.
    static func poolRunner(_ data: Data, recipes: [String], pool: [String], json: Bool = true) throws -> AblationRunner {
        var runner = try runner(data, recipes: recipes, json: json)
        runner.mixture = VMFMixtureSelectionSettings(maxModesGrid: [1, 2], priorConcentrationMultiples: [1, 2], calibrate: true, folds: 3)
        runner.unlabeled = pool
        runner.emIterations = 5
        return runner
    }

    @Test func theEMRecipesGiveRowsWithAHeldOutColumnAndResumeAnOlderReport() async throws {
        let (data, pool) = try Self.poolData()
        // A report of the plain mixture alone, as ablate wrote it before the EM recipes existed: no EM fields in its settings.
        _ = try await Self.poolRunner(data, recipes: ["vmf-mixture"], pool: []).run()
        let path = data.directory + "/ablation.json"
        #expect(!(try String(contentsOfFile: path, encoding: .utf8)).contains("emIterations"))

        let runner = try Self.poolRunner(data, recipes: ["vmf-mixture", "vmf-mixture-pool", "vmf-mixture-transductive"], pool: [pool])
        var reused: [String] = [], fitted: [String] = []
        let report = try await runner.run { event in
            if case .reused(let r) = event { reused.append(r.description) }
            if case .started(let r, _, _) = event { fitted.append(r.description) }
        }
        #expect(reused == ["vmf-mixture"] && fitted == ["vmf-mixture-pool", "vmf-mixture-transductive"])
        #expect(report.entries.map(\.settings.recipe) == ["vmf-mixture", "vmf-mixture-pool", "vmf-mixture-transductive"])
        let rows = report.entries.flatMap(\.rows)
        #expect(rows.map(\.name) == ["generative vMF mixture", "generative vMF mixture + calibrate",
                                     "vMF mixture + pool (EM)", "vMF mixture + pool (EM) + calibrate",
                                     "transductive vMF mixture", "transductive vMF mixture + calibrate"])
        for row in rows {
            #expect((0 ... 1).contains(row.top1) && row.few != nil && row.many != nil && row.medium != nil, "\(row.name)")
            #expect(row.heldOutBalancedAccuracy.map { (0 ... 1).contains($0) } == true, "\(row.name)")
        }
        let poolEntry = report.entries[1], transductive = report.entries[2]
        #expect(poolEntry.settings.mixture?.unlabeledSHA256 == [try SHA256.hexDigest(ofFileAt: pool)] && poolEntry.settings.mixture?.emIterations == 5)
        #expect(transductive.settings.mixture?.unlabeledSHA256 == [transductive.settings.testSHA256])
        #expect(poolEntry.settings.calibrationHoldout == runner.calibration.holdOutFraction, "its held-out share is recorded: it decides the column")

        // The pool recipe's model is what train --classifier vmf-mixture --calibrate --unlabeled POOL writes.
        let trained = data.directory + "/semi.h5"
        _ = try await VMFMixtureTrainingRunner(inputs: [data.train], output: trained, settings: runner.mixtureSettings, threads: 2,
                                               unlabeled: [pool], emIterations: 5).run()
        let stored = try VMFMixtureModelFile.read(path: runner.modelPath(AblationRecipe.vmfMixturePool))
        #expect(stored.model == (try VMFMixtureModelFile.read(path: trained)).model)
        let raw = try EvaluationRunner(model: trained, test: data.test, training: data.train, applyCalibration: false).run()
        #expect(rows[2].top1 == raw.top1Accuracy)
        // The transductive recipe's is what train … --transductive TEST writes (the leave-one-out E-step).
        let batch = data.directory + "/transductive.h5"
        _ = try await VMFMixtureTrainingRunner(inputs: [data.train], output: batch, settings: runner.mixtureSettings, threads: 2,
                                               unlabeled: [data.test], emIterations: 5, leaveOneOut: true).run()
        let storedBatch = try VMFMixtureModelFile.read(path: runner.modelPath(AblationRecipe.vmfMixtureTransductive))
        #expect(storedBatch.model == (try VMFMixtureModelFile.read(path: batch)).model && storedBatch.attributes["em_leave_one_out"] == .int(1))
        // Its held-out column is measured after EM on held-out training rows, not the cross-validation's out-of-fold score.
        #expect(rows[3].heldOutBalancedAccuracy != stored.selection.balancedAccuracy || rows[2].heldOutBalancedAccuracy != stored.selection.rawBalancedAccuracy)

        let table = report.table()
        #expect(table.contains("  transductive: refined by EM over the test file's embeddings (never its labels"), "\(table)")
        #expect(table.contains("* chosen without test labels"))

        // Another EM limit refits both EM recipes and keeps the plain mixture.
        var other = runner
        other.emIterations = 4
        reused = []; fitted = []
        _ = try await other.run { event in
            if case .reused(let r) = event { reused.append(r.description) }
            if case .started(let r, _, _) = event { fitted.append(r.description) }
        }
        #expect(reused == ["vmf-mixture"] && fitted == ["vmf-mixture-pool", "vmf-mixture-transductive"])
    }

    /// The transductive recipe reads the test file's embeddings, never its labels, for anything it fits or chooses:
    /// with the test labels permuted, the model and the held-out column are the same (only the test scores change).
    @Test func theTransductiveRecipeNeverReadsTheTestLabels() async throws {
        let (data, _) = try Self.poolData()
        let test = try LabeledEmbeddingsFile(path: data.test)
        let labels = try test.readLabels()
        let classCount = Int(labels.max()!) + 1
        let permuted = data.directory + "/test-permuted.h5"
        try writeLabeledFile(permuted, Matrix(rows: test.count, columns: test.dimension, storage: try test.readEmbeddings(rows: 0 ..< test.count)),
                             labels.map { ($0 + 1) % Int32(classCount) }, classNames: test.classNames)

        var runs: [(report: AblationReport, model: VMFMixtureModelFile.Loaded)] = []
        for (name, file) in [("plain", data.test), ("permuted", permuted)] {
            var runner = try Self.poolRunner(data, recipes: ["vmf-mixture-transductive"], pool: [], json: false)
            runner.test = file
            runner.workDirectory = data.directory + "/work-" + name
            let report = try await runner.run()
            runs.append((report, try VMFMixtureModelFile.read(path: runner.modelPath(AblationRecipe.vmfMixtureTransductive))))
        }
        #expect(runs[0].model.model == runs[1].model.model && runs[0].model.adjustment == runs[1].model.adjustment)
        #expect(runs[0].report.entries[0].rows.map(\.heldOutBalancedAccuracy) == runs[1].report.entries[0].rows.map(\.heldOutBalancedAccuracy))
        #expect(runs[0].report.entries[0].rows[0].top1 != runs[1].report.entries[0].rows[0].top1, "the test scores do use the labels")
    }

    @Test func aPoolThatCannotBeUsedIsRefusedBeforeAnyWork() async throws {
        let (data, pool) = try Self.poolData()
        let other = try SyntheticPreset.small.write(to: data.directory + "/d8", seed: 5, dimension: 8, unlabeled: .balanced)
        let otherPool = data.directory + "/d8/" + SyntheticPreset.unlabeledFileName
        let missing = data.directory + "/unlabeld.h5"
        let cases: [(recipes: [String], pool: [String], test: String?, error: any Error & Equatable)] = [
            (["vmf-mixture-pool"], [missing], nil, StorageError.missingFile(path: missing)),
            (["unweighted", "vmf-mixture-pool"], [pool, otherPool], nil,
             AblationError.poolDimension(path: otherPool, transductive: false, found: 8, train: data.train, expected: 16)),
            (["vmf-mixture-transductive"], [], other.test,
             AblationError.poolDimension(path: other.test, transductive: true, found: 8, train: data.train, expected: 16)),
            (["vmf-mixture-pool"], [], nil, AblationError.poolRecipeWithoutPool),
        ]
        for (recipes, files, test, expected) in cases {
            var runner = try Self.poolRunner(data, recipes: recipes, pool: files)
            if let test { runner.test = test }
            var thrown: (any Error)?
            do { _ = try await runner.run() } catch { thrown = error }
            #expect(thrown.map { "\($0)" } == "\(expected)", "\(recipes) \(files)")
            #expect(!FileManager.default.fileExists(atPath: data.directory + "/work") && !FileManager.default.fileExists(atPath: data.directory + "/ablation.json"),
                    "nothing is written for \(recipes) \(files)")
        }
        // The training file as its own pool: its rows would count twice.
        let itself = try Self.poolRunner(data, recipes: ["vmf-mixture-pool"], pool: [data.train])
        await #expect(throws: TrainingError.self) { try await itself.run() }
        #expect(!FileManager.default.fileExists(atPath: data.directory + "/work"))
    }

    @Test func unlabeledFilesAddThePoolRecipeAndTheTransductiveOneIsAskedFor() throws {
        let mixture = AblationRecipe.vmfMixture, pool = AblationRecipe.vmfMixturePool, transductive = AblationRecipe.vmfMixtureTransductive
        #expect(try AblationRecipe.selection(names: nil, pool: false, transductive: false) == AblationRecipe.standard)
        #expect(!AblationRecipe.standard.contains(pool) && !AblationRecipe.standard.contains(transductive))
        #expect(try AblationRecipe.selection(names: nil, pool: true, transductive: true) == AblationRecipe.standard + [pool, transductive])
        #expect(try AblationRecipe.selection(names: ["vmf-mixture"], pool: true, transductive: false) == [mixture, pool])
        #expect(try AblationRecipe.selection(names: ["vmf-mixture-transductive", "vmf-mixture"], pool: false, transductive: true) == [transductive, mixture])
        #expect(throws: AblationError.poolRecipeWithoutPool) { try AblationRecipe.selection(names: ["vmf-mixture-pool"], pool: false, transductive: false) }
        #expect(try AblationRecipe(parsing: "vmf-mixture-transductive") == transductive)
    }
}
