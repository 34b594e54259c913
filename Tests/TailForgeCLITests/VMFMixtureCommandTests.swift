import Foundation
import Testing
import TailForgeStorage

/// `train --classifier vmf-mixture` as a user runs it, and `evaluate` and `predict` on what it writes: options that
/// belong to softmax training are refused before any work, naming the option and what to do, and nothing is
/// written; the mixture's own are range-checked the same way.
@Suite struct VMFMixtureCommandTests {
    static let sharedFixture = Task { try await CLIFixture() }

    /// A small grid and three folds keep the cross-validation quick on the small preset.
    static let quick = ["--classifier", "vmf-mixture", "--mixture-max-modes", "1,2", "--mixture-prior-concentration", "1,2", "--folds", "3",
                        "--threads", "1"]

    struct BadFlags: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        /// What the message must contain.
        var says: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let mixture = ["--classifier", "vmf-mixture"]
    static let badFlags: [BadFlags] = [
        BadFlags(arguments: ["--classifier", "vmf-mixtrue"], says: "--classifier must be softmax or vmf-mixture, got 'vmf-mixtrue' (did you mean `vmf-mixture`?)"),
        BadFlags(arguments: mixture + ["--l2", "1e-3"], says: "--l2 does not apply to --classifier vmf-mixture: the vMF mixture has no weight penalty"),
        BadFlags(arguments: mixture + ["--l2", "auto"], says: "--l2 does not apply to --classifier vmf-mixture"),
        BadFlags(arguments: mixture + ["--l2-grid", "1e-3,1e-4"], says: "--l2-grid does not apply to --classifier vmf-mixture"),
        BadFlags(arguments: mixture + ["--class-weight", "balanced"], says: "--class-weight does not apply to --classifier vmf-mixture"),
        BadFlags(arguments: mixture + ["--distributed", "--coordinator", "tcp://127.0.0.1:1"], says: "--distributed does not apply to --classifier vmf-mixture: the vMF mixture trains on this machine"),
        BadFlags(arguments: mixture + ["--coordinator", "tcp://127.0.0.1:1"], says: "--coordinator does not apply"),
        BadFlags(arguments: mixture + ["--checkpoint", "state.h5"], says: "--checkpoint does not apply"),
        BadFlags(arguments: mixture + ["--resume", "state.h5"], says: "--resume does not apply"),
        BadFlags(arguments: mixture + ["--calibration-holdout", "0.2"], says: "--calibration-holdout does not apply to --classifier vmf-mixture: the vMF mixture chooses its settings by cross-validation"),
        BadFlags(arguments: mixture + ["--max-iter", "20"], says: "--max-iter does not apply"),
        BadFlags(arguments: mixture + ["--tol", "1e-3"], says: "--tol does not apply"),
        BadFlags(arguments: mixture + ["--loss-tol", "1e-3"], says: "--loss-tol does not apply"),
        BadFlags(arguments: mixture + ["--mixture-max-modes", "0,2"], says: "--mixture-max-modes is '0,2' but must be comma-separated whole numbers from 1 to 16 ('0' is not one)"),
        BadFlags(arguments: mixture + ["--mixture-max-modes", "2,,3"], says: "(an empty entry is not one)"),
        BadFlags(arguments: mixture + ["--mixture-max-modes", "3,3"], says: "each value once (3 is given twice)"),
        BadFlags(arguments: mixture + ["--mixture-prior-concentration=-1"], says: "--mixture-prior-concentration is '-1' but must be comma-separated multiples of the dimension d"),
        BadFlags(arguments: mixture + ["--mixture-prior-concentration", "nan"], says: "('nan' is not one)"),
        // The smallest accepted multiple is 1e-6: the message says so rather than "above 0", which 1e-7 is.
        BadFlags(arguments: mixture + ["--mixture-prior-concentration", "1e-7"], says: "multiples of the dimension d from 1e-6 to 1e6 ('1e-7' is not one)"),
        BadFlags(arguments: mixture + ["--folds", "1"], says: "--folds must be from 2 to 20, got 1"),
        BadFlags(arguments: mixture + ["--threads", "0"], says: "--threads must be from 1 to 1024"),
        BadFlags(arguments: ["--mixture-max-modes", "2"], says: "--mixture-max-modes applies to --classifier vmf-mixture only: add --classifier vmf-mixture, or drop --mixture-max-modes"),
        BadFlags(arguments: ["--folds", "5"], says: "--folds applies to --classifier vmf-mixture only"),
        BadFlags(arguments: ["--unlabeled", "data/test.h5"], says: "--unlabeled applies to --classifier vmf-mixture only"),
        BadFlags(arguments: mixture + ["--em-iterations", "5"], says: "--em-iterations bounds the EM over --unlabeled or --transductive rows: add one of them"),
        BadFlags(arguments: ["--transductive", "data/test.h5"], says: "--transductive applies to --classifier vmf-mixture only"),
        BadFlags(arguments: mixture + ["--transductive", "data/test.h5", "--unlabeled", "data/test.h5"],
                 says: "--unlabeled and --transductive are two uses of EM, not one"),
        BadFlags(arguments: quick + ["--transductive", "data/missing-batch.h5"], says: "data/missing-batch.h5"),
        BadFlags(arguments: mixture + ["--unlabeled", "data/test.h5", "--em-iterations", "0"], says: "--em-iterations must be from 1 to 200, got 0"),
        BadFlags(arguments: quick + ["--unlabeled", "data/missing-pool.h5"], says: "data/missing-pool.h5"),
        BadFlags(arguments: quick + ["--unlabeled", "data/train.h5"], says: "is not also a training input"),
    ]

    @Test(arguments: badFlags)
    func aBadCombinationIsRefusedAndWritesNothing(_ bad: BadFlags) async throws {
        let fixture = try await Self.sharedFixture.value
        let output = "refused-\(UUID().uuidString).h5"
        let outcome = try await fixture.runner.run(["train", "data/train.h5", "-o", output] + bad.arguments, in: fixture.directory)
        #expect(outcome.status != 0 && !outcome.killedBySignal)
        #expect(outcome.stderr.contains(bad.says), "\(outcome.stderr)")
        #expect(!fixture.contents().contains { $0.contains(output) })
    }

    /// `--l2` is compared by value: the default written another way cannot be told from a left-out flag, like `1e-4`.
    @Test func theDefaultL2WrittenAnotherWayIsAccepted() async throws {
        let fixture = try await Self.sharedFixture.value
        let outcome = try await fixture.runner.run(["train", "data/train.h5", "-o", "mixture-l2.h5", "--l2", "0.0001"] + Self.quick,
                                                   in: fixture.directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(fixture.contents().contains("mixture-l2.h5"))
    }

    /// A pool of unlabeled rows (here the test file's embeddings: transductive use) refines the model by EM.
    @Test func trainWithAnUnlabeledPool() async throws {
        let fixture = try await Self.sharedFixture.value
        let trained = try await fixture.runner.run(["train", "data/train.h5", "-o", "mixture-semi.h5", "--unlabeled", "data/test.h5",
                                                    "--em-iterations", "3"] + Self.quick, in: fixture.directory)
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stderr.contains("EM iteration 1: pool mean log-likelihood"), "\(trained.stderr)")
        #expect(trained.stdout.contains("EM with 1000 unlabeled rows: "), "\(trained.stdout)")
        let evaluated = try await fixture.runner.run(["evaluate", "mixture-semi.h5", "data/test.h5"], in: fixture.directory)
        #expect(evaluated.status == 0 && evaluated.stdout.contains("top-1 accuracy"), "\(evaluated.stderr)")
    }

    /// `--transductive`: EM over the rows to classify, leave-one-out; the model says so, and the test file's labels are
    /// never read (a copy of it without /labels gives the same model bytes).
    @Test func trainTransductively() async throws {
        let fixture = try await Self.sharedFixture.value
        let trained = try await fixture.runner.run(["train", "data/train.h5", "-o", "mixture-transductive.h5", "--transductive", "data/test.h5",
                                                    "--em-iterations", "3"] + Self.quick, in: fixture.directory)
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stderr.contains("transductive: each row scored without its own weight"), "\(trained.stderr)")
        #expect(trained.stdout.contains("EM with 1000 unlabeled rows (transductive, leave-one-out): "), "\(trained.stdout)")
        let model = try HDF5File.open(path: fixture.directory + "/mixture-transductive.h5")
        #expect(try model.rootAttributes()["em_leave_one_out"]?.intValue == 1)
        let test = try HDF5File.open(path: fixture.directory + "/data/test.h5")
        let embeddings = try test.readDataset("embeddings", as: Float.self)
        let writer = try AtomicHDF5Writer(path: fixture.directory + "/batch-unlabeled.h5")
        try writer.writeDataset("embeddings", values: embeddings.values, shape: embeddings.shape)
        try writer.commit()
        let unlabeled = try await fixture.runner.run(["train", "data/train.h5", "-o", "mixture-transductive-2.h5", "--transductive", "batch-unlabeled.h5",
                                                      "--em-iterations", "3"] + Self.quick, in: fixture.directory)
        #expect(unlabeled.status == 0, "\(unlabeled.stderr)")
        let a = try HDF5File.open(path: fixture.directory + "/mixture-transductive-2.h5")
        #expect(try a.readDataset("mode_parameters", as: Double.self).values == model.readDataset("mode_parameters", as: Double.self).values)
        let evaluated = try await fixture.runner.run(["evaluate", "mixture-transductive.h5", "data/test.h5"], in: fixture.directory)
        #expect(evaluated.status == 0 && evaluated.stdout.contains("top-1 accuracy"), "\(evaluated.stderr)")
    }

    @Test func aMissingOutputDirectoryIsNamedBeforeAnyWork() async throws {
        let fixture = try await Self.sharedFixture.value
        let outcome = try await fixture.runner.run(["train", "data/train.h5", "-o", "nowhere/mixture.h5"] + Self.quick, in: fixture.directory)
        #expect(outcome.status != 0 && !outcome.killedBySignal)
        #expect(outcome.stderr.contains("directory nowhere does not exist"), "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("fold"), "refused before the cross-validation: \(outcome.stderr)")
        #expect(!fixture.contents().contains("nowhere"))
    }

    @Test func ablateRunsTheMixtureRecipe() async throws {
        let fixture = try await Self.sharedFixture.value
        let outcome = try await fixture.runner.run(["ablate", "data/train.h5", "data/test.h5", "--recipes", "vmf-mixture", "--json", "ablate-mixture.json",
                                                    "--threads", "1"], in: fixture.directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("vmf-mixture: top-1 ") && outcome.stderr.contains("; cross-validation "), "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("λ = nan"), "\(outcome.stderr)")
        let lines = outcome.stdout.split(separator: "\n")
        #expect(lines.contains { $0.contains("generative vMF mixture ") && $0.contains("        –") }, "\(outcome.stdout)")
        #expect(lines.contains { $0.contains("generative vMF mixture + calibrate") }, "\(outcome.stdout)")
        #expect(outcome.stdout.contains("* chosen without test labels"), "\(outcome.stdout)")
    }

    @Test func trainEvaluateAndPredictAMixture() async throws {
        let fixture = try await Self.sharedFixture.value
        let trained = try await fixture.runner.run(["train", "data/train.h5", "-o", "mixture.h5", "--calibrate"] + Self.quick, in: fixture.directory)
        #expect(trained.status == 0, "\(trained.stderr)")
        for expected in ["cross-validation: 3 folds over", "← chosen", "chosen K_max = ", "modes per class: ", "model written to mixture.h5"] {
            #expect(trained.stdout.contains(expected), "\(trained.stdout)")
        }
        // One table line per (K_max, κ₀), exactly one chosen.
        #expect(trained.stdout.split(separator: "\n").filter { $0.contains("← chosen") }.count == 1)
        #expect(trained.stdout.split(separator: "\n").filter { $0.hasSuffix("%") || $0.hasSuffix("← chosen") }.count == 4, "\(trained.stdout)")
        let attributes = try HDF5File.open(path: fixture.path("mixture.h5")).rootAttributes()
        #expect(attributes["format"]?.stringValue == "tailforge-vmf-mixture-model")

        // Training again over the same output replaces it with the same bytes.
        let digest = try SHA256.hexDigest(ofFileAt: fixture.path("mixture.h5"))
        let again = try await fixture.runner.run(["train", "data/train.h5", "-o", "mixture.h5", "--calibrate"] + Self.quick, in: fixture.directory)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try SHA256.hexDigest(ofFileAt: fixture.path("mixture.h5")) == digest)

        let evaluated = try await fixture.runner.run(["evaluate", "mixture.h5", "data/test.h5", "--train", "data/train.h5", "--json", "mixture.json"],
                                                     in: fixture.directory)
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        #expect(evaluated.stdout.hasPrefix("model: generative vMF mixture (vmf-mixture)\n"), "\(evaluated.stdout)")
        #expect(evaluated.stdout.contains("logit adjustment τ = "), "\(evaluated.stdout)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture.path("mixture.json")))) as? [String: Any])
        #expect(report["modelType"] as? String == "vmf-mixture")
        #expect(report["logitAdjustmentTau"] is Double)
        let raw = try await fixture.runner.run(["evaluate", "mixture.h5", "data/test.h5", "--no-calibration"], in: fixture.directory)
        #expect(raw.status == 0 && !raw.stdout.contains("logit adjustment τ"), "\(raw.stdout)\(raw.stderr)")

        let predicted = try await fixture.runner.run(["predict", "mixture.h5", "data/test.h5", "-o", "mixture-predictions.h5", "--top-k", "3"],
                                                     in: fixture.directory)
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let predictions = try HDF5File.open(path: fixture.path("mixture-predictions.h5"))
        #expect(try predictions.rootAttributes()["model_type"]?.stringValue == "vmf-mixture")
        let probabilities = try predictions.readDataset("top_k_probabilities", as: Float.self)
        #expect(probabilities.shape[1] == 3)
        #expect(probabilities.values.allSatisfy { $0 >= 0 && $0 <= 1 })

        // A softmax model's report is as it was: no model type.
        let softmax = try await fixture.runner.run(["evaluate", "model.h5", "data/test.h5", "--json", "softmax.json"], in: fixture.directory)
        #expect(softmax.status == 0 && !softmax.stdout.hasPrefix("model:"), "\(softmax.stdout)\(softmax.stderr)")
        let softmaxReport = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture.path("softmax.json")))) as? [String: Any])
        #expect(softmaxReport["modelType"] == nil)
    }
}
