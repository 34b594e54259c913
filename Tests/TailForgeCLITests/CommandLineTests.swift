import Foundation
import TailForgeTestSupport
import Testing
import TailForgeStorage

@Suite(.serialized) struct CommandLineTests {
    static let sharedFixture = Task { try await CLIFixture() }

    @Test func versionPrintsTheToolVersionWorkersCompare() async throws {
        let outcome = try await withTemporaryDirectory("version") { try await CommandRunner().run(["--version"], in: $0) }
        #expect(outcome.status == 0)
        #expect(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == ToolVersion.current)
    }

    /// The output path is printed as given, never used as a format string.
    @Test func anOutputNameWithPercentSignsIsPrintedAsIs() async throws {
        let fixture = try await Self.sharedFixture.value
        let outcome = try await fixture.runner.run(["train", "data/train.h5", "-o", "model-%d-%s-%@.h5", "--max-iter", "2", "--threads", "1"],
                                             in: fixture.directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("model written to model-%d-%s-%@.h5\n"), "\(outcome.stdout)")
        #expect(FileManager.default.fileExists(atPath: fixture.path("model-%d-%s-%@.h5")))
    }

    /// Files whose datasets have other names are read by every command given `--embeddings-dataset` and
    /// `--labels-dataset`, and the error for a wrong name points at those options.
    @Test func everyReadingCommandTakesTheDatasetNames() async throws {
        let fixture = try await Self.sharedFixture.value
        for split in ["train", "test"] {
            let source = try LabeledEmbeddingsFile(path: fixture.path("data/\(split).h5"))
            let writer = try AtomicHDF5Writer(path: fixture.path("renamed-\(split).h5"))
            try writer.writeDataset("features", values: try source.readEmbeddings(rows: 0 ..< source.count), shape: [source.count, source.dimension])
            try writer.writeDataset("y", values: try source.readLabels(), shape: [source.count])
            try writer.commit()
        }
        let names = ["--embeddings-dataset", "features", "--labels-dataset", "y"]
        let commands: [[String]] = [
            ["balance", "renamed-train.h5", "-o", "renamed-balanced.h5"],
            ["train", "renamed-train.h5", "-o", "renamed-model.h5", "--max-iter", "3"],
            ["evaluate", "renamed-model.h5", "renamed-test.h5", "--train", "renamed-train.h5"],
            ["predict", "renamed-model.h5", "renamed-test.h5", "-o", "renamed-predictions.h5"],
        ]
        for command in commands {
            let outcome = try await fixture.runner.run(command + names + ["--threads", "1"].filter { _ in command[0] != "evaluate" && command[0] != "predict" },
                                                 in: fixture.directory)
            #expect(outcome.status == 0, "\(command): \(outcome.stderr)")
        }
        let wrong = try await fixture.runner.run(["evaluate", "renamed-model.h5", "renamed-test.h5"], in: fixture.directory)
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("no dataset '/embeddings'") && wrong.stderr.contains("/features"), "\(wrong.stderr)")
    }

    /// `evaluate --train` with a training file of fewer classes than the model (its last class left out) exits
    /// non-zero naming the file, both counts and what to pass instead, and prints and writes nothing else.
    @Test func evaluateRefusesATrainingFileOfAnotherClassCount() async throws {
        let fixture = try await Self.sharedFixture.value
        let source = try LabeledEmbeddingsFile(path: fixture.path("data/train.h5"))
        let labels = try source.readLabels(), embeddings = try source.readEmbeddings(rows: 0 ..< source.count)
        let classes = Int(labels.max()!) + 1
        let kept = labels.indices.filter { Int(labels[$0]) < classes - 1 }
        let writer = try AtomicHDF5Writer(path: fixture.path("fewer-classes.h5"))
        try writer.writeDataset("embeddings", values: kept.flatMap { embeddings[$0 * source.dimension ..< ($0 + 1) * source.dimension] },
                                shape: [kept.count, source.dimension])
        try writer.writeDataset("labels", values: kept.map { labels[$0] }, shape: [kept.count])
        try writer.commit()
        let outcome = try await fixture.runner.run(["evaluate", "model.h5", "data/test.h5", "--train", "fewer-classes.h5", "--json", "fewer.json"],
                                                   in: fixture.directory)
        #expect(outcome.status != 0 && !outcome.killedBySignal)
        #expect(outcome.stderr.contains("the training file fewer-classes.h5 has \(classes - 1) classes, but the model model.h5 has \(classes)"),
                "\(outcome.stderr)")
        #expect(outcome.stderr.contains("pass with --train the training file the model was trained on"), "\(outcome.stderr)")
        #expect(outcome.stdout.isEmpty, "\(outcome.stdout)")
        #expect(!fixture.contents().contains("fewer.json"))
    }

    /// The user's path: `balance --layout compact`, `materialize` to the full file (the same bytes as
    /// `balance --layout full`), `train` from either (the same model bytes); a full file, a truncated file and a
    /// typo in the layout are refused with a message and no output.
    @Test func compactBalanceMaterializesAndTrainsLikeTheFullFile() async throws {
        let fixture = try await Self.sharedFixture.value
        let run = { (arguments: [String]) async throws -> CommandRunner.Outcome in try await fixture.runner.run(arguments, in: fixture.directory) }
        for directory in ["layout-a", "layout-b"] { try FileManager.default.createDirectory(atPath: fixture.path(directory), withIntermediateDirectories: true) }
        var outcome = try await run(["balance", "data/train.h5", "-o", "layout-a/balanced.h5", "--seed", "4"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        outcome = try await run(["balance", "data/train.h5", "-o", "layout-b/balanced.h5", "--seed", "4", "--layout", "compact"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("compact layout"), "\(outcome.stdout)")
        outcome = try await run(["materialize", "layout-b/balanced.h5", "-o", "layout-full.h5"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let full = try Data(contentsOf: URL(fileURLWithPath: fixture.path("layout-a/balanced.h5")))
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.path("layout-full.h5"))) == full)
        for directory in ["layout-a", "layout-b"] {
            outcome = try await run(["train", "\(directory)/balanced.h5", "-o", "\(directory)/model.h5", "--max-iter", "8"])
            #expect(outcome.status == 0, "\(outcome.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.path("layout-a/model.h5")))
                == Data(contentsOf: URL(fileURLWithPath: fixture.path("layout-b/model.h5"))))

        outcome = try await run(["materialize", "layout-a/balanced.h5", "-o", "layout-refused.h5"])
        #expect(outcome.status != 0 && outcome.stderr.contains("is a full balanced file, not a compact one"), "\(outcome.stderr)")
        try full.prefix(4096).write(to: URL(fileURLWithPath: fixture.path("layout-truncated.h5")))
        outcome = try await run(["train", "layout-truncated.h5", "-o", "layout-refused.h5"])
        #expect(outcome.status != 0 && outcome.stderr.contains("is truncated"), "\(outcome.stderr)")
        // Commands that read rows directly name the layout and the way out.
        for arguments in [["predict", "layout-a/model.h5", "layout-b/balanced.h5", "-o", "layout-refused.h5"],
                          ["balance", "layout-b/balanced.h5", "-o", "layout-refused.h5"]] {
            outcome = try await run(arguments)
            #expect(outcome.status != 0 && outcome.stderr.contains("is a compact balanced file") && outcome.stderr.contains("tailforge materialize"),
                    "\(arguments): \(outcome.stderr)")
        }
        outcome = try await run(["balance", "data/train.h5", "-o", "layout-refused.h5", "--layout", "compat"])
        #expect(outcome.status != 0 && outcome.stderr.contains("expected one of full, compact (did you mean `compact`?)"), "\(outcome.stderr)")
        #expect(!fixture.contents().contains { $0.contains("layout-refused") }, "\(fixture.contents())")
    }

    /// `synth` takes `-o`/`--output` like every other command that writes (it had only `--out`), and a typo'd
    /// preset names the one it misspells.
    @Test func synthTakesTheOutputFlagsOfTheOtherCommandsAndSuggestsAPreset() async throws {
        try await withTemporaryDirectory("synth") { directory in
            for flag in ["-o", "--output", "--out"] {
                let outcome = try await CommandRunner().run(["synth", "--preset", "small", "--dimension", "8", "--threads", "1", flag, "data\(flag)"], in: directory)
                #expect(outcome.status == 0, "\(flag): \(outcome.stderr)")
                #expect(FileManager.default.fileExists(atPath: directory + "/data\(flag)/train.h5"))
            }
            let typo = try await CommandRunner().run(["synth", "--preset", "smal", "-o", "typo"], in: directory)
            #expect(typo.status != 0 && typo.stderr.contains("did you mean `small`?"), "\(typo.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/typo"))
        }
    }

    /// `synth --unlabeled` adds a pool with embeddings only and leaves train.h5 and test.h5 as they were; a typo names
    /// the profile it misspells and writes nothing.
    @Test func synthWritesAnUnlabeledPool() async throws {
        try await withTemporaryDirectory("synth-pool") { directory in
            let plain = try await CommandRunner().run(["synth", "--preset", "small", "--dimension", "8", "--threads", "1", "-o", "plain"], in: directory)
            #expect(plain.status == 0, "\(plain.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/plain/unlabeled.h5"))
            let pooled = try await CommandRunner().run(["synth", "--preset", "small", "--dimension", "8", "--threads", "1", "-o", "pooled",
                                                        "--unlabeled", "long-tailed"], in: directory)
            #expect(pooled.status == 0 && pooled.stdout.contains("unlabeled rows, long-tailed, shuffled"), "\(pooled.stderr)")
            for name in ["train.h5", "test.h5"] {
                #expect(FileManager.default.contents(atPath: directory + "/plain/" + name) == FileManager.default.contents(atPath: directory + "/pooled/" + name))
            }
            let pool = try HDF5File.open(path: directory + "/pooled/unlabeled.h5")
            #expect(pool.contains("embeddings") && !pool.contains("labels") && !pool.contains("class_names"))
            #expect(try pool.rootAttributes()["unlabeled_profile"]?.stringValue == "long-tailed")
            // The pool passed where labelled rows are read is named as a pool, with where it goes instead.
            let misplaced = try await CommandRunner().run(["train", "pooled/unlabeled.h5", "-o", "pool-model.h5", "--threads", "1"], in: directory)
            #expect(misplaced.status == 1 && misplaced.stderr.contains("pooled/unlabeled.h5 is an unlabeled pool")
                    && misplaced.stderr.contains("--unlabeled pooled/unlabeled.h5"), "\(misplaced.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/pool-model.h5"))
            let typo = try await CommandRunner().run(["synth", "--preset", "small", "-o", "typo", "--unlabeled", "balancd"], in: directory)
            #expect(typo.status != 0 && typo.stderr.contains("did you mean `balanced`?"), "\(typo.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/typo"))
        }
    }
}
