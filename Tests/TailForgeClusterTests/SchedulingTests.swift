import Foundation
import Logging
import TailForgeTestSupport
import Testing
@testable import TailForgeCluster

/// The coordinator's state machines on their own: no sockets, no threads, no clock but the instants passed in.
@Suite struct ShardBoardTests {
    let a: [UInt8] = Array("a".utf8)
    let b: [UInt8] = Array("b".utf8)
    let t0 = ContinuousClock.now

    func board(maxAttempts: Int = 3) -> ShardBoard {
        ShardBoard(job: "j", stage: .synthesis, classes: [[0, 3], [1, 4], [2, 5]], maxAttempts: maxAttempts)
    }

    @Test func aBusyWorkerIsNotAnAttempt() {
        var board = board(maxAttempts: 1)
        for _ in 0..<5 {
            let reference = board.assign(0, to: a, at: t0)
            let other = ShardReference(job: "j", shard: 2, stage: .synthesis, attempt: 0)
            let outcome = board.failed(reference, worker: a, name: "a", reason: .busy(with: other))
            #expect(outcome == .requeued)
        }
        #expect(board.slots[0].countedFailures.isEmpty && board.slots[0].isPending)
    }

    @Test func aTimeoutCountsRequeuesAndMakesTheLateResultStale() {
        var board = board()
        let reference = board.assign(1, to: a, at: t0)
        #expect(board.expired(at: t0 + .seconds(5), window: { _ in .seconds(10) }).isEmpty)
        let expired = board.expired(at: t0 + .seconds(11), window: { _ in .seconds(10) })
        #expect(expired == [.init(reference: reference, worker: a)])
        let timedOut = board.failed(reference, worker: a, name: "a", reason: .timedOut(seconds: 10))
        #expect(timedOut == .requeued)
        #expect(board.slots[1].countedFailures.count == 1)
        // The worker finishes the abandoned attempt later: not current, so it is discarded, not committed.
        #expect(!board.isCurrent(reference, worker: a))
        let retry = board.assign(1, to: b, at: t0 + .seconds(12))
        #expect(retry.attempt == reference.attempt + 1)
        let late = board.failed(reference, worker: a, name: "a", reason: .executionFailed("late"))
        #expect(late == .stale)
    }

    @Test func progressRestartsTheTimeout() {
        var board = board()
        let reference = board.assign(0, to: a, at: t0)
        board.progress(reference, worker: a, at: t0 + .seconds(9))
        #expect(board.expired(at: t0 + .seconds(15), window: { _ in .seconds(10) }).isEmpty)
        #expect(board.expired(at: t0 + .seconds(20), window: { _ in .seconds(10) }).count == 1)
    }

    @Test func aPoisonShardThatKillsEveryWorkerEndsNamingItsClasses() {
        var board = board(maxAttempts: 2)
        _ = board.assign(1, to: a, at: t0)
        let first = board.workerGone(a, name: "node-a", reason: .workerLost).map(\.outcome)
        #expect(first == [.requeued])
        _ = board.assign(1, to: b, at: t0)
        let outcomes = board.workerGone(b, name: "node-b", reason: .workerLost)
        guard case .exhausted(let summary) = outcomes.first?.outcome else {
            Issue.record("expected the shard to be out of attempts, got \(outcomes)")
            return
        }
        #expect(summary.contains("shard 1 (classes 1, 4) failed 2 times"))
        #expect(summary.contains("attempt 1 on node-a: the worker was lost") && summary.contains("attempt 2 on node-b"))
    }

    @Test func aGracefulShutdownHandsBackWithoutUsingAnAttempt() {
        var board = board(maxAttempts: 1)
        _ = board.assign(0, to: a, at: t0)
        let returned = board.workerGone(a, name: "a", reason: .returned).map(\.outcome)
        #expect(returned == [.requeued])
        #expect(board.slots[0].countedFailures.isEmpty)
    }

    @Test func aStoredShardNoLongerDependsOnItsWorker() {
        var board = board()
        let reference = board.assign(0, to: a, at: t0)
        board.fetching(reference, worker: a)
        board.storing(reference, worker: a)
        let gone = board.workerGone(a, name: "a", reason: .workerLost)
        #expect(gone.isEmpty)
        #expect(board.isStoring(reference))
    }

    @Test func adoptionAfterACoordinatorRestartAwaitsTheRunningAttempt() {
        var board = board()
        let running = ShardReference(job: "j", shard: 2, stage: .synthesis, attempt: 4)
        let adopted = board.adopt(running, worker: a, at: t0)
        #expect(adopted)
        #expect(board.isCurrent(running, worker: a))
        let otherStage = board.adopt(ShardReference(job: "j", shard: 2, stage: .concentrations, attempt: 0), worker: b, at: t0)
        #expect(!otherStage)
    }

    func worker(_ name: String) -> WorkerRegistry.Worker {
        WorkerRegistry.Worker(identity: Array(name.utf8), name: name, host: "h", processId: 1, threads: 1)
    }

    @Test func aRetryGoesToAnotherWorkerWherePossible() {
        var board = board()
        let reference = board.assign(0, to: a, at: t0)
        _ = board.failed(reference, worker: a, name: "a", reason: .executionFailed("disk full"))
        // Both idle: the one it did not fail on.
        #expect(board.pick(for: 0, from: [worker("a"), worker("b")], healthy: ["a", "b"])?.name == "b")
        // Only the failing one idle while "b" is busy: wait for "b".
        #expect(board.pick(for: 0, from: [worker("a")], healthy: ["a", "b"]) == nil)
        // It is the only worker: retry there.
        #expect(board.pick(for: 0, from: [worker("a")], healthy: ["a"])?.name == "a")
    }
}

@Suite struct WorkerRegistryTests {
    let a: [UInt8] = Array("conn-a".utf8)
    let reference = ShardReference(job: "j", shard: 0, stage: .synthesis, attempt: 0)

    func hello(_ name: String = "node-a", busyWith: ShardReference? = nil) -> Hello {
        Hello(workerName: name, toolVersion: "1", host: "h", processId: 7, threads: 2, busyWith: busyWith)
    }

    @Test func aWorkerKeepsTheKernelFamilyItRegisteredWithAndAnOlderOneIsUnknown() throws {
        var registry = WorkerRegistry()
        var named = hello("new")
        named.blasCore = "SkylakeX"
        _ = registry.register(a, named)
        #expect(registry[a]?.blasCore == "SkylakeX" && registry.records[a]?.blasCore == "SkylakeX")
        // An older worker's hello has no `blasCore` key at all: it still registers, of unknown family.
        let b: [UInt8] = Array("conn-b".utf8)
        let old = try JSONDecoder().decode(Hello.self, from: Data(#"{"workerName":"old","toolVersion":"1","host":"h","processId":7,"threads":2}"#.utf8))
        #expect(old.blasCore == nil)
        #expect(registry.register(b, old) == .registered(name: "old", replaced: nil))
        #expect(registry[b]?.blasCore == TrainingKernels.unknown)
    }

    @Test func kFailuresInARowQuarantineUntilTheWorkerRegistersAgain() {
        var registry = WorkerRegistry(quarantineAfter: 3)
        _ = registry.register(a, hello())
        _ = registry.failed(a, .executionFailed("x"))
        registry.succeeded(a)  // a success in between resets the count
        let quarantined = [registry.failed(a, .executionFailed("x")), registry.failed(a, .workerLost),  // lost: not counted
                           registry.failed(a, .timedOut(seconds: 1)), registry.failed(a, .invalidResult("rows"))]
        #expect(quarantined == [false, false, false, true])
        #expect(registry[a]?.quarantine?.contains("3 shards failed in a row") == true)
        #expect(registry.assignable.isEmpty)
        // The worker restarts: same name, new connection; it is healthy again and the old connection is replaced.
        let b: [UInt8] = Array("conn-b".utf8)
        let again = registry.register(b, hello())
        #expect(again == .registered(name: "node-a", replaced: a))
        #expect(registry.assignable.map(\.name) == ["node-a"])
        #expect(registry[a] == nil)
    }

    @Test func aTimedOutWorkerDrainsUntilItsHeartbeatShowsItStopped() {
        var registry = WorkerRegistry()
        _ = registry.register(a, hello())
        registry.assigned(a, reference)
        registry.abandoned(a, reference)
        #expect(registry.assignable.isEmpty)
        _ = registry.heartbeat(a, busyWith: reference)
        #expect(registry.assignable.isEmpty)
        _ = registry.heartbeat(a, busyWith: nil)
        #expect(registry.assignable.count == 1)
    }

    @Test func aComputingWorkerIsFreedOnlyByItsReport() {
        var registry = WorkerRegistry()
        _ = registry.register(a, hello())
        registry.assigned(a, reference)
        // A heartbeat sent before the assignment arrived says "idle": it must not free the worker.
        _ = registry.heartbeat(a, busyWith: nil)
        #expect(registry.assignable.isEmpty)
        registry.reported(a, reference)
        #expect(registry.assignable.count == 1)
    }

    @Test func aWorkerBusyAtRegistrationIsAdoptedAndARepeatedHelloChangesNothing() {
        var registry = WorkerRegistry()
        let first = registry.register(a, hello(busyWith: reference))
        #expect(first == .registered(name: "node-a", replaced: nil))
        #expect(registry[a]?.activity == .computing(reference))
        let repeated = registry.register(a, hello())
        #expect(repeated == .repeated(name: "node-a"))
        #expect(registry[a]?.activity == .computing(reference))
    }

    @Test func aBusyReplyDrainsTheOtherShard() {
        var registry = WorkerRegistry()
        _ = registry.register(a, hello())
        let other = ShardReference(job: "k", shard: 1, stage: .concentrations, attempt: 2)
        registry.busy(a, with: other)
        #expect(registry[a]?.activity == .draining(other))
        let adopted = registry.heartbeat(a, busyWith: nil)
        #expect(adopted == nil)
        #expect(registry[a]?.activity == .idle)
    }

    /// The race seen on a loopback cluster: the worker sent shard 5's result a moment before it let go of the
    /// attempt, the coordinator assigned shard 7 on reading the result, and the worker refused it as busy with 5.
    /// The worker is free: it must not stay draining shard 5 (unassignable, shown busy with a finished shard,
    /// counted among the job's workers) until a heartbeat.
    @Test func aBusyReplyNamingAnAlreadyReportedAttemptLeavesTheWorkerFree() {
        var registry = WorkerRegistry()
        _ = registry.register(a, hello())
        let five = ShardReference(job: "j", shard: 5, stage: .synthesis, attempt: 0)
        let seven = ShardReference(job: "j", shard: 7, stage: .synthesis, attempt: 0)
        registry.assigned(a, five)
        registry.reported(a, five)
        registry.assigned(a, seven)
        registry.busy(a, with: five)
        #expect(registry[a]?.activity == .idle)
        #expect(registry.assignable.map(\.name) == ["node-a"])
        #expect(registry.holding(job: "j").isEmpty)
        // A busy reply naming an attempt not reported still drains it.
        let other = ShardReference(job: "k", shard: 1, stage: .synthesis, attempt: 0)
        registry.assigned(a, seven)
        registry.busy(a, with: other)
        #expect(registry[a]?.activity == .draining(other))
    }
}

@Suite struct JournalTests {
    /// Removed when Swift Testing releases this test's instance of the suite.
    let scratch = TemporaryDirectory("journal")

    /// A fresh state directory inside `scratch`.
    func directory() throws -> String {
        let path = scratch.file(UUID().uuidString)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func aTornRecordIsReportedCutOffAndNeverMergedWithTheNext() throws {
        let state = try directory()
        do {
            let journal = try Journal(directory: state)
            try journal.append(JournalEntry(event: .cancelled, job: "one"))
        }
        // A write that stopped half-way (the disk filled up): half a record, no end of line.
        let path = (state as NSString).appendingPathComponent("journal.jsonl")
        let half = try Journal.encode(JournalEntry(event: .failed, job: "two", message: "x")).prefix(30)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        _ = try handle.seekToEnd()
        try handle.write(contentsOf: Data(half))
        try handle.close()

        let journal = try Journal(directory: state)
        #expect(journal.tornTail?.line == 2)
        try journal.append(JournalEntry(event: .committed, job: "three"))
        #expect(try journal.entries().map(\.job) == ["one", "three"])
    }

    /// A journal of three records with one byte of record `line` (1-based) changed inside its JSON.
    func journalWithCorruptRecord(_ line: Int) throws -> (state: String, path: String, bytes: [UInt8]) {
        let state = try directory()
        let journal = try Journal(directory: state)
        for job in ["one", "two", "three"] { try journal.append(JournalEntry(event: .cancelled, job: job)) }
        let path = (state as NSString).appendingPathComponent("journal.jsonl")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var start = 0
        for _ in 1..<line { start = bytes[start...].firstIndex(of: UInt8(ascii: "\n"))! + 1 }
        let target = bytes[start...].firstIndex(of: UInt8(ascii: "{"))! + 1  // inside the record's JSON
        bytes[target] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (state, path, bytes)
    }

    @Test func aCorruptRecordBeforeIntactOnesIsAnErrorAndTheJournalIsLeftAsItWas() throws {
        let (state, path, bytes) = try journalWithCorruptRecord(2)
        let error = try #require(throws: JournalError.self) { try Journal(directory: state) }
        guard case .damaged(let reported, let damage) = error else { Issue.record("\(error)"); return }
        #expect(reported == path && damage.line == 2 && damage.reason == "checksum mismatch")
        #expect(throws: JournalError.self) { try Journal.entries(directory: state) }
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == bytes)
    }

    @Test func aCoordinatorRefusesToStartOnADamagedJournalAndLeavesItAsItWas() throws {
        let (state, path, bytes) = try journalWithCorruptRecord(1)
        let configuration = CoordinatorConfiguration(bind: "tcp://127.0.0.1:*", stateDirectory: state, toolVersion: "9.9.9")
        let runtime = CoordinatorRuntime(configuration: configuration, backend: NoBalancingBackend(), logger: Logger(label: "test.coordinator"))
        #expect(throws: JournalError.self) { try runtime.run(until: StopSignal()) }
        #expect(!FileManager.default.fileExists(atPath: CoordinatorRuntime.endpointFile(stateDirectory: state)))
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == bytes)
    }

    @Test func aCorruptLastRecordIsATornTailAndIsCutOff() throws {
        let (state, path, bytes) = try journalWithCorruptRecord(3)
        let journal = try Journal(directory: state)
        #expect(journal.tornTail?.line == 3)
        #expect(try journal.entries().map(\.job) == ["one", "two"])
        let kept = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(kept.count < bytes.count && Array(bytes.prefix(kept.count)) == kept)
    }

    @Test func aPlainJSONLineFromAnOlderCoordinatorIsStillRead() throws {
        let state = try directory()
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let line = try encoder.encode(JournalEntry(event: .cancelled, job: "old")) + Data("\n".utf8)
        try line.write(to: URL(fileURLWithPath: (state as NSString).appendingPathComponent("journal.jsonl")))
        let journal = try Journal(directory: state)
        try journal.append(JournalEntry(event: .cancelled, job: "new"))
        #expect(journal.tornTail == nil)
        #expect(try journal.entries().map(\.job) == ["old", "new"])
    }

    @Test func rewriteKeepsOnlyTheGivenRecordsAndLaterAppendsFollowThem() throws {
        let state = try directory()
        let journal = try Journal(directory: state)
        for job in ["one", "two"] { try journal.append(JournalEntry(event: .cancelled, job: job)) }
        try journal.rewrite(try journal.entries().filter { $0.job == "two" })
        try journal.append(JournalEntry(event: .cancelled, job: "three"))
        #expect(try Journal.entries(directory: state).map(\.job) == ["two", "three"])
    }

    @Test func replayFoldsRecordsIntoJobsAndFindsThoseToPurge() {
        let manifest = JobManifest(input: .init(path: "/in.h5"), output: "/out.h5")
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        let entries = [
            JournalEntry(event: .submitted, job: "a", manifest: manifest, time: t0),
            JournalEntry(event: .shard, job: "a", shard: 1, sha256: "ff", path: "/s1"),
            JournalEntry(event: .submitted, job: "b", manifest: manifest, time: t0),
            JournalEntry(event: .failed, job: "b", message: "boom", time: t0 + 10),
            JournalEntry(event: .shard, job: "ghost", shard: 0, sha256: "00", path: "/g"),
        ]
        let replay = JournalReplay(entries)
        #expect(replay.order == ["a", "b"])
        #expect(replay.jobs["a"]?.state == .queued && replay.jobs["a"]?.shardFiles[1] == ShardFile(path: "/s1", sha256: "ff"))
        #expect(replay.jobs["b"]?.state == .failed && replay.jobs["b"]?.error == "boom")
        #expect(replay.orphans.map(\.job) == ["ghost"])
        #expect(replay.expired(now: t0 + 100, retention: 60) == ["b"])
        #expect(replay.expired(now: t0 + 50, retention: 60).isEmpty)
    }
}

@Suite struct CoordinatorHousekeepingTests {
    @Test(arguments: [1e300, Double.infinity, 1e15])
    func aHugeShardTimeoutIsClampedInsteadOfTrapping(seconds: Double) {
        let window = ShardTimeout.window(manifestSeconds: seconds, classes: [], dimension: 4)
        #expect(window == ShardTimeout.seconds(seconds.isFinite ? ShardTimeout.maximumSeconds : ShardTimeout.baseSeconds))
    }

    @Test func theDefaultShardTimeoutGrowsWithTheLargestClass() {
        let small = ShardTimeout.window(manifestSeconds: nil, classes: [ClassTask(classId: 0, realCount: 10, keptCount: 10, syntheticCount: 10)], dimension: 64)
        let large = ShardTimeout.window(manifestSeconds: nil, classes: [ClassTask(classId: 0, realCount: 50_000, keptCount: 50_000, syntheticCount: 0)], dimension: 768)
        #expect(small >= .seconds(ShardTimeout.baseSeconds) && large > small)
        #expect(ShardTimeout.window(manifestSeconds: 2, classes: [], dimension: 1) == .seconds(2))
    }

    @Test(arguments: [("90s", 90.0), ("30m", 1_800), ("12h", 43_200), ("7d", 604_800), ("0s", 0)])
    func retentionPeriodsParse(text: String, seconds: Double) {
        #expect(RetentionPeriod.seconds(text) == seconds)
    }

    @Test(arguments: ["7", "d", "-1d", "1w", "", "infd"])
    func badRetentionPeriodsAreRefused(text: String) {
        #expect(RetentionPeriod.seconds(text) == nil)
    }

    @Test func onlyTemporariesOfDeadWritersAreRemoved() async throws {
        try await withTemporaryDirectory("tmp") { directory in
            let finished = try Child("/bin/true", []).process
            await LocalCluster.exited(finished)
            let dead = "\(directory)/.out.h5.tmp-\(finished.processIdentifier)-3"
            let alive = "\(directory)/.out.h5.tmp-\(getpid())-1"
            let other = "\(directory)/.other.h5.tmp-\(finished.processIdentifier)-1"
            for path in [dead, alive, other] { #expect(FileManager.default.createFile(atPath: path, contents: Data([1]))) }
            #expect(Housekeeping.removeDeadTemporaries(of: "\(directory)/out.h5") == [dead])
            #expect(FileManager.default.fileExists(atPath: alive) && FileManager.default.fileExists(atPath: other))
        }
    }

    @Test func theInputCacheEvictsLeastRecentlyUsedFirstButNeverTheInputInUse() throws {
        try withTemporaryDirectory("input-cache") { directory in
            var paths: [String] = []
            for (index, name) in ["input-aa.h5", "input-bb.h5", "input-cc.h5"].enumerated() {
                let path = "\(directory)/\(name)"
                #expect(FileManager.default.createFile(atPath: path, contents: Data(count: 100)))
                try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: Double(1_000 + index))], ofItemAtPath: path)
                paths.append(path)
            }
            WorkDirectory.touch(paths[0])  // aa was just used: bb is now the least recently used
            let removed = WorkDirectory.evictInputs(directory, keeping: [paths[1]], budget: 150, log: .init(label: "test"))
            #expect(removed == [paths[2]] + [paths[0]] || removed == [paths[2], paths[0]])
            #expect(FileManager.default.fileExists(atPath: paths[1]))
        }
    }

    @Test func aSecondLockOnTheStateDirectoryIsRefusedNamingTheOwnersPID() throws {
        try withTemporaryDirectory("lock") { directory in
            do {
                let first = try StateDirectoryLock(directory: directory)
                #expect {
                    _ = try StateDirectoryLock(directory: directory)
                } throws: { error in
                    "\(error)".contains("in use by another coordinator (PID \(getpid()))")
                }
                withExtendedLifetime(first) {}
            }
            // Released with its owner: the next coordinator may start. A child another test forks meanwhile holds a copy
            // of the descriptor (and so the `flock`) from its fork until its exec closes it (O_CLOEXEC): under load that
            // window is long enough to be seen, so the lock gets a few seconds to come free; one that never does fails.
            let deadline = Date().addingTimeInterval(5)
            while true {
                do { _ = try StateDirectoryLock(directory: directory); break } catch {
                    guard Date() < deadline, "\(error)".contains("in use by another coordinator") else { throw error }
                    Thread.sleep(forTimeInterval: 0.05)
                }
            }
        }
    }

    @Test func aStateDirectoryThatCannotBeCreatedIsRefusedNamingItAndWhy() throws {
        try withTemporaryDirectory("lock") { directory in
            // Missing parents are created.
            _ = try StateDirectoryLock(directory: directory + "/a/b/state")
            #expect(FileManager.default.fileExists(atPath: directory + "/a/b/state/lock"))
            let file = directory + "/a/file"
            #expect(FileManager.default.createFile(atPath: file, contents: Data()))
            #expect {
                _ = try StateDirectoryLock(directory: file)
            } throws: { error in
                "\(error)" == "cannot use \(file) as the state directory: it is a file; give --state-dir a directory this user can create or write"
            }
            #expect {
                _ = try StateDirectoryLock(directory: file + "/state")
            } throws: { error in
                "\(error)".hasPrefix("cannot use \(file)/state as the state directory: Not a directory;")
            }
        }
    }
}

@Suite struct PlanLimitsTests {
    func plan(rows: Int, dimension: Int, inputBytes: Int64 = 1_000) -> PreparedJob {
        PreparedJob(inputSHA256: "x", inputBytes: inputBytes, classCount: 2, dimension: dimension, totalRows: rows + 10,
                    shards: [[ClassTask(classId: 0, realCount: 10, keptCount: 10, syntheticCount: 0)],
                             [ClassTask(classId: 1, realCount: 5, keptCount: 5, syntheticCount: rows - 5)]], shardCosts: [1, 1])
    }

    @Test func aPlanThatFitsIsAccepted() {
        #expect(PlanLimits.refusal(plan(rows: 1_000, dimension: 768), workerMemoryBytes: 64 << 30) == nil)
    }

    @Test func aClassTooLargeForAWorkerIsRefusedNamingItAndTheBound() throws {
        // The issue's case: a target of 2^31 - 1 rows at d = 768 is 6 TiB for one class.
        let refusal = try #require(PlanLimits.refusal(plan(rows: Int(Int32.max), dimension: 768), workerMemoryBytes: 64 << 30))
        #expect(refusal.contains("class 1 needs 6.0 TiB") && refusal.contains("64.0 GiB") && refusal.contains("--worker-memory-bytes"))
    }

    @Test func aSizeThatOverflowsIsRefusedInsteadOfTrapping() throws {
        let refusal = try #require(PlanLimits.refusal(plan(rows: Int.max / 2, dimension: 1 << 20), workerMemoryBytes: .max))
        #expect(refusal.contains("overflows"))
    }
}
