import CoreMetrics
import Foundation
import Logging

/// The coordinator's I/O shell, owned by its network thread: it decodes messages, feeds them to the state
/// machines (`WorkerRegistry`, each job's `ShardBoard`, `ShardFetcher`, `TrainingSessions`), and carries out
/// what they decide: sending, journaling, background steps (planning, κ fallback, storing fetched shards,
/// gathering), and deleting files that are no longer needed.
struct CoordinatorLoop {
    typealias Identity = [UInt8]

    /// How often the loop looks at its clocks (heartbeats, liveness, shard timeouts, progress) when nothing
    /// arrives; messages and background outcomes wake it at once.
    static let timerTickMilliseconds = 20

    let runtime: CoordinatorRuntime
    let router: ZMQSocket
    /// Background outcomes (`runtime.post`); `wake` is readable when some are queued.
    let inbox: SocketMailbox<CoordinatorRuntime.CoordinatorEvent>
    let wake: ZMQSocket
    let journal: Journal
    var configuration: CoordinatorConfiguration { runtime.configuration }
    var log: Logger { runtime.logger }
    var registry: WorkerRegistry
    var liveness: LivenessTracker<Identity>
    var jobs: [String: JobRecord] = [:]
    var jobOrder: [String] = []
    var watchers: [String: Set<Identity>] = [:]
    var fetcher: ShardFetcher
    /// Open partial files of the fetches in `fetcher`, by request id.
    var fetchFiles: [Int: FileHandle] = [:]
    var lastHeartbeat = ContinuousClock.now
    var lastProgress = ContinuousClock.now
    var lastPurge = ContinuousClock.now
    /// The ROUTER's bound endpoint (a wildcard port resolved), for the status page.
    var endpoint: String
    /// Long enough ago that the first turn publishes a snapshot.
    var lastSnapshot = ContinuousClock.now - .seconds(60)
    var training = TrainingSessions()
    /// True while `resume` rebuilds the jobs: it admits queued jobs itself, in journal order.
    var resuming = false
    /// The trainers of jobs in their training stage that run here, by job.
    var trainers: [String: LocalTrainerLink] = [:]
    /// Jobs whose `train.trainer` names a worker.
    var namedTrainers: NamedTrainers

    init(runtime: CoordinatorRuntime, router: ZMQSocket, inbox: SocketMailbox<CoordinatorRuntime.CoordinatorEvent>, wake: ZMQSocket) throws {
        self.runtime = runtime
        self.router = router
        self.inbox = inbox
        self.wake = wake
        self.endpoint = (try? router.lastEndpoint) ?? runtime.configuration.bind
        self.journal = try Journal(directory: runtime.configuration.stateDirectory)
        self.liveness = LivenessTracker(livenessMilliseconds: runtime.configuration.heartbeat.livenessMilliseconds)
        self.registry = WorkerRegistry(quarantineAfter: runtime.configuration.quarantineAfter)
        self.fetcher = ShardFetcher(chunkBytes: runtime.configuration.chunkBytes)
        self.training.metrics = runtime.metrics
        self.namedTrainers = NamedTrainers(waitLimit: .milliseconds(Int64(runtime.configuration.trainerWaitSeconds * 1000)))
    }

    // MARK: - Loop

    mutating func run(until stop: StopSignal) throws {
        while !stop.isStopped {
            if try ZMQSocket.poll([router, wake], timeoutMilliseconds: Self.timerTickMilliseconds)[0] {
                while let (frames, userId, address) = try router.receiveAuthenticated(dontWait: true) {
                    let secure = configuration.security.isSecure
                    // Per-client limits count by key, or by address where there are no keys (--insecure).
                    let principal = (secure ? PeerRole.fingerprint(userId: userId).map { "key " + $0 } : address.map { "address " + $0 }) ?? "unknown"
                    handle(frames, role: secure ? PeerRole(userId: userId) : .unauthenticated, principal: principal)
                }
            }
            for event in inbox.drain(wake) { handle(event) }
            let now = ContinuousClock.now
            for dead in liveness.removeExpired(at: now) {
                workerGone(dead, reason: .workerLost, note: "silent for more than \(configuration.heartbeat.livenessMilliseconds) ms")
            }
            if now - lastHeartbeat >= .milliseconds(configuration.heartbeat.intervalMilliseconds) {
                lastHeartbeat = now
                for identity in registry.workers.keys { send(identity, WireMessage(Heartbeat())) }
            }
            checkTimeouts(now)
            tickTraining()
            tickNamedTrainers()
            schedule(now)
            if now - lastProgress >= .seconds(1) {
                lastProgress = now
                for job in watchers.keys { publishProgress(job) }
            }
            publishSnapshotIfDue(now)
            if now - lastPurge >= .seconds(60) {
                lastPurge = now
                purgeExpiredJobs()
            }
        }
        log.info("coordinator stopping; job state is in \(journal.path)")
    }

    mutating func send(_ identity: Identity, _ message: WireMessage) {
        do {
            try router.send([identity] + message.encode())
        } catch {
            if error == .hostUnreachable {
                log.debug("peer gone before \(message.type) could be sent")
            } else {
                log.warning("send \(message.type) failed: \(error)")
            }
        }
    }

    /// `role` nil: the connection carries no role the ZAP handler gave (cannot happen with ZAP enforced; refused).
    mutating func handle(_ frames: [[UInt8]], role: PeerRole? = .unauthenticated, principal: String = "unknown") {
        guard frames.count >= 1 else { return }
        let identity = frames[0]
        let message: WireMessage
        do {
            message = try WireMessage.decode(frames.dropFirst(), limits: configuration.limits)
        } catch {
            log.warning("rejected a message from peer \(printable(identity)): \(error)")
            runtime.metrics?.refused("malformed-message")
            send(identity, WireMessage(ErrorReply(code: error.code, message: error.description)))
            return
        }
        guard let role, role.permits(message.type) || isNamedTrainerMessage(message, from: identity) else {
            let reason = "a \(role?.rawValue ?? "unauthenticated") key may not send \(message.type); the coordinator's allow-list gives each key one role (workers/ or clients/)"
            log.warning("refused a message from peer \(printable(identity)): \(reason)")
            runtime.metrics?.refused("forbidden")
            send(identity, WireMessage(ErrorReply(code: "forbidden", message: reason)))
            return
        }
        if registry[identity] != nil { liveness.heard(from: identity) }
        if routeTraining(message, frames: Array(frames.dropFirst()), from: identity) { return }
        switch message.body {
        case let hello as Hello: register(identity, hello, principal: principal)
        case let heartbeat as Heartbeat:
            if requireRegistered(identity, message), let adopted = registry.heartbeat(identity, busyWith: heartbeat.busyWith) {
                adopt(identity, adopted)
            }
        case let progress as ShardProgress:
            if requireRegistered(identity, message) {
                jobs[progress.shard.job]?.board?.progress(progress.shard, worker: identity, at: .now)
            }
        case let result as ShardResult: if requireRegistered(identity, message) { shardFinished(identity, result, payloads: message.payloads) }
        case let failure as ShardFailure: if requireRegistered(identity, message) { shardFailed(identity, failure.shard, failure.effectiveReason) }
        case let request as DataRequest: serve(identity, request)
        case let chunk as DataChunk: fetched(identity, chunk, payloads: message.payloads)
        case let goodbye as Goodbye:
            guard let name = registry.name(of: identity) else { return }
            log.info("worker \(name) shut down gracefully, handing back \(goodbye.returning.count) shard(s)", metadata: LogMetadata.worker(name))
            workerGone(identity, reason: .returned, note: nil)
        case let error as ErrorReply:
            log.warning("peer \(printable(identity)) reported: \(error.code): \(error.message)")
        case let submit as SubmitJob: submitJob(identity, submit.manifest, principal: principal)
        case let status as StatusRequest: sendStatus(identity, status.job)
        case let cancel as CancelJob: cancelJob(identity, cancel.job)
        case let report as JobTrained: namedTrainerFinished(identity, report)
        case let watch as WatchJob:
            if jobs[watch.job] == nil {
                send(identity, WireMessage(ErrorReply(code: "unknown-job", message: "no job \(watch.job); `tailforge status` lists jobs")))
            } else {
                watchers[watch.job, default: []].insert(identity)
                publishProgress(watch.job)
            }
        default:
            let error = ProtocolError.unexpectedMessage(type: "\(message.type)", context: "by the coordinator")
            log.warning("rejected a message from peer \(printable(identity)): \(error)")
            send(identity, WireMessage(ErrorReply(code: error.code, message: error.description)))
        }
    }

    @discardableResult
    mutating func requireRegistered(_ identity: Identity, _ message: WireMessage) -> Bool {
        if registry[identity] != nil { return true }
        send(identity, WireMessage(ErrorReply(code: "not-registered", message: "say hello before \(message.type)")))
        return false
    }

    /// A peer identity for logs: its bytes as ASCII, each unprintable byte shown as `?` (identities are
    /// usually names a worker or client chose, not random bytes worth hex-dumping).
    func printable(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }

    func name(_ identity: Identity) -> String { registry.name(of: identity) ?? printable(identity) }

    // MARK: - Workers

    mutating func register(_ identity: Identity, _ hello: Hello, principal: String = "unknown") {
        guard hello.toolVersion == configuration.toolVersion else {
            let reason = "worker \(hello.workerName) on \(hello.host) runs TailForge \(hello.toolVersion) but the coordinator runs \(configuration.toolVersion); install the same release on every node"
            log.warning("refused: \(reason)", metadata: LogMetadata.worker(hello.workerName))
            runtime.metrics?.refused("version-mismatch")
            send(identity, WireMessage(Refuse(reason: reason)))
            return
        }
        if let other = registry.workers.values.first(where: { $0.name == hello.workerName && $0.identity != identity }),
           other.host != hello.host {
            let reason = "a worker named \(hello.workerName) is already registered from \(other.host) (pid \(other.processId)); give each worker a distinct --name"
            log.warning("refused: \(reason)", metadata: LogMetadata.worker(hello.workerName))
            runtime.metrics?.refused("duplicate-worker-name")
            send(identity, WireMessage(Refuse(reason: reason)))
            return
        }
        let known = registry.workers.values.contains { $0.name == hello.workerName }
        guard known || registry.workers.count < configuration.maxWorkers else {
            let reason = "the coordinator already has \(registry.workers.count) workers, its limit (coordinator --max-workers \(configuration.maxWorkers)); raise it or stop another worker"
            log.warning("refused worker \(hello.workerName) on \(hello.host): \(reason)")
            runtime.metrics?.refused("max-workers")
            send(identity, WireMessage(Refuse(reason: reason)))
            return
        }
        // A worker restarted under the same name supersedes its old connection, whose shards are lost.
        if let previous = registry.workers.values.first(where: { $0.name == hello.workerName && $0.identity != identity }) {
            workerGone(previous.identity, reason: .workerLost, note: "it registered again (pid \(hello.processId))")
        }
        switch registry.register(identity, hello, principal: principal) {
        case .registered(let name, _):
            log.info("worker \(name) registered from \(hello.host) (pid \(hello.processId), \(hello.threads) threads, OpenBLAS kernel \(registry[identity]?.blasCore ?? TrainingKernels.unknown))",
                     metadata: LogMetadata.worker(name))
            if let reference = hello.busyWith { adopt(identity, reference) }
        case .repeated:
            // Its earlier welcome crossed a "not-registered" reply: keep the record, so a shard assigned in
            // between is not forgotten and assigned twice.
            break
        }
        liveness.heard(from: identity)
        send(identity, WireMessage(Welcome(workerId: hello.workerName, toolVersion: configuration.toolVersion,
                                           heartbeatIntervalMilliseconds: configuration.heartbeat.intervalMilliseconds,
                                           livenessMilliseconds: configuration.heartbeat.livenessMilliseconds)))
    }

    /// A (re)registered worker is still computing `reference`: if that shard is pending here (a coordinator
    /// restart) its result is awaited instead of recomputed; otherwise (or when the worker is excluded from the
    /// job: its result would be refused) the worker drains it.
    mutating func adopt(_ identity: Identity, _ reference: ShardReference) {
        guard var job = jobs[reference.job], job.state == .running, let worker = registry[identity], !job.excludes(worker),
              job.board?.adopt(reference, worker: identity, at: .now) == true else {
            registry.abandoned(identity, reference)
            return
        }
        jobs[reference.job] = job
        log.info("\(reference) is still running on \(name(identity)); awaiting its result", metadata: LogMetadata.shard(reference, worker: name(identity)))
    }

    /// A worker is gone: lost (counts as an attempt of each shard it held) or returned its work gracefully.
    mutating func workerGone(_ identity: Identity, reason: ShardFailureReason, note: String?) {
        guard let worker = registry.remove(identity) else { return }
        liveness.forget(identity)
        namedTrainerLost(identity, worker: worker.name)
        if reason == .workerLost {
            log.warning("worker \(worker.name) lost (\(note ?? "no reason")); its shards go back to the queue", metadata: LogMetadata.worker(worker.name))
        }
        for fetch in fetcher.cancel(where: { $0.worker == identity }) { dropFetchFile(fetch) }
        for id in jobOrder {
            guard var job = jobs[id], job.state == .running, var board = job.board else { continue }
            let outcomes = board.workerGone(identity, name: worker.name, reason: reason)
            job.board = board
            jobs[id] = job
            for (shard, outcome) in outcomes {
                runtime.metrics?.attemptFailed(reason)
                if outcome == .requeued, reason.countsAsAttempt { runtime.metrics?.retries.increment() }
                if case .exhausted(let summary) = outcome {
                    fail(id, summary)
                    break
                }
                log.info("\(id): shard \(shard) back in the queue (\(reason))", metadata: LogMetadata.job(id).merging(["shard": "\(shard)", "worker": .string(worker.name)]) { $1 })
            }
        }
    }
}
