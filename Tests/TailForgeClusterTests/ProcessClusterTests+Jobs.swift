import Foundation
import Synchronization
import Testing
import TailForgeEngine
import TailForgeStorage
@testable import TailForgeCluster

/// Submit-time checks and journal validation, against a real coordinator process (no workers needed: every
/// refusal must come before any shard is computed).
extension ClusterProcessTests.ProcessClusterTests {
    func refusal(_ client: ClusterClient, _ manifest: JobManifest) -> String? {
        do { _ = try client.submit(manifest); return nil } catch {
            guard case .rejected(let code, let message) = error, code == "invalid-manifest" else { return "unexpected: \(error)" }
            return message
        }
    }

    @Test func badOutputsAreRefusedAtSubmitBeforeAnyWork() async throws {
        let fixture = try await Self.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try await cluster.startCoordinator()
        let client = try ClusterClient(coordinator: cluster.endpoint)
        let scratch = (cluster.directory as NSString).appendingPathComponent("outputs")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        func manifest(_ output: String, overwrite: Bool? = nil) -> JobManifest {
            var manifest = fixture.manifest(output: "unused", shards: 2)
            manifest.output = output
            manifest.overwrite = overwrite
            return manifest
        }

        var noInput = manifest((scratch as NSString).appendingPathComponent("x.h5"))
        noInput.input.path = (scratch as NSString).appendingPathComponent("missing.h5")
        #expect(refusal(client, noInput)?.contains("the input \(noInput.input.path) does not exist on the coordinator") == true)
        let missing = (scratch as NSString).appendingPathComponent("nodir/out.h5")
        #expect(refusal(client, manifest(missing))?.contains("directory \(scratch)/nodir does not exist") == true)
        // The input under another spelling is the same inode.
        let dataDirectory = (fixture.input as NSString).deletingLastPathComponent
        let alias = (scratch as NSString).appendingPathComponent("data-link")
        try FileManager.default.createSymbolicLink(atPath: alias, withDestinationPath: dataDirectory)
        let sameInput = (alias as NSString).appendingPathComponent((fixture.input as NSString).lastPathComponent)
        #expect(refusal(client, manifest(sameInput))?.contains("would overwrite the input") == true)
        #expect(refusal(client, manifest(scratch))?.contains("it is a directory") == true)

        let existing = (scratch as NSString).appendingPathComponent("existing.h5")
        #expect(FileManager.default.createFile(atPath: existing, contents: Data("keep".utf8)))
        #expect(refusal(client, manifest(existing))?.contains("\(existing) exists; set `overwrite: true`") == true)
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep")

        // A live job owns its output and its resolved manifest: neither the same output nor another output
        // with the same resolved manifest (out.h5 / out.hdf5 → out.manifest.json) is accepted.
        let first = try client.submit(manifest((scratch as NSString).appendingPathComponent("out.h5")))
        let scratchLink = (cluster.directory as NSString).appendingPathComponent("outputs-link")
        try FileManager.default.createSymbolicLink(atPath: scratchLink, withDestinationPath: scratch)
        #expect(refusal(client, manifest((scratchLink as NSString).appendingPathComponent("out.h5"), overwrite: true))?
            .contains("job \(first) is already writing") == true)
        #expect(refusal(client, manifest((scratch as NSString).appendingPathComponent("out.hdf5")))?
            .contains("job \(first) writes") == true)
        // With overwrite, an existing output (not a live job's) is accepted.
        let replacing = try client.submit(manifest(existing, overwrite: true))
        #expect(replacing != first)
        let journaled = try fixture.journal(cluster).filter { $0.event == .submitted }.map(\.job)
        #expect(journaled == [first, replacing], "refused jobs must not be journaled")
    }

    @Test func aManifestWithATypoIsRefusedByTheCLIWithASuggestionAndNothingIsJournaled() async throws {
        let fixture = try await Self.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try await cluster.startCoordinator()
        let path = (cluster.directory as NSString).appendingPathComponent("typo.yaml")
        try "input:\n  path: \(fixture.input)\noutput: typo.h5\npolicy:\n  samplr: smote\n".write(toFile: path, atomically: true, encoding: .utf8)
        let run = try await Child.run(fixture.executable, ["submit", path, "--coordinator", cluster.endpoint])
        #expect(run.status != 0)
        #expect(run.stderr.contains("\(path), line 5: `policy.samplr` is not a manifest key. Did you mean `sampler`?"), "\(run.stderr)")
        #expect(run.stdout.isEmpty)
        #expect(try fixture.journal(cluster).isEmpty)
    }

    @Test func aBadJournaledManifestFailsItsJobOnResumeAndTheCoordinatorKeepsServing() async throws {
        let fixture = try await Self.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        // What an earlier release accepted: a timeout that overflows a Duration when the shard is checked.
        var manifest = fixture.manifest(output: "journaled.h5", shards: 2)
        manifest.sharding.shardTimeoutSeconds = 1e300
        try Journal(directory: cluster.stateDirectory).append(JournalEntry(event: .submitted, job: "job-old", manifest: manifest))
        // And a policy value this release cannot even parse back: the job fails, it does not vanish.
        var unparsable = fixture.manifest(output: "unparsable.h5", shards: 2)
        unparsable.policy.target = .medianMultiple(1e300)
        try Journal(directory: cluster.stateDirectory).append(JournalEntry(event: .submitted, job: "job-unparsable", manifest: unparsable))
        for _ in 0..<2 {
            try await cluster.startCoordinator()
            let status = try #require(try ClusterClient(coordinator: cluster.endpoint).status(job: "job-old").jobs.first)
            #expect(status.state == .failed)
            #expect(status.error?.contains("`sharding.shard_timeout_seconds` is 1e+300; it must be a number of seconds from 0.1 to 2592000") == true,
                    "\(status.error ?? "")")
            let other = try #require(try ClusterClient(coordinator: cluster.endpoint).status(job: "job-unparsable").jobs.first)
            #expect(other.state == .failed && other.error?.contains("`manifest.policy.target`: invalid --target 'median*1e+300'") == true, "\(other.error ?? "")")
            #expect(cluster.coordinator?.isRunning == true)
            cluster.stop()
        }
        #expect(try fixture.journal(cluster).map(\.event) == [.submitted, .submitted, .failed, .failed])
    }
}

// MARK: - Clients

extension ClusterProcessTests.ProcessClusterTests {
    @Test func submitWaitPrintsTheIdFirstRidesOutACoordinatorRestartAndStatusKeepsTheShardCounts() async throws {
        let fixture = try await Self.shared()
        let cluster = fixture.cluster(environment: Self.slowShards)
        defer { cluster.stop() }
        try await cluster.start(workers: 2)
        let endpoint = cluster.endpoint
        let output = (cluster.directory as NSString).appendingPathComponent("waited.h5")
        let submit = try Child(fixture.executable, ["submit", fixture.input, "--output", output, "--seed", "\(fixture.seed)", "--shards", "4",
                                                    "--coordinator", endpoint, "--wait", "--timeout", "60"])
        // The id is in the output file while the job still runs: it was flushed, not buffered until exit.
        let id = (await submit.firstOutput() ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.hasPrefix("job-") && submit.process.isRunning, "\(id)")
        // Once it follows the job (a progress line), the coordinator dies and comes back on the same endpoint.
        await submit.firstError()
        await cluster.crashCoordinator()
        try await cluster.startCoordinator(bind: endpoint)
        let run = await submit.finish()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("job \(id) committed: \(output) (4000 rows"), "\(run.stdout)")
        // Not a terminal: plain lines, no carriage-return redraws.
        #expect(!run.stderr.contains("\r") && run.stderr.contains("\ncommitted        [##############################] 100.0% 4/4 shards"), "\(run.stderr)")
        #expect(try SHA256.hexDigest(ofFileAt: output) == fixture.referenceSHA256)

        // After another restart the finished job still shows its shards and a duration, and filters apply.
        await cluster.crashCoordinator()
        try await cluster.startCoordinator(bind: endpoint)
        let committed = try await Child.run(fixture.executable, ["status", "--coordinator", endpoint, "--state", "committed", "--json"])
        #expect(committed.status == 0, "\(committed.stderr)")
        let reply = try JSONDecoder().decode(StatusReply.self, from: Data(committed.stdout.utf8))
        let status = try #require(reply.jobs.first { $0.job == id })
        #expect(status.state == .committed && status.shardsDone == 4 && status.shardCount == 4 && status.rowsWritten == 4000)
        let running = try await Child.run(fixture.executable, ["status", "--coordinator", endpoint, "--state", "running,queued"])
        #expect(running.stdout.hasPrefix("no jobs in state running,queued"), "\(running.stdout)")
        let table = try await Child.run(fixture.executable, ["status", "--coordinator", endpoint])
        #expect(table.stdout.contains("\(id)  committed  took "), "\(table.stdout)")
        let waitAgain = try await Child.run(fixture.executable, ["wait", id, "--coordinator", endpoint, "--json"])
        #expect(waitAgain.status == 0 && (try? JSONDecoder().decode(JobStatus.self, from: Data(waitAgain.stdout.utf8)))?.state == .committed)
        // Cancelling a finished or unknown job fails like `wait` does, on stderr (it printed the refusal on stdout).
        for (job, reason) in [(id, "job \(id) is already committed"), ("job-nope", "no job job-nope; `tailforge status` lists jobs")] {
            let cancel = try await Child.run(fixture.executable, ["cancel", job, "--coordinator", endpoint])
            #expect(cancel.status == 1 && cancel.stdout.isEmpty, "\(cancel.stdout)")
            #expect(cancel.stderr == "Error: the coordinator refused the request (not-cancelled): \(reason)\n", "\(cancel.stderr)")
        }
    }

    @Test func ctrlCOnAWaitSaysTheJobKeepsRunningAndHowToFollowOrCancelIt() async throws {
        let fixture = try await Self.shared()
        let cluster = fixture.cluster(environment: Self.slowShards)
        defer { cluster.stop() }
        try await cluster.start(workers: 1)
        let client = try ClusterClient(coordinator: cluster.endpoint)
        let submitted = try await Child.run(fixture.executable, ["submit", fixture.input, "--output", (cluster.directory as NSString).appendingPathComponent("interrupted.h5"),
                                                                "--shards", "4", "--coordinator", cluster.endpoint, "--json"])
        let accepted = try #require(try JSONSerialization.jsonObject(with: Data(submitted.stdout.utf8)) as? [String: String], "\(submitted)")
        let job = try #require(accepted["job"])
        #expect(accepted["coordinator"] == cluster.endpoint)
        let wait = try Child(fixture.executable, ["wait", job, "--coordinator", cluster.endpoint])
        // The first progress line shows the wait is attached before it is interrupted.
        await wait.firstError()
        LocalCluster.signal(wait.process, SIGINT)
        let run = await wait.finish()
        #expect(run.status == 130)
        #expect(run.stderr.contains("interrupted: job \(job) keeps running on the coordinator."), "\(run.stderr)")
        #expect(run.stderr.contains("tailforge wait \(job) --coordinator \(cluster.endpoint)"))
        #expect(run.stderr.contains("tailforge cancel \(job) --coordinator \(cluster.endpoint)"))
        #expect(try client.status(job: job).jobs.first?.state.isTerminal == false)
        _ = try client.cancel(job: job)
    }
}

extension ClusterProcessTests.ProcessClusterTests {
    @Test func aWaitGivesUpAfterItsTimeoutOfSilenceAndSaysHowToReattach() async throws {
        let fixture = try await Self.shared()
        // Nothing listens on this port: every attempt is silent, and the wait reconnects until its timeout.
        let nobody = "tcp://127.0.0.1:9"
        var attempts = 0
        #expect(throws: ClusterClientError.self) {
            _ = try ClusterClient.follow(job: "job-x", coordinator: nobody, timeoutSeconds: 1, silenceSeconds: 0.2,
                                         update: { _ in }, reconnecting: { _ in attempts += 1 })
        }
        #expect(attempts >= 2)
        let run = try await Child.run(fixture.executable, ["wait", "job-x", "--coordinator", nobody, "--timeout", "1"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("no reply from the coordinator at \(nobody)") && run.stderr.contains("`tailforge wait job-x --coordinator \(nobody)` re-attaches"), "\(run.stderr)")
    }
}

extension ClusterProcessTests.ProcessClusterTests {
    @Test func submitWaitOnAFailingJobExitsNonZeroWithTheReason() async throws {
        let fixture = try await Self.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try await cluster.startCoordinator()
        let notHDF5 = (cluster.directory as NSString).appendingPathComponent("not-hdf5.h5")
        try "plain text".write(toFile: notHDF5, atomically: true, encoding: .utf8)
        let run = try await Child.run(fixture.executable, ["submit", notHDF5, "--output", notHDF5 + ".out.h5", "--coordinator", cluster.endpoint, "--wait"])
        #expect(run.status == 1)
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("job-") && lines[1].hasPrefix("job \(lines[0]) failed after "), "\(run.stdout)")
        #expect(run.stdout.contains(notHDF5), "the reason names the input: \(run.stdout)")
    }

    @Test func statusShowsTheRecentFinishedJobsUnlessAskedForAll() async throws {
        let fixture = try await Self.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        let journal = try Journal(directory: cluster.stateDirectory)
        for index in 0..<12 {
            try journal.append(JournalEntry(event: .submitted, job: "job-\(index)", manifest: fixture.manifest(output: "old-\(index).h5", shards: 1)))
            try journal.append(JournalEntry(event: .cancelled, job: "job-\(index)"))
        }
        try await cluster.startCoordinator()
        let recent = try await Child.run(fixture.executable, ["status", "--coordinator", cluster.endpoint])
        #expect(recent.stdout.hasPrefix("… 2 older finished job(s); --all lists them\n"), "\(recent.stdout)")
        #expect(!recent.stdout.contains("job-1  ") && recent.stdout.contains("job-2  ") && recent.stdout.contains("job-11  old-11.h5  cancelled  took "))
        let all = try await Child.run(fixture.executable, ["status", "--coordinator", cluster.endpoint, "--all", "--json"])
        #expect(try JSONDecoder().decode(StatusReply.self, from: Data(all.stdout.utf8)).jobs.count == 12)
    }
}

// MARK: - Progress

extension ClusterProcessTests.ProcessClusterTests {
    @Test func progressOffATerminalIsPlainLinesAStagePerLineAndATenthAtATime() async throws {
        let fixture = try await Self.shared()
        let output = (fixture.directory as NSString).appendingPathComponent("progress-\(UUID().uuidString).h5")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let run = try await Child.run(fixture.executable, ["balance", fixture.input, "--output", output, "--seed", "\(fixture.seed)", "--threads", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("\r") && !run.stderr.contains("\u{1B}"))
        let synthesis = run.stderr.split(separator: "\n").filter { $0.hasPrefix("synthesize+write") }
        // One line when the stage starts, then at most one per tenth (the bar is 4000 rows drawn class by class).
        #expect((2...11).contains(synthesis.count), "\(synthesis)")
        #expect(synthesis.last?.contains("100.0% 4000/4000") == true)
    }

    /// Off a terminal `wait` prints a line as a shard commits, when the worker that computed it may be between
    /// shards: the count is of the workers taking part in the job (JobWorkerCountTests), and it says what it counts.
    @Test func waitLinesOfAStageUnderWayCountTheJobsWorkerInWords() async throws {
        let fixture = try await Self.shared()
        let cluster = fixture.cluster(environment: Self.slowShards)
        defer { cluster.stop() }
        try await cluster.start(workers: 1)
        let output = (cluster.directory as NSString).appendingPathComponent("counted.h5")
        let run = try await Child.run(fixture.executable, ["submit", fixture.input, "--output", output, "--seed", "\(fixture.seed)", "--shards", "4",
                                                           "--coordinator", cluster.endpoint, "--wait"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n")
        // Shards of 0.5 s each on one worker: a stage lasts two seconds, and progress comes once a second.
        let underWay = lines.filter { line in
            guard let match = line.firstMatch(of: #/^(concentrations|synthesis) .* (\d+)/(\d+) shards /#),
                  let done = Int(match.2), let total = Int(match.3) else { return false }
            return 0 < done && done < total
        }
        #expect(!underWay.isEmpty && underWay.allSatisfy { $0.contains(" · 1 worker · ") }, "\(run.stderr)")
        #expect(!run.stderr.contains("worker(s)") && lines.last { $0.hasPrefix("committed ") }?.contains(" · 0 workers · ") == true, "\(run.stderr)")
    }
}

// MARK: - Replay

extension ClusterProcessTests.ProcessClusterTests {
    /// A sealed resolved manifest for the fixture's single-node reference output (a replay of it is a local
    /// `balance` with seed 11 over the fixture's input).
    func resolvedManifest(_ fixture: Fixture, _ directory: String, edit: (inout ResolvedManifest) -> Void = { _ in }) throws -> String {
        var resolved = ResolvedManifest(
            job: "job-test", toolVersion: ToolVersion.current,
            manifest: JobManifest(input: .init(path: fixture.input), output: (directory as NSString).appendingPathComponent("out.h5"),
                                  policy: BalanceSettings(seed: fixture.seed)),
            inputSHA256: try SHA256.hexDigest(ofFileAt: fixture.input), outputSHA256: fixture.referenceSHA256, fallbackKappa: nil,
            shards: [.init(index: 0, classes: Array(0..<20), rows: 4000, estimatedCost: 1, sha256: String(repeating: "a", count: 64), seconds: 1, bytes: 10)],
            stageSeconds: [:], totalSeconds: 1, submitted: Date(), manifestSHA256: nil)
        edit(&resolved)
        let path = (directory as NSString).appendingPathComponent("out.manifest.json")
        try resolved.write(to: path)
        return path
    }

    func replayFailure(_ path: String) -> String? {
        do { _ = try Replay.run(manifestPath: path, mode: .local(threads: 1)); return nil } catch { return "\(error)" }
    }

    func replayFiles(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".replay.") }
    }

    @Test func replayRefusesEditedOrOutOfRangeManifestsBeforeAnyWork() async throws {
        let fixture = try await Self.shared()
        let directory = (fixture.directory as NSString).appendingPathComponent("replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = try resolvedManifest(fixture, directory)
        #expect(try Replay.check(manifestPath: path).job == "job-test")

        let text = try String(contentsOfFile: path, encoding: .utf8)
        for (from, to) in [("\"toolVersion\" : \"\(ToolVersion.current)\"", "\"toolVersion\" : \"0.0.1\""), ("19\n", "20\n"), ("\"rows\" : 4000", "\"rows\" : 4001")] {
            #expect(text.contains(from), "\(from)")
            try text.replacingOccurrences(of: from, with: to).write(toFile: path, atomically: true, encoding: .utf8)
            #expect(replayFailure(path)?.contains("was changed after the coordinator wrote it") == true, "edit \(from)")
        }
        _ = try resolvedManifest(fixture, directory) { $0.toolVersion = "0.0.1" }
        #expect(replayFailure(path)?.contains("was written by TailForge 0.0.1 and this is TailForge \(ToolVersion.current)") == true)
        // A target out of range does not even parse back: the error names the key, not a DecodingError.
        try text.replacingOccurrences(of: "\"target\" : \"max\"", with: "\"target\" : \"median*1e+300\"").write(toFile: path, atomically: true, encoding: .utf8)
        let target = replayFailure(path) ?? ""
        #expect(target.contains("\(path): `manifest.policy.target`: invalid --target 'median*1e+300'") && !target.contains("DecodingError"), "\(target)")
        _ = try resolvedManifest(fixture, directory) { $0.manifest.sharding.shardTimeoutSeconds = 1e300 }
        #expect(replayFailure(path)?.contains("`sharding.shard_timeout_seconds` is 1e+300") == true)
        _ = try resolvedManifest(fixture, directory) { $0.shards.append(.init(index: 1, classes: [3], rows: 1, estimatedCost: 1, sha256: String(repeating: "b", count: 64), seconds: 1)) }
        #expect(replayFailure(path)?.contains("class 3 appears in more than one shard") == true)
        try text.replacingOccurrences(of: "\"manifestSHA256\"", with: "\"unsealed\"").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(replayFailure(path)?.contains("has no `manifestSHA256`") == true)
        #expect(try replayFiles(directory).isEmpty)
    }

    @Test func replayChecksTheInputDigestBeforeRecomputingAndDeletesAFailedOrDifferingOutput() async throws {
        let fixture = try await Self.shared()
        let directory = (fixture.directory as NSString).appendingPathComponent("replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // A changed input: refused after hashing, with no stage of the balance run started.
        let changed = (directory as NSString).appendingPathComponent("changed.h5")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: fixture.input))
        bytes[bytes.count - 1] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: changed))
        let path = try resolvedManifest(fixture, directory) { $0.manifest.input.path = changed }
        let stages = Mutex<[String]>([])
        #expect(throws: Replay.Failure.self) {
            try Replay.run(manifestPath: path, mode: .local(threads: 1)) { progress in
                if case .stage(let stage, _, _) = progress { stages.withLock { $0.append(stage.rawValue) } }
            }
        }
        #expect(replayFailure(path)?.contains("nothing was recomputed") == true)
        #expect(stages.withLock { $0.isEmpty })
        #expect(try replayFiles(directory).isEmpty)

        // A run whose bytes differ from the record: reported, and the output is deleted unless kept.
        let differing = try resolvedManifest(fixture, directory) { $0.outputSHA256 = String(repeating: "0", count: 64) }
        let report = try Replay.run(manifestPath: differing, mode: .local(threads: 2))
        #expect(!report.matches && !report.outputKept && report.actualSHA256 == fixture.referenceSHA256)
        #expect(try replayFiles(directory).isEmpty)
        // The replay output may not be the recorded output.
        #expect(throws: Replay.Failure.self) { try Replay.run(manifestPath: differing, output: (directory as NSString).appendingPathComponent("out.h5"), mode: .local(threads: 1)) }
    }

    @Test func replayVerifiesTheContentDigestsBesideTheFileDigest() async throws {
        let fixture = try await Self.shared()
        let directory = (fixture.directory as NSString).appendingPathComponent("replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let recorded = try BalancedContentDigest.compute(ofFileAt: (fixture.directory as NSString).appendingPathComponent("single.h5"))
        let path = try resolvedManifest(fixture, directory) { $0.outputContentSHA256 = recorded }
        let report = try Replay.run(manifestPath: path, mode: .local(threads: 2))
        #expect(report.matches && report.outputKept && report.actualContentSHA256 == recorded)

        // Same file digest, one dataset's content recorded differently: the replay names it and fails.
        var edited = recorded
        edited["kappa"] = String(repeating: "0", count: 64)
        let differing = try resolvedManifest(fixture, directory) { $0.outputContentSHA256 = edited }
        let mismatch = try Replay.run(manifestPath: differing, mode: .local(threads: 2))
        #expect(mismatch.fileMatches && !mismatch.contentMatches && !mismatch.matches && !mismatch.outputKept)
        #expect(mismatch.differingDatasets == ["kappa"])

        // A malformed record is refused before any work.
        var malformed = recorded
        malformed["labels"] = nil
        _ = try resolvedManifest(fixture, directory) { $0.outputContentSHA256 = malformed }
        #expect(replayFailure(path)?.contains("`outputContentSHA256` has no digest for dataset `labels`") == true)
    }
}
