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

    /// A negative number given as an option's value reaches the option's own check, which says what the option takes;
    /// ArgumentParser alone reads `-3` as an option and reports "Missing value for '--seed <seed>'". Nothing is written.
    @Test(arguments: [
        (["balance", "data/train.h5", "-o", "b.h5", "--seed", "-3"], "The value '-3' is invalid for '--seed <seed>'"),
        (["balance", "data/train.h5", "-o", "b.h5", "--drift-guard", "--drift-retries", "-1"],
         "invalid --drift-retries '-1': expected an integer from 0 to 1000"),
        (["train", "data/train.h5", "-o", "m.h5", "--l2", "-1e-4"], "--l2 must be a number from 0 to 1e6"),
        (["train", "data/train.h5", "-o", "m.h5", "--max-iter", "-.5"], "The value '-.5' is invalid for '--max-iter <max-iter>'"),
        (["balance", "data/train.h5", "-o", "b.h5", "--seed", "-3", "--threads", "-2"], "The value '-3' is invalid for '--seed <seed>'"),
        (["balance", "data/train.h5", "-o", "b.h5", "--seed", "-x"], "Missing value for '--seed <seed>'"),
    ])
    func aNegativeValueIsCheckedByItsOption(arguments: [String], expected: String) async throws {
        let outcome = try await withTemporaryDirectory("negative-value") { directory in
            let outcome = try await CommandRunner().run(arguments, in: directory)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
            return outcome
        }
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

extension CommandLineTests {
    /// An option found only after `validate()` failed (`replay` wants `--local` or `--coordinator`, `submit` a source)
    /// is reported with its subcommand's usage, the same lines ArgumentParser prints for that subcommand's own errors;
    /// it printed the root's "Usage: tailforge <subcommand>" and "See 'tailforge --help'".
    @Test(arguments: [
        (["replay", "out.manifest.json", "--lcoal"], "Unknown option '--lcoal'. Did you mean '--local'?"),
        (["replay", "--json"], "Unknown option '--json'"),
        (["submit", "--wiat"], "Unknown option '--wiat'. Did you mean '--wait'?"),
    ])
    func anOptionFoundAfterValidationIsReportedWithItsSubcommandsUsage(arguments: [String], expected: String) async throws {
        let runner = try CommandRunner()
        let (outcome, own) = try await withTemporaryDirectory("undeclared-option") { directory in
            // ArgumentParser's own usage error for the same subcommand (a required argument left out) beside it.
            (try await runner.run(arguments, in: directory), try await runner.run([arguments[0]], in: directory))
        }
        #expect(outcome.status == 64)
        #expect(outcome.stderr.hasPrefix("Error: \(expected)\n"), "\(outcome.stderr)")
        let usage = { (text: String) in text.split(separator: "\n").drop { !$0.hasPrefix("Usage: ") }.joined(separator: "\n") }
        #expect(own.status == 64 && usage(own.stderr).hasPrefix("Usage: tailforge \(arguments[0]) "), "\(own.stderr)")
        #expect(usage(outcome.stderr) == usage(own.stderr), "\(outcome.stderr)")
    }
}

extension CommandLineTests {
    /// A misspelt subcommand is named as one, with the nearest subcommand; ArgumentParser alone took it for an argument
    /// of the root command and reported "Unknown option '--output'" or "3 unexpected arguments: 'evalute', …".
    @Test(arguments: [
        (["balnce", "data/train.h5", "--output", "b.h5"], "Unknown subcommand 'balnce'. Did you mean 'balance'?"),
        (["evalute", "model.h5", "data/test.h5"], "Unknown subcommand 'evalute'. Did you mean 'evaluate'?"),
        (["Train", "data/train.h5", "-o", "m.h5"], "Unknown subcommand 'Train'. Did you mean 'train'?"),
        (["frobnicate"], "Unknown subcommand 'frobnicate'; the subcommands are synth, balance, materialize, train, evaluate, predict, ablate, submit, wait, status, cancel, coordinator, worker, replay, demo, keygen."),
    ])
    func aMisspeltSubcommandIsNamedWithTheNearestOne(arguments: [String], expected: String) async throws {
        let outcome = try await withTemporaryDirectory("unknown-subcommand") { try await CommandRunner().run(arguments, in: $0) }
        #expect(outcome.status == 64)
        #expect(outcome.stderr.hasPrefix("Error: \(expected)\nUsage: tailforge <subcommand>\n"), "\(outcome.stderr)")
    }
}
