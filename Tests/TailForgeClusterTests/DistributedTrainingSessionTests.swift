import Foundation
import Logging
import Testing
@testable import TailForgeCluster

/// The coordinator's session bookkeeping on its own: placement, relaying, re-placement after a worker is lost,
/// and closing the sessions of trainers that went away.
@Suite struct DistributedTrainingSessionTests {
    let log = Logger(label: "test.sessions")
    let trainer = Array("trainer".utf8)
    let a = Array("a".utf8), b = Array("b".utf8), c = Array("c".utf8)
    var workers: [[UInt8]: WorkerRecord] {
        [a: WorkerRecord(id: "w1-nodeA", name: "nodeA", host: "h"), b: WorkerRecord(id: "w2-nodeB", name: "nodeB", host: "h"),
         c: WorkerRecord(id: "w3-nodeC", name: "nodeC", host: "h")]
    }

    func decoded(_ outgoing: TrainingSessions.Outgoing) throws -> [(to: [UInt8], message: WireMessage)] {
        try outgoing.map { to, frames in
            switch frames {
            case .message(let message): (to, message)
            case .relay(let frames): (to, try WireMessage.decode(frames))
            }
        }
    }

    func handle(_ sessions: inout TrainingSessions, _ message: WireMessage, from identity: [UInt8],
                workers: [[UInt8]: WorkerRecord]) throws -> [(to: [UInt8], message: WireMessage)] {
        let outgoing = sessions.handle(message, frames: message.encode(), from: identity, workers: workers, log: log)
        return try decoded(try #require(outgoing))
    }

    func request(iteration: Int) -> WireMessage {
        WireMessage(GradientRequest(session: "s", iteration: iteration, shards: [0, 1, 2], classCount: 2, dimension: 3,
                                    paths: ["/p0", "/p1", "/p2"], firstGlobalRows: [0, 10, 25], blockRows: 8),
                    payloads: [WireMessage.float32Payload([Float](repeating: 0.5, count: 8))])
    }

    @Test func shardsArePlacedOnHoldersAndMovedWithTheirMissingWorkWhenAWorkerIsLost() throws {
        var sessions = TrainingSessions()
        let open = TrainingOpen(session: "s", shards: [TrainingShardSpec(path: "/p0", holder: "nodeC"), TrainingShardSpec(path: "/p1"),
                                                       TrainingShardSpec(path: "/p2")])
        let loads = try handle(&sessions, WireMessage(open), from: trainer, workers: workers)
        var placed: [[UInt8]: [Int]] = [:]
        for (to, message) in loads { placed[to] = message.body(as: TrainingLoad.self)?.shards }
        #expect(placed == [c: [0], a: [1], b: [2]])

        let forwards = try handle(&sessions, request(iteration: 0), from: trainer, workers: workers)
        #expect(forwards.count == 3)
        let toB = try #require(forwards.first { $0.to == b })
        let bodyB = try #require(toB.message.body(as: GradientRequest.self))
        #expect(bodyB.shards == [2] && bodyB.paths == ["/p2"] && bodyB.firstGlobalRows == [25] && bodyB.blockRows == 8)
        #expect(toB.message.payloads == request(iteration: 0).payloads)

        let reply = WireMessage(GradientReply(session: "s", iteration: 0, shard: 1, lossSum: 1, rows: 15), payloads: [[1, 2, 3]])
        let relayed = try handle(&sessions, reply, from: a, workers: workers)
        #expect(relayed.count == 1 && relayed[0].to == trainer && relayed[0].message.payloads == [[1, 2, 3]])
        #expect(try handle(&sessions, reply, from: a, workers: workers).isEmpty, "a duplicate is not relayed twice")

        // b dies before answering: its shard goes to the least-loaded live worker, with a load and the request.
        var alive = workers
        alive[b] = nil
        let moved = try decoded(sessions.tick(workers: alive, log: log))
        #expect(moved.allSatisfy { $0.to == a })
        #expect(moved.compactMap { $0.message.body(as: TrainingLoad.self) } == [TrainingLoad(session: "s", shards: [2], paths: ["/p2"])])
        let resent = try #require(moved.compactMap { $0.message.body(as: GradientRequest.self) }.first)
        #expect(resent.shards == [2] && resent.iteration == 0 && resent.firstGlobalRows == [25])
        #expect(try decoded(sessions.tick(workers: alive, log: log)).isEmpty, "placed once")

        // The trainer re-sending the request in flight changes nothing; a new iteration goes to the new owners.
        #expect(try handle(&sessions, request(iteration: 0), from: trainer, workers: alive).isEmpty)
        let next = try handle(&sessions, request(iteration: 1), from: trainer, workers: alive)
        #expect(Set(next.map(\.to)) == [a, c])
    }

    /// What `status` says a worker serves: its parts per open session, following a move when a worker is lost,
    /// and nothing once the session is closed.
    @Test func eachWorkersServedPartsFollowPlacementMovesAndClosing() throws {
        var sessions = TrainingSessions()
        #expect(sessions.servedParts(by: a).isEmpty)
        let open = TrainingOpen(session: "s", shards: [TrainingShardSpec(path: "/p0", holder: "nodeA"), TrainingShardSpec(path: "/p1", holder: "nodeA"),
                                                       TrainingShardSpec(path: "/p2", holder: "nodeB")])
        _ = try handle(&sessions, WireMessage(open), from: trainer, workers: workers)
        _ = try handle(&sessions, WireMessage(TrainingOpen(session: "r", shards: [TrainingShardSpec(path: "/q0", holder: "nodeB")])),
                       from: trainer, workers: workers)
        #expect(sessions.servedParts(by: a).map { "\($0.session):\($0.parts)" } == ["s:2"])
        #expect(sessions.servedParts(by: b).map { "\($0.session):\($0.parts)" } == ["r:1", "s:1"], "in session order")
        #expect(sessions.servedParts(by: c).isEmpty, "a worker holding no part serves none")

        var alive = workers
        alive[b] = nil
        _ = sessions.tick(workers: alive, log: log)
        #expect(sessions.servedParts(by: b).isEmpty, "a lost worker's parts moved away")
        #expect(sessions.servedParts(by: a).count + sessions.servedParts(by: c).count == 3)
        #expect((sessions.servedParts(by: a) + sessions.servedParts(by: c)).reduce(0) { $0 + $1.parts } == 4)

        _ = try handle(&sessions, WireMessage(TrainingClose(session: "s")), from: trainer, workers: alive)
        #expect(sessions.servedParts(by: a).allSatisfy { $0.session == "r" } && sessions.servedParts(by: c).allSatisfy { $0.session == "r" })
    }

    @Test func aWorkerServingTrainingPartsIsNotShownIdle() {
        var worker = WorkerStatus(workerId: "w", name: "w", host: "h", busyWith: nil, secondsSinceHeartbeat: 0)
        #expect(worker.activity == "idle")
        worker.training = []
        #expect(worker.activity == "idle")
        worker.training = [WorkerTrainingParts(session: "train-1a2b", job: "job-7", parts: 3), WorkerTrainingParts(session: "train-x", job: nil, parts: 1)]
        #expect(worker.activity == "serving 3 training parts of job job-7, 1 training part of session train-x")
        let shard = ShardReference(job: "job-9", shard: 2, stage: .synthesis, attempt: 0)
        worker.busyWith = shard
        worker.consecutiveFailures = 2
        #expect(worker.activity == "busy with \(shard); serving 3 training parts of job job-7, 1 training part of session train-x, 2 shard failure(s) in a row")
        worker.quarantined = "3 failures in a row"
        #expect(worker.activity == "quarantined (gets no shards until it registers again): 3 failures in a row")
    }

    @Test func unknownSessionsAreReportedSoTheTrainerReopensThem() throws {
        var sessions = TrainingSessions()
        for message in [request(iteration: 3), WireMessage(TrainingPing(session: "s"))] {
            let answer = try handle(&sessions, message, from: trainer, workers: workers)
            #expect(answer.count == 1 && answer[0].to == trainer)
            #expect(answer[0].message.body(as: TrainingFailure.self)?.code == TrainingFailure.unknownSession)
        }
    }

    @Test func aSilentTrainersSessionIsClosedAndItsShardsReleased() throws {
        var sessions = TrainingSessions()
        _ = try handle(&sessions, WireMessage(TrainingOpen(session: "s", shards: [TrainingShardSpec(path: "/p0")])), from: trainer,
                       workers: workers)
        #expect(try decoded(sessions.tick(workers: workers, log: log, now: .now + .seconds(60))).isEmpty)
        let closes = try decoded(sessions.tick(workers: workers, log: log, now: .now + sessions.idleLimit + .seconds(1)))
        #expect(closes.count == 1)
        #expect(closes[0].message.body(as: TrainingClose.self) == TrainingClose(session: "s", paths: ["/p0"]))
        #expect(sessions.sessions.isEmpty)
    }
}
