import Foundation
import TailForgeTestSupport
import Testing

extension CommandLineTests {
    /// A mistyped option is named, with ArgumentParser's did-you-mean, even when the line then lacks the required
    /// argument the typo was meant to give: swift-argument-parser alone reports the missing argument and never the typo
    /// (`balance in.h5 --ouput b.h5` said "Missing expected argument '--output <output>'"). The last cases are
    /// `validate()` wanting what the typo meant (`submit`'s ad-hoc `--output`) and a typo beside another bad value.
    @Test(arguments: [
        (["balance", "data/train.h5", "--ouput", "b.h5"], "Unknown option '--ouput'. Did you mean '--output'?"),
        (["balance", "--ouput", "b.h5"], "Unknown option '--ouput'. Did you mean '--output'?"),
        (["balance", "data/train.h5", "--ouput=b.h5"], "Unknown option '--ouput'. Did you mean '--output'?"),
        (["train", "data/train.h5", "--ouput", "m.h5", "--max-iter", "3"], "Unknown option '--ouput'. Did you mean '--output'?"),
        (["train", "data/train.h5", "-o", "m.h5", "--max-iters", "3"], "Unknown option '--max-iters'. Did you mean '--max-iter'?"),
        (["materialize", "compact.h5", "--ouput", "full.h5"], "Unknown option '--ouput'. Did you mean '--output'?"),
        (["submit", "jobs/demo.yaml", "--coordinatr", "tcp://127.0.0.1:1"], "Unknown option '--coordinatr'. Did you mean '--coordinator'?"),
        (["submit", "data/train.h5", "--ouput", "b.h5"], "Unknown option '--ouput'. Did you mean '--output'?"),
        (["balance", "data/train.h5", "-o", "b.h5", "--layout", "bogus", "--sed", "3"], "Unknown option '--sed'. Did you mean '--seed'?"),
    ])
    func anUnknownOptionIsReportedBeforeAMissingArgument(arguments: [String], expected: String) async throws {
        let outcome = try await withTemporaryDirectory("unknown-option") { try await CommandRunner().run(arguments, in: $0) }
        #expect(outcome.status == 64)
        #expect(outcome.stderr.hasPrefix("Error: \(expected)\n"), "\(outcome.stderr)")
    }

    /// Without an unknown option the missing argument is still what is reported; after `--` a word is a value.
    @Test(arguments: [
        (["balance", "data/train.h5"], "Missing expected argument '--output <output>'"),
        (["balance", "data/train.h5", "--seed", "3", "--layout=compact"], "Missing expected argument '--output <output>'"),
        (["balance", "data/train.h5", "--", "--ouput"], "Missing expected argument '--output <output>'"),
        (["submit", "data/train.h5", "--shards", "2"], "an ad-hoc job needs --output OUT.h5"),
    ])
    func aMissingArgumentIsReportedWhenEveryOptionIsKnown(arguments: [String], expected: String) async throws {
        let outcome = try await withTemporaryDirectory("missing-argument") { try await CommandRunner().run(arguments, in: $0) }
        #expect(outcome.status == 64)
        #expect(outcome.stderr.hasPrefix("Error: \(expected)"), "\(outcome.stderr)")
    }

    /// A correct line still runs, and `--help` still wins over a typo.
    @Test func aCorrectCommandLineStillRuns() async throws {
        let fixture = try await Self.sharedFixture.value
        let outcome = try await fixture.runner.run(["balance", "data/train.h5", "--output", "typo-free.h5", "--seed", "4", "--threads", "1"],
                                                   in: fixture.directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(FileManager.default.fileExists(atPath: fixture.path("typo-free.h5")))
        let help = try await fixture.runner.run(["balance", "--ouput", "b.h5", "--help"], in: fixture.directory)
        #expect(help.status == 0 && help.stdout.contains("USAGE: tailforge balance"), "\(help.stdout)\(help.stderr)")
    }
}
