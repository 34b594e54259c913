import Foundation
import Testing
import TailForgeStorage

@Suite(.serialized) struct CommandLineTests {
    static let shared = Result { try CLIFixture() }

    @Test func versionPrintsTheToolVersionWorkersCompare() throws {
        let outcome = try CommandRunner().run(["--version"], in: NSTemporaryDirectory())
        #expect(outcome.status == 0)
        #expect(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == ToolVersion.current)
    }

    /// The output path is printed as given, never used as a format string.
    @Test func anOutputNameWithPercentSignsIsPrintedAsIs() throws {
        let fixture = try Self.shared.get()
        let outcome = try fixture.runner.run(["train", "data/train.h5", "-o", "model-%d-%s-%@.h5", "--max-iter", "2", "--threads", "1"],
                                             in: fixture.directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("model written to model-%d-%s-%@.h5\n"), "\(outcome.stdout)")
        #expect(FileManager.default.fileExists(atPath: fixture.path("model-%d-%s-%@.h5")))
    }

    /// Files whose datasets have other names are read by every command given `--embeddings-dataset` and
    /// `--labels-dataset`, and the error for a wrong name points at those options.
    @Test func everyReadingCommandTakesTheDatasetNames() throws {
        let fixture = try Self.shared.get()
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
            let outcome = try fixture.runner.run(command + names + ["--threads", "1"].filter { _ in command[0] != "evaluate" && command[0] != "predict" },
                                                 in: fixture.directory)
            #expect(outcome.status == 0, "\(command): \(outcome.stderr)")
        }
        let wrong = try fixture.runner.run(["evaluate", "renamed-model.h5", "renamed-test.h5"], in: fixture.directory)
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("no dataset '/embeddings'") && wrong.stderr.contains("/features"), "\(wrong.stderr)")
    }
}
