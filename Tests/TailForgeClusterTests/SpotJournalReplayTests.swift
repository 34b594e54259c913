import Foundation
import TailForgeTestSupport
import Testing
@testable import TailForgeCluster

/// What spot verification leaves in the journal and a restarted coordinator reads back: the checks that accepted
/// committed results, the workers excluded from a job, and who produced each result nobody confirmed.
@Suite struct SpotJournalReplayTests {
    let manifest = JobManifest(input: .init(path: "/in.h5"), output: "/out.h5", verify: .spot)

    func check(_ stage: ShardStage, _ shard: Int, _ workers: [String], _ outcome: String) -> SpotCheck.Record {
        SpotCheck.Record(stage: stage, shard: shard, workers: workers, outcome: outcome)
    }

    @Test func producersChecksAndExclusionsAreReplayed() throws {
        let agreed = check(.concentrations, 0, ["a", "b"], "agreed")
        let caught = check(.synthesis, 1, ["liar", "a", "b"], "liar: liar")
        let entries = [
            JournalEntry(event: .submitted, job: "j", manifest: manifest, verification: .init(fraction: 0.5, seed: 7)),
            JournalEntry(event: .kappas, job: "j", shard: 0, sha256: "k0", path: "/k0", check: agreed.check),
            JournalEntry(event: .kappas, job: "j", shard: 1, sha256: "k1", path: "/k1", producer: "liar"),
            JournalEntry(event: .shard, job: "j", shard: 0, sha256: "s0", path: "/s0", producer: "liar"),
            JournalEntry(event: .shard, job: "j", shard: 1, sha256: "s1", path: "/s1", check: caught.check),
            JournalEntry(event: .excluded, job: "j", message: "liar (key 0123)", excluded: ["liar", "key 0123"]),
        ]
        let job = try #require(JournalReplay(entries).jobs["j"])
        #expect(job.kappaProducers == [1: "liar"] && job.shardProducers == [0: "liar"], "a confirmed result has no producer")
        #expect(job.checks == [agreed, caught], "in journal order")
        #expect(job.excluded == ["liar", "key 0123"] && job.liars == ["liar (key 0123)"])
    }

    @Test func aWithdrawnResultLosesItsProducerButItsCheckStays() throws {
        let unverified = check(.synthesis, 0, ["liar"], "unverified: no other worker")
        let entries = [
            JournalEntry(event: .submitted, job: "j", manifest: manifest, verification: .init(fraction: 0.5, seed: 7)),
            JournalEntry(event: .kappas, job: "j", shard: 0, sha256: "k0", path: "/k0", producer: "liar"),
            JournalEntry(event: .shard, job: "j", shard: 0, sha256: "s0", path: "/s0", producer: "liar", check: unverified.check),
            JournalEntry(event: .shard, job: "j", shard: 1, sha256: "s1", path: "/s1", producer: "liar"),
            JournalEntry(event: .excluded, job: "j", message: "liar (key 0123)", excluded: ["liar", "key 0123"]),
            JournalEntry(event: .rejected, job: "j", shard: 0, message: "synthesis"),
            JournalEntry(event: .rejected, job: "j", shard: 1, message: "synthesis"),
            // Recomputed by an honest worker: a new producer.
            JournalEntry(event: .shard, job: "j", shard: 1, sha256: "t1", path: "/t1", producer: "a"),
        ]
        let job = try #require(JournalReplay(entries).jobs["j"])
        #expect(job.shardProducers == [1: "a"] && job.shardFiles[0] == nil)
        #expect(job.kappaProducers == [0: "liar"], "a synthesis withdrawal leaves stage 1 alone, as the live coordinator does")
        #expect(job.checks == [unverified], "the check happened; the live coordinator keeps it too")
    }

    @Test func anExclusionJournaledTwiceNamesTheWorkerOnce() throws {
        let excluded = JournalEntry(event: .excluded, job: "j", message: "liar (key 0123)", excluded: ["liar", "key 0123"])
        let job = try #require(JournalReplay([JournalEntry(event: .submitted, job: "j", manifest: manifest), excluded, excluded]).jobs["j"])
        #expect(job.liars == ["liar (key 0123)"])
    }

    /// Records as a coordinator before spot state was journaled wrote them (no `producer`, `check`, `excluded`):
    /// they read, and every result counts as confirmed (nothing to withdraw, no check listed).
    @Test func aJournalOfAnEarlierReleaseStillReplays() throws {
        try withTemporaryDirectory("old-journal") { state in
            let submitted = try Journal.encode(JournalEntry(event: .submitted, job: "j", manifest: manifest, verification: .init(fraction: 0.5, seed: 7)))
            func framed(_ json: String) -> [UInt8] {
                let crc = String(CRC32C.checksum(Array(json.utf8)), radix: 16)
                return Array("TFJ1 \(String(repeating: "0", count: 8 - crc.count) + crc) \(json)\n".utf8)
            }
            let old = submitted
                + framed(#"{"event":"kappas","job":"j","path":"\/k0","sha256":"k0","shard":0,"time":"2026-11-30T10:00:00Z"}"#)
                + framed(#"{"event":"shard","job":"j","path":"\/s0","sha256":"s0","shard":0,"time":"2026-11-30T10:00:01Z"}"#)
                + Array(#"{"event":"shard","job":"j","path":"/s1","sha256":"s1","shard":1,"time":"2026-11-30T10:00:02Z"}"#.utf8) + [10]
            try Data(old).write(to: URL(fileURLWithPath: (state as NSString).appendingPathComponent(Journal.fileName)))
            let journal = try Journal(directory: state)
            #expect(journal.tornTail == nil)
            let job = try #require(JournalReplay(try journal.entries()).jobs["j"])
            #expect(Set(job.kappaFiles.keys) == [0] && Set(job.shardFiles.keys) == [0, 1])
            #expect(job.kappaProducers.isEmpty && job.shardProducers.isEmpty && job.checks.isEmpty)
            #expect(job.excluded.isEmpty && job.liars.isEmpty)
        }
    }

    /// The checks of an earlier life come first in the resolved manifest, and a selected shard that reaches the
    /// check again (its result was never committed, or was withdrawn) is checked again, not waved through.
    @Test func aResumedSpotCheckKeepsItsRecordsAndStillChecksItsShards() {
        let before = check(.synthesis, 0, ["a", "b"], "agreed")
        var spot = SpotCheck(fraction: 1, seed: 9, records: [before])
        spot.select(.synthesis, count: 2)
        let first = SpotCheck.Result(worker: "a", principal: "key a", sha256: "d", file: "/a")
        let second = SpotCheck.Result(worker: "c", principal: "key c", sha256: "d", file: "/c")
        #expect(spot.accepted(.synthesis, 1, first) == .recompute(avoid: ["a"]))
        #expect(spot.accepted(.synthesis, 1, second) == .settled(winner: first, liars: [], discard: [second]))
        #expect(spot.records == [before, check(.synthesis, 1, ["a", "c"], "agreed")])
        #expect(spot.accepted(.synthesis, 0, first) == .recompute(avoid: ["a"]), "shard 0's record does not skip its check")
    }
}
