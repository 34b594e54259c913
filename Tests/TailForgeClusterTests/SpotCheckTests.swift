import Foundation
import Testing
@testable import TailForgeCluster

/// Spot verification's state machine without sockets: which shards it picks, and what it decides as results
/// arrive (accept, recompute elsewhere, settle by majority, give up).
@Suite struct SpotCheckTests {
    func result(_ worker: String, _ digest: String, file: String? = nil) -> SpotCheck.Result {
        SpotCheck.Result(worker: worker, principal: "key \(worker)-fp", sha256: digest, file: file ?? "/jobs/\(worker)-\(digest).h5")
    }

    /// A check of every shard, so each test decides which shard it feeds.
    func everything(count: Int = 4) -> SpotCheck {
        var spot = SpotCheck(fraction: 1, seed: 9)
        spot.select(.synthesis, count: count)
        spot.select(.concentrations, count: count)
        return spot
    }

    @Test(arguments: [(0.0, 10, 0), (0.1, 10, 1), (0.1, 2, 1), (0.1, 11, 2), (0.5, 7, 4), (1.0, 7, 7), (0.01, 1, 1)])
    func theSampleIsTheFractionRoundedUpAndAtLeastOneShard(fraction: Double, count: Int, expected: Int) {
        #expect(SpotCheck.sampleSize(count: count, fraction: fraction) == expected)
        var spot = SpotCheck(fraction: fraction, seed: 1)
        spot.select(.synthesis, count: count)
        #expect(spot.selected[.synthesis]?.count == expected)
        #expect(spot.selected[.synthesis]!.allSatisfy { (0..<count).contains($0) })
    }

    @Test func theSameSeedPicksTheSameShardsAndOtherSeedsOthers() {
        func pick(_ seed: UInt64, _ stage: ShardStage) -> Set<Int> {
            var spot = SpotCheck(fraction: 0.25, seed: seed)
            spot.select(stage, count: 40)
            return spot.selected[stage]!
        }
        #expect(pick(5, .synthesis) == pick(5, .synthesis), "a restart with the journaled seed checks the same shards")
        #expect(Set((0..<8).map { pick($0, .synthesis) }).count > 1, "the seed decides the sample")
        #expect(pick(5, .synthesis) != pick(5, .concentrations), "each stage draws its own sample")
    }

    @Test func anUnselectedShardIsAcceptedAtOnce() {
        var spot = SpotCheck(fraction: 0.1, seed: 3)
        spot.select(.synthesis, count: 10)
        let unselected = (0..<10).first { !spot.isSelected(.synthesis, $0) }!
        let honest = result("a", "d1")
        #expect(spot.accepted(.synthesis, unselected, honest) == .accept(honest, verified: false))
        #expect(spot.records.isEmpty)
    }

    @Test func aSelectedShardIsComputedAgainElsewhereAndAcceptedWhenTheDigestsAgree() {
        var spot = everything()
        let first = result("a", "d1"), second = result("b", "d1")
        #expect(spot.accepted(.synthesis, 2, first) == .recompute(avoid: ["a"]))
        #expect(spot.avoid(.synthesis, 2) == ["a"])
        #expect(spot.accepted(.synthesis, 2, second) == .settled(winner: first, liars: [], discard: [second]))
        #expect(spot.records == [.init(stage: .synthesis, shard: 2, workers: ["a", "b"], outcome: "agreed")])
        #expect(spot.avoid(.synthesis, 2).isEmpty)
    }

    @Test func aMismatchIsDecidedByAThirdWorkerAndTheOddOneOutIsTheLiar() {
        // The first worker lied.
        var spot = everything()
        let liar = result("liar", "bad"), b = result("b", "good"), c = result("c", "good")
        #expect(spot.accepted(.synthesis, 0, liar) == .recompute(avoid: ["liar"]))
        #expect(spot.accepted(.synthesis, 0, b) == .recompute(avoid: ["liar", "b"]))
        #expect(spot.accepted(.synthesis, 0, c) == .settled(winner: b, liars: [liar], discard: [liar, c]))
        #expect(spot.records.last?.outcome == "liar: liar")
        // The second (the checker) lied: the first result stands.
        var framed = everything()
        let honest = result("a", "good")
        _ = framed.accepted(.synthesis, 1, honest)
        _ = framed.accepted(.synthesis, 1, result("liar", "bad"))
        #expect(framed.accepted(.synthesis, 1, result("c", "good")) == .settled(winner: honest, liars: [result("liar", "bad")], discard: [result("liar", "bad"), result("c", "good")]))
    }

    @Test func threeDifferentResultsFailTheJobNamingEveryWorker() {
        var spot = everything()
        _ = spot.accepted(.concentrations, 3, result("a", "1"))
        _ = spot.accepted(.concentrations, 3, result("b", "2"))
        guard case .undecidable(let message) = spot.accepted(.concentrations, 3, result("c", "3")) else {
            Issue.record("three disagreeing results were not undecidable")
            return
        }
        #expect(message.contains("a (key a-fp)") && message.contains("b (key b-fp)") && message.contains("c (key c-fp)"), "\(message)")
    }

    @Test func withNoOtherWorkerAFirstResultIsAcceptedUnverifiedAndAMismatchFails() {
        var spot = everything()
        #expect(spot.noOtherWorker(.synthesis, 0) == nil, "nothing pending, nothing to decide")
        let only = result("a", "d")
        _ = spot.accepted(.synthesis, 0, only)
        #expect(spot.noOtherWorker(.synthesis, 0) == .accept(only, verified: false))
        #expect(spot.records.last == .init(stage: .synthesis, shard: 0, workers: ["a"], outcome: "unverified: no other worker"))

        _ = spot.accepted(.synthesis, 1, result("a", "x"))
        _ = spot.accepted(.synthesis, 1, result("b", "y"))
        guard case .undecidable(let message)? = spot.noOtherWorker(.synthesis, 1) else {
            Issue.record("a two-way disagreement with no third worker was not undecidable")
            return
        }
        #expect(message.contains("no third worker"), "\(message)")
    }

    @Test func theSummaryCountsConfirmedAndUnverifiedChecksAndNamesTheExcluded() {
        var spot = everything()
        _ = spot.accepted(.synthesis, 0, result("a", "d"))
        _ = spot.accepted(.synthesis, 0, result("b", "d"))  // agreed
        _ = spot.accepted(.synthesis, 1, result("liar", "x"))
        _ = spot.accepted(.synthesis, 1, result("a", "y"))
        _ = spot.accepted(.synthesis, 1, result("b", "y"))  // liar caught: two workers agreed
        _ = spot.accepted(.synthesis, 2, result("a", "d"))
        _ = spot.noOtherWorker(.synthesis, 2)  // unverified
        let summary = spot.summary(excluded: ["liar (key liar-fp)"])
        #expect(summary == SpotSummary(confirmed: 2, unverified: 1, excluded: ["liar (key liar-fp)"]))
        #expect(summary.needsAttention)
        #expect(summary.description == "spot verification: 2 check(s) confirmed by a second worker, 1 shard(s) accepted unverified (no other worker was available); excluded for returning wrong results: liar (key liar-fp)")
        let clean = SpotSummary(confirmed: 4, unverified: 0, excluded: [])
        #expect(!clean.needsAttention && clean.description == "spot verification: 4 check(s) confirmed by a second worker")
    }

    @Test func aLiarsPendingResultsAreForgotten() {
        var spot = everything()
        _ = spot.accepted(.synthesis, 0, result("liar", "x"))
        _ = spot.accepted(.synthesis, 1, result("a", "y"))
        #expect(spot.forget(worker: "liar") == [result("liar", "x")])
        #expect(spot.avoid(.synthesis, 0).isEmpty && spot.avoid(.synthesis, 1) == ["a"])
        // Shard 0 starts over: the next result is a first result again.
        #expect(spot.accepted(.synthesis, 0, result("b", "z")) == .recompute(avoid: ["b"]))
    }
}

/// The board's part in spot verification: a shard recomputed elsewhere uses no attempt, and a liar's
/// unconfirmed results go back to the queue.
@Suite struct ShardBoardSpotTests {
    func worker(_ name: String) -> WorkerRegistry.Worker {
        WorkerRegistry.Worker(identity: Array(name.utf8), name: name, host: "h", processId: 1, threads: 1)
    }

    @Test func aShardHeldForVerificationIsNeverGivenToAWorkerItAvoids() {
        var board = ShardBoard(job: "j", stage: .synthesis, classes: [[0], [1]], maxAttempts: 1)
        let reference = board.assign(0, to: Array("a".utf8), at: .now)
        board.checking(reference, worker: Array("a".utf8))
        board.recompute(0, avoid: ["a"])
        #expect(board.pending == [0, 1])
        #expect(board.slots[0].countedFailures.isEmpty, "no attempt is used up")
        #expect(board.pick(for: 0, from: [worker("a")], healthy: ["a"]) == nil, "only a, which computed it: wait")
        #expect(board.pick(for: 0, from: [worker("a"), worker("b")], healthy: ["a", "b"])?.name == "b")
        #expect(board.pick(for: 1, from: [worker("a")], healthy: ["a"])?.name == "a")
    }

    @Test func aLiarsUnconfirmedResultsGoBackToTheQueue() {
        var board = ShardBoard(job: "j", stage: .synthesis, classes: [[0], [1], [2]], maxAttempts: 2)
        for shard in 0..<3 { _ = board.assign(shard, to: Array("x".utf8), at: .now) }
        board.done(0, file: "/f0", sha256: "s0", producer: "liar")
        board.done(1, file: "/f1", sha256: "s1", producer: nil)  // confirmed by a second worker
        board.done(2, file: "/f2", sha256: "s2", producer: "honest")
        let requeued = board.requeueDone(producedBy: "liar")
        #expect(requeued.map(\.shard) == [0] && requeued.map(\.file) == ["/f0"])
        #expect(board.pending == [0] && board.slots[0].file == nil && board.slots[0].avoid == ["liar"])
        #expect(board.slots[1].isDone && board.slots[2].isDone)
    }

    @Test func aWithdrawnResultIsForgottenByTheJournalReplay() throws {
        let manifest = JobManifest(input: .init(path: "/in.h5"), output: "/out.h5", verify: .spot)
        let entries = [
            JournalEntry(event: .submitted, job: "j", manifest: manifest, verification: .init(fraction: 0.25, seed: 42)),
            JournalEntry(event: .kappas, job: "j", shard: 0, sha256: "k0", path: "/k0"),
            JournalEntry(event: .kappas, job: "j", shard: 1, sha256: "k1", path: "/k1"),
            JournalEntry(event: .shard, job: "j", shard: 0, sha256: "s0", path: "/s0"),
            JournalEntry(event: .rejected, job: "j", shard: 1, message: "concentrations"),
            JournalEntry(event: .rejected, job: "j", shard: 0, message: "synthesis"),
        ]
        let job = try #require(JournalReplay(entries).jobs["j"])
        #expect(job.verification == .init(fraction: 0.25, seed: 42))
        #expect(Set(job.kappaFiles.keys) == [0] && job.shardFiles.isEmpty)
    }
}

/// The per-client limits as a decision: start, queue, refuse; and how many queued jobs may start.
@Suite struct ClientJobLimitsTests {
    @Test(arguments: [(0, 0, ClientJobLimits.Admission.start), (1, 0, .start), (2, 0, .queue), (2, 2, .queue), (2, 3, .refuse), (5, 0, .queue),
                      (1, 1, .queue)])
    func aJobStartsUnderTheRunningLimitQueuesUnderTheQueueLimitAndIsRefusedBeyond(running: Int, queued: Int, expected: ClientJobLimits.Admission) {
        // (1 running, 1 queued): room to run, but the queued job is older and goes first.
        #expect(ClientJobLimits(maxRunning: 2, maxQueued: 3).admission(running: running, queued: queued) == expected)
    }

    @Test func withNoQueueAJobBeyondTheRunningLimitIsRefused() {
        #expect(ClientJobLimits(maxRunning: 1, maxQueued: 0).admission(running: 1, queued: 0) == .refuse)
    }

    @Test func queuedJobsStartUpToTheRunningLimit() {
        let limits = ClientJobLimits(maxRunning: 3, maxQueued: 10)
        #expect(limits.startable(running: 3, queued: 4) == 0)
        #expect(limits.startable(running: 1, queued: 4) == 2)
        #expect(limits.startable(running: 0, queued: 1) == 1)
        #expect(limits.startable(running: 5, queued: 1) == 0, "a lowered limit after a restart starts nothing")
    }

    @Test func theJournalRemembersWhoSubmittedAJob() throws {
        let manifest = JobManifest(input: .init(path: "/in.h5"), output: "/out.h5")
        let replay = JournalReplay([JournalEntry(event: .submitted, job: "j", manifest: manifest, owner: "key 0123456789abcdef"),
                                    JournalEntry(event: .submitted, job: "old", manifest: manifest)])
        #expect(replay.jobs["j"]?.owner == "key 0123456789abcdef")
        #expect(replay.jobs["old"]?.owner == nil, "journals of earlier releases recorded no owner")
    }
}
