import Foundation
import Testing
import TailForgeStorage

/// No command writes over any of its inputs, however the path is spelled: the same name, `./`, a symbolic
/// link or a hard link (same device and inode). The input's bytes are unchanged and the exit is non-zero.
@Suite(.serialized) struct OverwriteTests {
    static let sharedFixture = Task { try await CLIFixture() }

    static let cases: [[String]] = [
        ["predict", "model.h5", "data/test.h5", "-o", "data/test.h5"],
        ["predict", "model.h5", "data/test.h5", "-o", "./model.h5"],
        ["predict", "model.h5", "data/test.h5", "-o", "link-to-test.h5"],
        ["predict", "model.h5", "data/test.h5", "-o", "hard-link-to-test.h5"],
        ["train", "data/train.h5", "-o", "data/train.h5"],
        ["train", "data/train.h5", "-o", "data/./train.h5"],
        ["train", "data/train.h5", "-o", "hard-link-to-train.h5", "--classifier", "vmf-mixture"],
        ["evaluate", "model.h5", "data/test.h5", "--json", "data/test.h5"],
        ["evaluate", "model.h5", "data/test.h5", "--json", "model.h5"],
        ["evaluate", "model.h5", "data/test.h5", "--train", "data/train.h5", "--json", "data/train.h5"],
        ["balance", "data/train.h5", "-o", "hard-link-to-train.h5"],
    ]

    @Test(arguments: cases)
    func aCommandRefusesToWriteOverItsInput(_ arguments: [String]) async throws {
        let fixture = try await Self.sharedFixture.value
        if !FileManager.default.fileExists(atPath: fixture.path("link-to-test.h5")) {
            try FileManager.default.createSymbolicLink(atPath: fixture.path("link-to-test.h5"), withDestinationPath: fixture.path("data/test.h5"))
            try FileManager.default.linkItem(atPath: fixture.path("data/test.h5"), toPath: fixture.path("hard-link-to-test.h5"))
            try FileManager.default.linkItem(atPath: fixture.path("data/train.h5"), toPath: fixture.path("hard-link-to-train.h5"))
        }
        let files = ["model.h5", "data/train.h5", "data/test.h5"]
        let before = try files.map { try SHA256.hexDigest(ofFileAt: fixture.path($0)) }
        let outcome = try await fixture.runner.run(arguments, in: fixture.directory)
        #expect(outcome.status != 0 && !outcome.killedBySignal)
        #expect(outcome.stderr.contains("writing it would destroy the input"), "\(outcome.stderr)")
        #expect(try files.map { try SHA256.hexDigest(ofFileAt: fixture.path($0)) } == before)
        #expect(!fixture.contents("data").contains { $0.contains(".tmp-") })
    }
}
