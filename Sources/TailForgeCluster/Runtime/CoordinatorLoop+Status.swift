import Foundation
import Logging
import TailForgeNumerics

/// What `status` and `watch` report.
extension CoordinatorLoop {
    func status(_ id: String) -> JobStatus? {
        guard let job = jobs[id] else { return nil }
        let classes = job.prepared?.shards ?? []
        let done = job.board?.slots.indices.filter { job.board!.slots[$0].isDone } ?? []
        let synthesisDone = job.stage == .synthesis ? done : []
        let committed = job.state == .committed
        let classesDone = committed ? classes.reduce(0) { $0 + $1.count } : synthesisDone.reduce(0) { $0 + classes[$1].count }
        let rowsDone = committed ? (job.prepared?.totalRows ?? 0)
            : synthesisDone.reduce(0) { $0 + classes[$1].reduce(0) { $0 + $1.outputCount } }
        let shardCount = job.board?.count ?? job.prepared?.shards.count ?? 0
        return JobStatus(job: id, name: job.manifest.name ?? id, state: job.state, stage: job.prepared == nil ? nil : job.stage,
                         shardsDone: committed ? shardCount : done.count, shardCount: shardCount, classesDone: classesDone,
                         classCount: job.prepared?.classCount ?? 0, rowsWritten: rowsDone, totalRows: job.prepared?.totalRows ?? 0,
                         workers: workerCount(of: id),
                         elapsedSeconds: (job.finished ?? Date()).timeIntervalSince(job.started), output: job.manifest.output,
                         error: job.error, training: job.training, verification: job.spot?.summary(excluded: job.liars), kernels: job.kernels)
    }

    mutating func sendStatus(_ client: Identity, _ id: String?) {
        if let id, jobs[id] == nil {
            send(client, WireMessage(ErrorReply(code: "unknown-job", message: "no job \(id); `tailforge status` lists jobs")))
            return
        }
        let ids = id.map { [$0] } ?? jobOrder
        let workerList = registry.workers.map { identity, worker in
            WorkerStatus(workerId: worker.name, name: worker.name, host: worker.host, busyWith: worker.activity.reference,
                         secondsSinceHeartbeat: liveness.silence(of: identity).map { Double($0.components.seconds) + Double($0.components.attoseconds) * 1e-18 } ?? 0,
                         quarantined: worker.quarantine, consecutiveFailures: worker.consecutiveFailures, blasCore: worker.blasCore,
                         training: trainingParts(of: identity))
        }.sorted { $0.workerId < $1.workerId }
        send(client, WireMessage(StatusReply(jobs: ids.compactMap(status), workers: workerList, toolVersion: configuration.toolVersion,
                                             blasCore: BLAS.coreName)))
    }

    /// How many workers take part in job `id` (``participants(in:board:registry:serving:)``).
    func workerCount(of id: String) -> Int {
        let serving = Set(training.sessions.keys.filter { trainingJob(ofSession: $0) == id }.flatMap { training.owners(of: $0) })
        return Self.participants(in: id, board: jobs[id]?.board, registry: registry, serving: serving).count
    }

    /// The registered workers taking part in job `id`: computing or draining an attempt of it, serving a result's file
    /// to the coordinator or awaiting its check (`board`), or serving parts of its fit (`serving`: while a job trains,
    /// its workers hold its rows and answer each evaluation without any shard to compute).
    ///
    /// Not only the workers computing at this instant: a worker is idle from its report until its next assignment,
    /// and when the coordinator's fetches and checks trail the workers, every commit that moves the shard count —
    /// the moment `wait` prints a line off a terminal — comes after the workers finished computing, so "computing"
    /// said 0 in every such line while the job was still waiting on them.
    static func participants(in id: String, board: ShardBoard?, registry: WorkerRegistry, serving: Set<Identity>) -> Set<Identity> {
        let holding = registry.holding(job: id).map(\.identity)
        let waitedOn = (board?.participants ?? []).union(serving).filter { registry[$0] != nil }
        return waitedOn.union(holding)
    }

    /// The training parts the worker behind `identity` serves, each with the job its session is a fit of.
    func trainingParts(of identity: Identity) -> [WorkerTrainingParts] {
        training.servedParts(by: identity).map { WorkerTrainingParts(session: $0.session, job: trainingJob(ofSession: $0.session), parts: $0.parts) }
    }

    mutating func publishProgress(_ id: String) {
        guard let clients = watchers[id], let status = status(id) else { return }
        for client in clients { send(client, WireMessage(JobProgress(status: status))) }
        if status.state.isTerminal { watchers[id] = nil }
    }
}
