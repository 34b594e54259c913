import Foundation
import Testing
@testable import TailForgeCluster

/// `JobStatus.workers`, the count `status` and `wait` print, from the coordinator's state machines alone: the events
/// are those `CoordinatorLoop` feeds them for a synthesis shard whose file the coordinator fetches and checks.
@Suite struct JobWorkerCountTests {
    let a: [UInt8] = Array("conn-a".utf8)
    let b: [UInt8] = Array("conn-b".utf8)
    let t0 = ContinuousClock.now

    func registry(_ names: [([UInt8], String)]) -> WorkerRegistry {
        var registry = WorkerRegistry()
        for (identity, name) in names {
            _ = registry.register(identity, Hello(workerName: name, toolVersion: "1", host: "h", processId: 7, threads: 1))
        }
        return registry
    }

    func count(_ board: ShardBoard, _ registry: WorkerRegistry, serving: Set<[UInt8]> = []) -> Int {
        CoordinatorLoop.participants(in: "j", board: board, registry: registry, serving: serving).count
    }

    /// The user's report: one worker computing faster than the coordinator fetches and checks its files. Each commit
    /// (when `wait` prints a line off a terminal) came while the worker was idle between reports, so counting only
    /// computing workers printed "0 worker(s)" all stage long while the job still waited on that worker.
    @Test func aWorkerCountsFromItsAssignmentUntilItsResultIsCheckedAndOnlyOnce() {
        var registry = registry([(a, "node-a"), (b, "node-b")])
        var board = ShardBoard(job: "j", stage: .synthesis, classes: [[0], [1]], maxAttempts: 3)
        // node-b computes another job's shard: not a worker of this one.
        registry.assigned(b, ShardReference(job: "k", shard: 0, stage: .synthesis, attempt: 0))
        #expect(count(board, registry) == 0)

        let first = board.assign(0, to: a, at: t0)
        registry.assigned(a, first)
        #expect(count(board, registry) == 1)
        // Its result arrives: the worker is idle, and serves the file the coordinator fetches.
        registry.reported(a, first)
        board.fetching(first, worker: a)
        #expect(count(board, registry) == 1)
        // It computes the next shard while the first one's file is checked: one worker, not two.
        let second = board.assign(1, to: a, at: t0)
        registry.assigned(a, second)
        board.storing(first, worker: a)
        board.checking(first, worker: a)
        #expect(count(board, registry) == 1)
        // Done computing; both results are still the coordinator's to fetch and check.
        registry.reported(a, second)
        board.fetching(second, worker: a)
        #expect(count(board, registry) == 1)
        board.done(0, file: "shard-0.h5", sha256: "00")
        board.storing(second, worker: a)
        board.checking(second, worker: a)
        #expect(count(board, registry) == 1)
        board.done(1, file: "shard-1.h5", sha256: "11")
        #expect(count(board, registry) == 0)
    }

    @Test func aDrainingOrServingWorkerCountsButAGoneOneDoesNot() {
        var registry = registry([(a, "node-a"), (b, "node-b")])
        var board = ShardBoard(job: "j", stage: .synthesis, classes: [[0], [1]], maxAttempts: 3)
        // A timed-out attempt still runs on node-a until it reports or its heartbeat says it stopped.
        let first = board.assign(0, to: a, at: t0)
        registry.assigned(a, first)
        registry.abandoned(a, first)
        _ = board.failed(first, worker: a, name: "node-a", reason: .timedOut(seconds: 1))
        #expect(count(board, registry) == 1)
        // A training session's workers hold parts of the job's fit with no shard to compute.
        #expect(count(board, registry, serving: [b]) == 2)
        // A worker whose result is being checked when it is lost is no longer anyone's to count.
        let second = board.assign(1, to: b, at: t0)
        registry.assigned(b, second)
        registry.reported(b, second)
        board.checking(second, worker: b)
        registry.remove(b)
        #expect(count(board, registry, serving: [b]) == 1)
    }
}
