import Foundation
import Logging
import Testing
import TailForgeTraining
@testable import TailForgeCluster

/// The coordinator's bookkeeping of jobs whose `train.trainer` names a worker, on its own: waiting for the worker,
/// the hand-over, the bounded wait, which sessions the worker may drive, its loss, and the check of the model it
/// reports against what the coordinator relayed (``NamedTrainerEvidence``).
@Suite struct NamedTrainersTests {
    let a = Array("nodeA-1".utf8), b = Array("nodeB-7".utf8)
    let start = ContinuousClock.now

    func workers(_ names: [([UInt8], String)]) -> [[UInt8]: WorkerRecord] {
        Dictionary(uniqueKeysWithValues: names.map { ($0.0, WorkerRecord(id: $0.1, name: $0.1, host: "h")) })
    }

    /// The run of a hand-over decision.
    func handedOverRun(_ decisions: [NamedTrainers.Decision], job: String = "j1", to identity: [UInt8]) -> String? {
        for case .handOver(job, identity, let run) in decisions { return run }
        return nil
    }

    @Test func aJobWaitsForItsWorkerAndIsHandedToItOnceItRegisters() throws {
        var trainers = NamedTrainers(waitLimit: .seconds(30))
        trainers.wait(job: "j1", for: "nodeB", now: start)
        #expect(trainers.tick(workers: workers([(a, "nodeA")]), now: start + .seconds(10)).isEmpty, "nodeB has not registered yet")
        #expect(trainers.job(drivenBy: b, session: "j1-train-x") == nil, "a waiting job's sessions are nobody's")
        let decisions = trainers.tick(workers: workers([(a, "nodeA"), (b, "nodeB")]), now: start + .seconds(20))
        let run = try #require(handedOverRun(decisions, to: b), "\(decisions)")
        #expect(decisions == [.handOver(job: "j1", identity: b, run: run)])
        #expect(trainers.entries["j1"]?.phase == .driving(identity: b, run: run))
        #expect(trainers.tick(workers: workers([(a, "nodeA"), (b, "nodeB")]), now: start + .seconds(99)).isEmpty, "handed over once, never timed out")
    }

    @Test func aNameThatNeverRegistersFailsAfterTheWaitNamingTheRegisteredWorkers() throws {
        var trainers = NamedTrainers(waitLimit: .seconds(30))
        trainers.wait(job: "j1", for: "nodeb", now: start)
        trainers.wait(job: "j2", for: "gpu-9", now: start + .seconds(5))
        #expect(trainers.tick(workers: workers([(a, "nodeA"), (b, "nodeB")]), now: start + .seconds(29)).isEmpty)
        let decisions = trainers.tick(workers: workers([(a, "nodeA"), (b, "nodeB")]), now: start + .seconds(30))
        #expect(decisions.count == 1)
        guard case .timedOut(let job, let message) = try #require(decisions.first) else { Issue.record("not a time-out: \(decisions)"); return }
        #expect(job == "j1")
        #expect(message.contains("`train.trainer` names worker nodeb, which did not register within 30 s"), "\(message)")
        #expect(message.contains("registered workers: nodeA, nodeB (did you mean `nodeB`?). Start"), "\(message)")
        #expect(trainers.entries["j1"] == nil && trainers.entries["j2"] != nil)
        let none = NamedTrainers.neverRegistered("gpu-9", waited: .milliseconds(1500), registered: [])
        #expect(none.contains("within 1.5 s") && none.contains("no worker is registered") && !none.contains("did you mean"), "\(none)")
    }

    @Test func aNamedTrainerDrivesOnlyItsCurrentRunsSessions() throws {
        var trainers = NamedTrainers(waitLimit: .seconds(30))
        trainers.wait(job: "j1", for: "nodeB", now: start)
        trainers.wait(job: "j2", for: "nodeA", now: start)
        let r1 = try #require(handedOverRun(trainers.tick(workers: workers([(a, "nodeA"), (b, "nodeB")]), now: start), to: b))
        #expect(trainers.job(drivenBy: b, session: "j1-train-\(r1)") == "j1")
        #expect(trainers.job(drivenBy: b, session: "j1-calibrate-\(r1)") == "j1")
        #expect(trainers.job(drivenBy: b, session: "j1-train-ab12") == nil, "another run's session")
        #expect(trainers.job(drivenBy: b, session: "j2-train-\(r1)") == nil, "another job's session")
        #expect(trainers.job(drivenBy: a, session: "j1-train-\(r1)") == nil, "another worker")
        #expect(trainers.job(drivenBy: b, session: "j1") == nil && trainers.job(drivenBy: b, session: "train-j1") == nil)
        #expect(trainers.drivenJob(ofFinalFit: "j1-train-\(r1)") == "j1" && trainers.drivenJob(ofFinalFit: "j1-calibrate-\(r1)") == nil)
        #expect(trainers.drivenJob(ofFinalFit: "j1-train-ab12") == nil)
    }

    /// The rule: the named worker drives whenever it is registered. Lost, the coordinator's trainer takes over at the
    /// next tick (no wait for a dead worker); registered again (here under a new connection), the coordinator's trainer
    /// is stopped and, once it has stopped, the job goes back to the worker as a new run — whose sessions and report
    /// are the only ones accepted.
    @Test func aLostTrainerIsTakenOverAndGetsItsJobBackWhenItRegistersAgain() throws {
        var trainers = NamedTrainers(waitLimit: .seconds(30))
        trainers.wait(job: "j1", for: "nodeB", now: start)
        let r1 = try #require(handedOverRun(trainers.tick(workers: workers([(a, "nodeA"), (b, "nodeB")]), now: start), to: b))
        #expect(trainers.lost(a).isEmpty, "nodeA drives nothing")
        #expect(trainers.lost(b) == ["j1"])
        #expect(trainers.job(drivenBy: b, session: "j1-train-\(r1)") == nil, "a lost run's sessions are nobody's")
        #expect(trainers.tick(workers: workers([(a, "nodeA")]), now: start + .seconds(1)) == [.takeOver(job: "j1")])
        #expect(trainers.entries["j1"]?.phase == .coordinatorDriving)
        // Long past the wait limit: a job the coordinator drives never times out, and waits for its worker.
        #expect(trainers.tick(workers: workers([(a, "nodeA")]), now: start + .seconds(999)).isEmpty)
        #expect(trainers.localTrainerStopped("j1", workers: workers([(a, "nodeA")])) == nil, "a stop the coordinator did not ask for is a failure")

        let b2 = Array("nodeB-8".utf8)
        #expect(trainers.tick(workers: workers([(a, "nodeA"), (b2, "nodeB")]), now: start + .seconds(1000)) == [.stopLocalTrainer(job: "j1")])
        #expect(trainers.tick(workers: workers([(a, "nodeA"), (b2, "nodeB")]), now: start + .seconds(1001)).isEmpty, "asked once")
        let back = trainers.localTrainerStopped("j1", workers: workers([(a, "nodeA"), (b2, "nodeB")]))
        let r2 = try #require(handedOverRun(back.map { [$0] } ?? [], to: b2), "\(String(describing: back))")
        #expect(r2 != r1, "a hand-back is a new run")
        #expect(trainers.job(drivenBy: b2, session: "j1-train-\(r2)") == "j1")
        #expect(trainers.job(drivenBy: b2, session: "j1-train-\(r1)") == nil && trainers.job(drivenBy: b, session: "j1-train-\(r2)") == nil)
    }

    @Test func aWorkerRestartedUnderItsNameBeforeTheNextTickGetsItsJobBackWithoutATakeOver() throws {
        var trainers = NamedTrainers(waitLimit: .seconds(30))
        trainers.wait(job: "j1", for: "nodeB", now: start)
        let r1 = try #require(handedOverRun(trainers.tick(workers: workers([(b, "nodeB")]), now: start), to: b))
        // `register` drops the old connection (lost) and registers the new one in the same turn.
        let b2 = Array("nodeB-8".utf8)
        #expect(trainers.lost(b) == ["j1"])
        let decisions = trainers.tick(workers: workers([(b2, "nodeB")]), now: start + .seconds(1))
        let r2 = try #require(handedOverRun(decisions, to: b2), "\(decisions)")
        #expect(decisions.count == 1 && r2 != r1)
    }

    @Test func aWorkerLostAgainWhileTheCoordinatorsTrainerStopsLeavesTheFitToTheCoordinator() throws {
        var trainers = NamedTrainers(waitLimit: .seconds(30))
        trainers.wait(job: "j1", for: "nodeB", now: start)
        _ = trainers.tick(workers: workers([(b, "nodeB")]), now: start)
        _ = trainers.lost(b)
        #expect(trainers.tick(workers: [:], now: start) == [.takeOver(job: "j1")])
        #expect(trainers.tick(workers: workers([(b, "nodeB")]), now: start) == [.stopLocalTrainer(job: "j1")])
        #expect(trainers.lost(b).isEmpty, "it drove nothing while the coordinator's trainer stopped")
        #expect(trainers.localTrainerStopped("j1", workers: [:]) == .takeOver(job: "j1"))
        #expect(trainers.entries["j1"]?.phase == .coordinatorDriving)
    }

    /// A `jobTrained` counts only from the connection the job is handed to, for the current run: the report of a run
    /// from before the worker was lost is refused, even on the same connection (a worker resumed after SIGSTOP
    /// re-registers on its old socket).
    @Test func aReportOfAnEarlierRunIsRefused() throws {
        var trainers = NamedTrainers(waitLimit: .seconds(30))
        trainers.wait(job: "j1", for: "nodeB", now: start)
        let r1 = try #require(handedOverRun(trainers.tick(workers: workers([(b, "nodeB")]), now: start), to: b))
        #expect(trainers.report("j1", from: a, run: r1) == nil, "another worker's")
        _ = trainers.lost(b)
        #expect(trainers.report("j1", from: b, run: r1) == nil, "a lost run's")
        let r2 = try #require(handedOverRun(trainers.tick(workers: workers([(b, "nodeB")]), now: start), to: b))
        #expect(trainers.report("j1", from: b, run: r1) == nil, "the earlier run's, on the same connection")
        #expect(trainers.entries["j1"] != nil)
        #expect(trainers.report("j1", from: b, run: r2)?.name == "nodeB")
        #expect(trainers.entries["j1"] == nil, "forgotten once its report is in")
        #expect(trainers.report("j1", from: b, run: r2) == nil, "reported once")
    }

    // MARK: The model check

    /// Two classes in three dimensions, with the exact loss sum of two shards at its weights.
    let model = SoftmaxModel(classCount: 2, dimension: 3, weights: [0.5, -0.25, 1, 0, 0.125, -2], bias: [0.75, -0.75])
    var weights: [UInt8] { WireMessage.float32Payload(model.weights + model.bias) }
    let l2 = 0.01
    var penalty: Double { 0.5 * l2 * model.weights.reduce(0.0) { $0 + Double($1) * Double($1) } }

    func evidence(losses: [Double] = [3, 4.5], rows: [Int] = [4, 6]) -> NamedTrainerEvidence {
        var evidence = NamedTrainerEvidence()
        evidence.requested(session: "j1-train-x", iteration: 1, shards: [0, 1], weights: WireMessage.float32Payload([Float](repeating: 0, count: 8)))
        evidence.requested(session: "j1-train-x", iteration: 2, shards: [0, 1], weights: weights)
        for (shard, (loss, rows)) in zip(losses, rows).enumerated() {
            evidence.replied(session: "j1-train-x", iteration: 2, shard: shard, lossSum: loss, rows: rows)
        }
        return evidence
    }

    @Test func aModelAtWeightsTheWorkersEvaluatedAtTheirLossIsAccepted() {
        let loss = 7.5 / 10 + penalty
        #expect(evidence().refusal(model: model, finalLoss: loss, l2: l2, rows: 10) == nil)
        // Within the penalty's float32 rounding (the optimiser's penalty is on float64 values the model does not keep).
        #expect(evidence().refusal(model: model, finalLoss: loss + 1e-8 * penalty, l2: l2, rows: 10) == nil)
        // A shard's reply relayed twice (it was reassigned and computed twice) counts once.
        var twice = evidence()
        twice.replied(session: "j1-train-x", iteration: 2, shard: 1, lossSum: 4.5, rows: 6)
        #expect(twice.refusal(model: model, finalLoss: loss, l2: l2, rows: 10) == nil)
    }

    @Test func aModelWhoseWeightsOrLossTheWorkersNeverSawIsRefused() throws {
        let loss = 7.5 / 10 + penalty
        let other = SoftmaxModel(classCount: 2, dimension: 3, weights: [0.5, -0.25, 1, 0, 0.125, -2], bias: [0.75, -0.5])
        #expect(try #require(evidence().refusal(model: other, finalLoss: loss, l2: l2, rows: 10)).contains("none the workers evaluated"))
        let wrong = try #require(evidence().refusal(model: model, finalLoss: loss - 0.01, l2: l2, rows: 10))
        #expect(wrong.contains("is not the loss the workers computed at its weights"), "\(wrong)")
        // An evaluation still missing a shard's reply, or over fewer rows than the set, proves nothing.
        var partial = NamedTrainerEvidence()
        partial.requested(session: "j1-train-x", iteration: 2, shards: [0, 1], weights: weights)
        partial.replied(session: "j1-train-x", iteration: 2, shard: 0, lossSum: 3, rows: 4)
        #expect(partial.refusal(model: model, finalLoss: 3.0 / 10 + penalty, l2: l2, rows: 10) != nil)
        #expect(evidence().refusal(model: model, finalLoss: 7.5 / 12 + penalty, l2: l2, rows: 12) != nil)
        #expect(NamedTrainerEvidence().refusal(model: model, finalLoss: loss, l2: l2, rows: 10) != nil)
    }
}
