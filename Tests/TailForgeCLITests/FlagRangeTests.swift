import Foundation
import TailForgeTestSupport
import Testing

/// Every numeric flag of every command, driven with 0, a negative number, NaN, 1e300 and a word: a refused
/// value ends with a non-zero exit and a message naming the flag, never with a signal (a trap such as
/// `--target median*1e300` used to die of SIGILL). Values a flag accepts (`--tol 0`) must get past validation:
/// the inputs do not exist, so such a run ends with the missing-file message instead.
@Suite struct FlagRangeTests {
    static let values = ["0", "-1", "nan", "1e300", "word"]

    struct Flag: CustomTestStringConvertible, Sendable {
        /// The command line without the flag; its input does not exist.
        var command: [String]
        var flag: String
        /// What the flag is tried with (`%` is replaced by each value).
        var form: String = "%"
        /// Values of `values` the flag accepts.
        var accepted: Set<String> = []
        var testDescription: String { "\(command[0]) --\(flag)" }
    }

    static let balance = ["balance", "missing.h5", "-o", "out.h5"]
    static let train = ["train", "missing.h5", "-o", "model.h5"]
    static let ablate = ["ablate", "missing.h5", "missing-test.h5"]
    static let flags: [Flag] = [
        Flag(command: balance, flag: "target"),
        Flag(command: balance, flag: "target", form: "median*%"),
        Flag(command: balance, flag: "kappa", form: "fixed:%"),
        Flag(command: balance, flag: "kappa-min"),
        Flag(command: balance, flag: "kappa-max"),
        Flag(command: balance, flag: "smote-k"),
        Flag(command: balance, flag: "seed", accepted: ["0"]),
        Flag(command: balance, flag: "threads"),
        Flag(command: balance, flag: "classes"),
        Flag(command: balance, flag: "drift-threshold"),
        Flag(command: balance, flag: "drift-retries", accepted: ["0"]),
        Flag(command: ablate, flag: "l2", accepted: ["0"]),
        Flag(command: ablate, flag: "l2-grid", accepted: ["0"]),
        Flag(command: ablate, flag: "max-iter", accepted: ["0"]),
        Flag(command: ablate, flag: "calibration-holdout"),
        Flag(command: ablate, flag: "threads"),
        Flag(command: ablate, flag: "seed", accepted: ["0"]),
        Flag(command: ablate, flag: "calibration-seed", accepted: ["0"]),
        Flag(command: ablate, flag: "em-iterations"),
        Flag(command: ["synth", "--out", "/dev/null/impossible"], flag: "dimension"),
        Flag(command: ["synth", "--out", "/dev/null/impossible"], flag: "threads"),
        Flag(command: ["synth", "--out", "/dev/null/impossible"], flag: "seed", accepted: ["0"]),
        Flag(command: train, flag: "l2", accepted: ["0"]),
        Flag(command: train + ["--l2", "auto"], flag: "l2-grid", accepted: ["0"]),
        Flag(command: train, flag: "max-iter", accepted: ["0"]),
        Flag(command: train, flag: "tol", accepted: ["0"]),
        Flag(command: train, flag: "loss-tol", accepted: ["0"]),
        Flag(command: train, flag: "threads"),
        Flag(command: train, flag: "checkpoint-every"),
        Flag(command: train, flag: "cluster-timeout"),
        Flag(command: train + ["--classifier", "vmf-mixture"], flag: "folds"),
        Flag(command: train + ["--classifier", "vmf-mixture"], flag: "mixture-max-modes"),
        Flag(command: train + ["--classifier", "vmf-mixture"], flag: "mixture-prior-concentration"),
        Flag(command: train + ["--classifier", "vmf-mixture"], flag: "threads"),
        Flag(command: train + ["--classifier", "vmf-mixture"], flag: "calibration-seed", accepted: ["0"]),
        Flag(command: ["predict", "missing-model.h5", "missing.h5", "-o", "p.h5"], flag: "top-k"),
        Flag(command: ["submit", "missing.h5", "--output", "out.h5", "--coordinator", "tcp://127.0.0.1:1"], flag: "shards"),
        Flag(command: ["submit", "missing.h5", "--output", "out.h5", "--coordinator", "tcp://127.0.0.1:1"], flag: "classes"),
        Flag(command: ["replay", "missing.manifest.json", "--local"], flag: "threads"),
        Flag(command: ["coordinator", "--state-dir", "/dev/null/impossible"], flag: "heartbeat-ms"),
        Flag(command: ["coordinator", "--state-dir", "/dev/null/impossible"], flag: "liveness-ms"),
        Flag(command: ["replay", "missing.manifest.json", "--coordinator", "tcp://127.0.0.1:1"], flag: "timeout"),
        Flag(command: ["coordinator", "--state-dir", "/dev/null/impossible"], flag: "max-attempts"),
        Flag(command: ["coordinator", "--state-dir", "/dev/null/impossible"], flag: "quarantine-after"),
        Flag(command: ["coordinator", "--state-dir", "/dev/null/impossible"], flag: "max-message-bytes"),
        Flag(command: ["coordinator", "--state-dir", "/dev/null/impossible"], flag: "max-workers"),
        Flag(command: ["coordinator", "--state-dir", "/dev/null/impossible"], flag: "max-jobs-per-client"),
        Flag(command: ["worker", "--connect", "tcp://127.0.0.1:1", "--work-dir", "/dev/null/impossible"], flag: "max-message-bytes"),
        Flag(command: ["worker", "--connect", "tcp://127.0.0.1:1", "--work-dir", "/dev/null/impossible"], flag: "threads"),
        Flag(command: ["worker", "--connect", "tcp://127.0.0.1:1", "--work-dir", "/dev/null/impossible"], flag: "cache-max-bytes", accepted: ["0"]),
        Flag(command: ["demo", "--out", "/dev/null/impossible"], flag: "workers"),
        Flag(command: ["demo", "--out", "/dev/null/impossible"], flag: "dimension"),
        Flag(command: ["demo", "--out", "/dev/null/impossible"], flag: "seed", accepted: ["0"]),
    ]

    @Test(arguments: flags)
    func everyValueEndsInAMessageNeverASignal(_ flag: Flag) async throws {
        let runner = try CommandRunner()
        try await withTemporaryDirectory("flag-range") { directory in
            for value in Self.values {
                // `--flag=-1`, so the value reaches the flag instead of being read as an option name.
                let argument = "--\(flag.flag)=" + flag.form.replacingOccurrences(of: "%", with: value)
                let outcome = try await runner.run(flag.command + [argument], in: directory)
                let context = "\(flag.command.joined(separator: " ")) \(argument): status \(outcome.status), stderr: \(outcome.stderr)"
                #expect(!outcome.killedBySignal, "\(context)")
                #expect(outcome.status != 0, "\(context)")
                #expect(!outcome.stderr.isEmpty, "\(context)")
                if flag.accepted.contains(value) {
                    #expect(!outcome.stderr.contains("--\(flag.flag)"), "\(context)")
                } else {
                    #expect(outcome.stderr.contains(flag.flag), "\(context)")
                }
            }
        }
    }

    /// A flag open at the top says "N or more" (it printed `from 0 to 9223372036854775807`), and a misspelt
    /// `--class-weight` names the word it misspells, like every other word-valued flag.
    @Test func openRangesAndWordFlagsReadAsAUserWouldWriteThem() async throws {
        let runner = try CommandRunner()
        try await withTemporaryDirectory("flag-range") { directory in
            let negative = try await runner.run(Self.train + ["--max-iter=-3"], in: directory)
            #expect(negative.status != 0 && negative.stderr.contains("--max-iter must be 0 or more, got -3"), "\(negative.stderr)")
            #expect(!negative.stderr.contains("\(Int.max)"), "\(negative.stderr)")
            let typo = try await runner.run(Self.train + ["--class-weight", "balancd"], in: directory)
            #expect(typo.status != 0 && typo.stderr.contains("got 'balancd' (did you mean `balanced`?)"), "\(typo.stderr)")
        }
    }

    /// `--insecure` with keys is refused on every client and the worker, before anything connects.
    @Test func insecureWithKeysIsRefused() async throws {
        let runner = try CommandRunner()
        try await withTemporaryDirectory("insecure") { directory in
            #expect(try await runner.run(["keygen", "--out", "keys", "--name", "c"], in: directory).status == 0)
            let keys = ["--insecure", "--key", "keys/c.key", "--coordinator-key", "keys/c.pub"]
            for command in [["status", "--coordinator", "tcp://127.0.0.1:1"], ["worker", "--connect", "tcp://127.0.0.1:1", "--work-dir", "w"]] {
                let outcome = try await runner.run(command + keys, in: directory)
                #expect(outcome.status != 0 && outcome.stderr.contains("--insecure cannot be combined with --key"), "\(command): \(outcome.stderr)")
            }
        }
    }
}
