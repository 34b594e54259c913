import Foundation
import Testing
import TailForgeCluster
import TailForgeStorage
import TailForgeTraining

#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C (SIGINT) and SIGTERM sent to a real `tailforge` process while its output's temporary file exists:
/// the file is removed and the process exits with 128 + signal (130, 143). Every commit is held back with
/// `AtomicHDF5Writer.testCommitDelayVariable`, so the signal always arrives mid-write, whatever the machine's speed.
@Suite(.serialized) struct InterruptTests {
    static let sharedFixture = Task { try await CLIFixture() }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var arguments: [String]
        var signal: Int32
        var testDescription: String { "\(name) + \(signal == SIGINT ? "SIGINT" : "SIGTERM")" }
    }

    static let cases: [Case] = [
        Case(name: "balance", arguments: ["balance", "data/train.h5", "-o", "out-balance/balanced.h5", "--threads", "1"], signal: SIGINT),
        Case(name: "balance", arguments: ["balance", "data/train.h5", "-o", "out-balance/balanced.h5", "--threads", "1"], signal: SIGTERM),
        Case(name: "synth", arguments: ["synth", "--out", "out-synth", "--dimension", "8", "--threads", "1"], signal: SIGTERM),
        Case(name: "train", arguments: ["train", "data/train.h5", "-o", "out-train/model.h5", "--max-iter", "2", "--threads", "1"], signal: SIGINT),
        Case(name: "train-l2-auto", arguments: ["train", "data/train.h5", "-o", "out-train-l2-auto/model.h5", "--l2", "auto", "--calibrate",
                                                "--max-iter", "2", "--threads", "1"], signal: SIGINT),
        Case(name: "train-vmf-mixture", arguments: ["train", "data/train.h5", "-o", "out-train-vmf-mixture/model.h5", "--classifier", "vmf-mixture",
                                                    "--mixture-max-modes", "1", "--mixture-prior-concentration", "1", "--folds", "2", "--threads", "1"],
             signal: SIGINT),
        Case(name: "predict", arguments: ["predict", "model.h5", "data/test.h5", "-o", "out-predict/predictions.h5"], signal: SIGTERM),
        Case(name: "predict", arguments: ["predict", "model.h5", "data/test.h5", "-o", "out-predict/predictions.h5"], signal: SIGINT),
    ]

    @Test(arguments: cases)
    func anInterruptMidWriteRemovesTheTemporaryFile(_ test: Case) async throws {
        let fixture = try await Self.sharedFixture.value
        // tailforge, like coreutils, leaves a signal alone that was ignored when it started (a background job
        // of a script ignores SIGINT), and children inherit ignored signals: when this test runner was started
        // in the background, its children must still see SIGINT and SIGTERM, as from a terminal.
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        let output = "out-" + test.name
        try? FileManager.default.removeItem(atPath: fixture.path(output))
        try FileManager.default.createDirectory(atPath: fixture.path(output), withIntermediateDirectories: true)
        let (process, out, err) = try fixture.runner.start(test.arguments, in: fixture.directory,
                                                           environment: [AtomicHDF5Writer.testCommitDelayVariable: "600000"])
        // The commit waits ten minutes; the temporary file appears as soon as the writer is created.
        guard try await Self.temporaryFileAppears(in: output, of: process, fixture) else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            let outcome = await fixture.runner.finish(process, out, err)
            Issue.record("no temporary file appeared in \(output): \(outcome.stderr)")
            return
        }
        kill(process.processIdentifier, test.signal)
        let outcome = await fixture.runner.finish(process, out, err)
        #expect(!outcome.killedBySignal, "the handler must exit, not die of the signal")
        #expect(outcome.status == 128 + test.signal)
        #expect(fixture.contents(output) == [], "left behind: \(fixture.contents(output))")
    }

    /// `synth` into a directory it creates: Ctrl-C before train.h5 is committed removes the directory too, so a
    /// stopped run leaves no empty directory behind.
    @Test func anInterruptedSynthRemovesTheDirectoryItCreated() async throws {
        let fixture = try await Self.sharedFixture.value
        signal(SIGINT, SIG_DFL)
        let parent = "out-synth-new"
        try? FileManager.default.removeItem(atPath: fixture.path(parent))
        try FileManager.default.createDirectory(atPath: fixture.path(parent), withIntermediateDirectories: true)
        let (process, out, err) = try fixture.runner.start(["synth", "--out", parent + "/data", "--dimension", "8", "--threads", "1"],
                                                           in: fixture.directory, environment: [AtomicHDF5Writer.testCommitDelayVariable: "600000"])
        guard try await Self.temporaryFileAppears(in: parent + "/data", of: process, fixture) else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            let outcome = await fixture.runner.finish(process, out, err)
            Issue.record("no temporary file appeared in \(parent)/data: \(outcome.stderr)")
            return
        }
        kill(process.processIdentifier, SIGINT)
        let outcome = await fixture.runner.finish(process, out, err)
        #expect(!outcome.killedBySignal && outcome.status == 130)
        #expect(fixture.contents(parent) == [], "left behind: \(fixture.contents(parent)) \(fixture.contents(parent + "/data"))")
    }

    /// `train --classifier vmf-mixture`: Ctrl-C as soon as the cross-validation reports its first fold (the model file
    /// does not exist yet) leaves nothing. Should the folds be over by the time the signal lands, the held-back commit
    /// keeps the file temporary, so the outcome is the same either way.
    @Test func anInterruptDuringTheMixtureCrossValidationLeavesNoModel() async throws {
        let fixture = try await Self.sharedFixture.value
        signal(SIGINT, SIG_DFL)
        let output = "out-mixture-cv"
        try? FileManager.default.removeItem(atPath: fixture.path(output))
        try FileManager.default.createDirectory(atPath: fixture.path(output), withIntermediateDirectories: true)
        let (process, out, err) = try fixture.runner.start(
            ["train", "data/train.h5", "-o", output + "/model.h5", "--classifier", "vmf-mixture", "--calibrate", "--threads", "1"],
            in: fixture.directory, environment: [AtomicHDF5Writer.testCommitDelayVariable: "600000"])
        let deadline = ContinuousClock.now + .seconds(120)
        var started = false
        while process.isRunning, ContinuousClock.now < deadline, !started {
            started = ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").contains("fold 1 of 5")
            if !started { try await Task.sleep(for: .milliseconds(5)) }
        }
        guard started else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            let outcome = await fixture.runner.finish(process, out, err)
            Issue.record("the cross-validation never reported a fold: \(outcome.stderr)")
            return
        }
        kill(process.processIdentifier, SIGINT)
        let outcome = await fixture.runner.finish(process, out, err)
        #expect(!outcome.killedBySignal && outcome.status == 130, "\(outcome.stderr)")
        #expect(fixture.contents(output) == [], "left behind: \(fixture.contents(output))")
    }

    /// Waits up to two minutes for `process`'s temporary output file in `directory`; false when none appeared.
    static func temporaryFileAppears(in directory: String, of process: Process, _ fixture: CLIFixture) async throws -> Bool {
        try await entryAppears(in: directory, of: process, fixture) { $0.hasPrefix(".") && $0.contains(".tmp-\(process.processIdentifier)-") }
    }

    /// Waits up to two minutes, while `process` runs, for an entry of `directory` that satisfies `wanted`.
    static func entryAppears(in directory: String, of process: Process, _ fixture: CLIFixture,
                             where wanted: (String) -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(120)
        while process.isRunning, ContinuousClock.now < deadline {
            if fixture.contents(directory).contains(where: wanted) { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// `replay --local` of a job that trains balances into a scratch directory beside its output, then trains:
    /// Ctrl-C while the balanced set is being written leaves neither the set nor the directory.
    @Test func anInterruptedReplayOfATrainingJobLeavesNoScratchDirectory() async throws {
        let fixture = try await Self.sharedFixture.value
        signal(SIGINT, SIG_DFL)
        let output = "out-replay"
        try? FileManager.default.removeItem(atPath: fixture.path(output))
        try FileManager.default.createDirectory(atPath: fixture.path(output), withIntermediateDirectories: true)
        // What a coordinator records for such a job (the rerun never gets as far as comparing the model's digest).
        let input = fixture.path("data/train.h5")
        let job = JobManifest(input: .init(path: input), output: fixture.path(output + "/model.h5"),
                              train: .init(settings: TrainingSettings(optimizer: LBFGSSettings(maxIterations: 2))))
        let digest = String(repeating: "0", count: 64)
        try ResolvedManifest(job: "job-1", toolVersion: ToolVersion.current, manifest: job, inputSHA256: try SHA256.hexDigest(ofFileAt: input),
                             outputSHA256: digest, shards: [.init(index: 0, classes: [0], rows: 1, estimatedCost: 1, sha256: digest, seconds: 0)],
                             stageSeconds: [:], totalSeconds: 0, submitted: Date()).write(to: fixture.path(output + "/model.manifest.json"))
        let (process, out, err) = try fixture.runner.start(["replay", output + "/model.manifest.json", "--local", "--threads", "1"],
                                                           in: fixture.directory, environment: [AtomicHDF5Writer.testCommitDelayVariable: "600000"])
        let scratch = output + "/model.replay.balanced-\(process.processIdentifier)"
        guard try await Self.temporaryFileAppears(in: scratch, of: process, fixture) else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            let outcome = await fixture.runner.finish(process, out, err)
            Issue.record("no temporary file appeared in \(scratch): \(outcome.stderr)")
            return
        }
        kill(process.processIdentifier, SIGINT)
        let outcome = await fixture.runner.finish(process, out, err)
        #expect(!outcome.killedBySignal && outcome.status == 130)
        #expect(fixture.contents(output) == ["model.manifest.json"], "left behind: \(fixture.contents(output))")
    }

    /// `ablate --json`: Ctrl-C while the first recipe's model is being written leaves no report at all (it is
    /// written whole after each recipe) and no temporary file in the work directory.
    @Test func anInterruptedAblationLeavesNoPartialReport() async throws {
        let fixture = try await Self.sharedFixture.value
        signal(SIGINT, SIG_DFL)
        let output = "out-ablate"
        try? FileManager.default.removeItem(atPath: fixture.path(output))
        try FileManager.default.createDirectory(atPath: fixture.path(output), withIntermediateDirectories: true)
        let (process, out, err) = try fixture.runner.start(
            ["ablate", "data/train.h5", "data/test.h5", "--recipes", "unweighted", "--json", output + "/ablation.json", "--max-iter", "2",
             "--threads", "1"], in: fixture.directory, environment: [AtomicHDF5Writer.testCommitDelayVariable: "600000"])
        let work = output + "/ablation.json.work"
        guard try await Self.temporaryFileAppears(in: work, of: process, fixture) else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            let outcome = await fixture.runner.finish(process, out, err)
            Issue.record("no temporary file appeared in \(work): \(outcome.stderr)")
            return
        }
        kill(process.processIdentifier, SIGINT)
        let outcome = await fixture.runner.finish(process, out, err)
        #expect(!outcome.killedBySignal && outcome.status == 130)
        #expect(fixture.contents(output) == ["ablation.json.work"], "left behind: \(fixture.contents(output))")
        #expect(fixture.contents(work).allSatisfy { !$0.hasPrefix(".") }, "left behind: \(fixture.contents(work))")
    }

    /// `ablate` without --json or --work-dir works in a temporary directory (TMPDIR/tailforge-ablate-PID):
    /// Ctrl-C removes it with everything in it — the recipes already fitted, the one being written — as the end
    /// of a run does.
    @Test func anInterruptedAblationRemovesItsTemporaryWorkDirectory() async throws {
        let fixture = try await Self.sharedFixture.value
        signal(SIGINT, SIG_DFL)
        let temporary = "out-ablate-tmpdir"
        try? FileManager.default.removeItem(atPath: fixture.path(temporary))
        try FileManager.default.createDirectory(atPath: fixture.path(temporary), withIntermediateDirectories: true)
        // The whole grid: once the first recipe's model is committed, eleven recipes are left to interrupt.
        let (process, out, err) = try fixture.runner.start(
            ["ablate", "data/train.h5", "data/test.h5", "--max-iter", "300", "--threads", "1"], in: fixture.directory,
            environment: ["TMPDIR": fixture.path(temporary) + "/"])
        let work = temporary + "/tailforge-ablate-\(process.processIdentifier)"
        guard try await Self.entryAppears(in: work, of: process, fixture, where: { $0 == "unweighted.model.h5" }) else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            let outcome = await fixture.runner.finish(process, out, err)
            Issue.record("no model appeared in \(work): \(outcome.stderr)")
            return
        }
        kill(process.processIdentifier, SIGINT)
        let outcome = await fixture.runner.finish(process, out, err)
        #expect(!outcome.killedBySignal && outcome.status == 130)
        #expect(fixture.contents(temporary) == [], "left behind: \(fixture.contents(temporary)) \(fixture.contents(work))")
    }
}
