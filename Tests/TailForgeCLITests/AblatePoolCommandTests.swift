import Foundation
import Testing
import TailForgeEngine

/// `ablate --unlabeled POOL.h5` and `--transductive` as a user runs them: the EM recipes' rows in the printed table,
/// the transductive one marked, and a pool that cannot be used refused with a non-zero exit before anything is written.
@Suite struct AblatePoolCommandTests {
    /// The CLI fixture's data (small preset, d = 16), a balanced pool of the same generator, and one of dimension 8.
    static let sharedFixture = Task {
        let fixture = try await CLIFixture()
        _ = try SyntheticPreset.small.write(to: fixture.path("pool"), seed: 3, dimension: 16, unlabeled: .balanced)
        _ = try SyntheticPreset.small.write(to: fixture.path("d8"), seed: 3, dimension: 8, unlabeled: .balanced)
        return fixture
    }

    static let quick = ["--recipes", "vmf-mixture", "--threads", "1", "--em-iterations", "3"]

    @Test func thePoolAndTransductiveRecipesArePrintedAndTheTransductiveOneIsMarked() async throws {
        let fixture = try await Self.sharedFixture.value
        let outcome = try await fixture.runner.run(["ablate", "data/train.h5", "data/test.h5", "--unlabeled", "pool/unlabeled.h5", "--transductive",
                                                    "--json", "pool.json"] + Self.quick, in: fixture.directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("[3/3] vmf-mixture-transductive…"), "\(outcome.stderr)")
        let lines = outcome.stdout.split(separator: "\n").map(String.init)
        for name in ["generative vMF mixture + calibrate", "vMF mixture + pool (EM) + calibrate", "transductive vMF mixture + calibrate"] {
            // Name, λ "–", τ, the held-out and four test percentages, and the seconds.
            let line = try #require(lines.first { $0.dropFirst(2).hasPrefix(name + " ") }, "\(outcome.stdout)")
            let cells = line.dropFirst(2 + name.count).split(separator: " ")
            #expect(cells.count == 8 && cells[0] == "–" && cells[1...].allSatisfy { Double($0) != nil }, "\(line)")
        }
        #expect(lines.contains { $0.hasPrefix("  transductive: refined by EM over the test file's embeddings (never its labels") }, "\(outcome.stdout)")
    }

    struct Refused: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        var says: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let refused: [Refused] = [
        Refused(arguments: ["data/train.h5", "data/test.h5", "--unlabeled", "pool/unlabeld.h5"], says: "pool/unlabeld.h5: no such file"),
        Refused(arguments: ["data/train.h5", "data/test.h5", "--unlabeled", "d8/unlabeled.h5"],
                says: "d8/unlabeled.h5 has embeddings of dimension 8 but data/train.h5 has 16: an --unlabeled pool must come from the same embedding model"),
        Refused(arguments: ["data/train.h5", "d8/test.h5", "--transductive"], says: "d8/test.h5 has embeddings of dimension 8 but data/train.h5 has 16"),
        Refused(arguments: ["data/train.h5", "data/test.h5", "--unlabeled", "data/train.h5"], says: "is not also a training input"),
        Refused(arguments: ["data/train.h5", "data/test.h5", "--recipes", "vmf-mixture-pool"], says: "give them with --unlabeled POOL.h5"),
    ]

    @Test(arguments: refused)
    func aPoolThatCannotBeUsedIsRefusedAndNothingIsWritten(_ bad: Refused) async throws {
        let fixture = try await Self.sharedFixture.value
        let report = "refused-\(UUID().uuidString).json"
        let outcome = try await fixture.runner.run(["ablate"] + bad.arguments + ["--json", report, "--threads", "1"], in: fixture.directory)
        #expect(outcome.status != 0 && !outcome.killedBySignal)
        #expect(outcome.stderr.contains(bad.says), "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("[1/"), "refused before the first recipe: \(outcome.stderr)")
        #expect(!fixture.contents().contains { $0.hasPrefix(report) }, "neither the report nor its work directory")
    }
}
