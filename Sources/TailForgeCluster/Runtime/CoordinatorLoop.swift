import Foundation
import Logging

/// The coordinator's I/O shell, owned by its network thread: it decodes messages, feeds them to the state
/// machines (`WorkerRegistry`, each job's `ShardBoard`, `ShardFetcher`, `TrainingSessions`), and carries out
/// what they decide: sending, journaling, background steps (planning, κ fallback, storing fetched shards,
/// gathering), and deleting files that are no longer needed.
struct CoordinatorLoop {
    typealias Identity = [UInt8]

    let runtime: CoordinatorRuntime
    let router: ZMQSocket
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
    var training = TrainingSessions()

    init(runtime: CoordinatorRuntime, router: ZMQSocket) throws {
        self.runtime = runtime
        self.router = router
        self.journal = try Journal(directory: runtime.configuration.stateDirectory)
        self.liveness = LivenessTracker(livenessMilliseconds: runtime.configuration.heartbeat.livenessMilliseconds)
        self.registry = WorkerRegistry(quarantineAfter: runtime.configuration.quarantineAfter)
        self.fetcher = ShardFetcher(chunkBytes: runtime.configuration.chunkBytes)
    }

    // MARK: - Loop

    mutating func run(until stop: StopSignal) throws {
        while !stop.isStopped {
            if try router.waitForInput(timeoutMilliseconds: 20) {
                while let frames = try router.receive(dontWait: true) {
                    handle(frames)
                }
            }
            for event in runtime.drainInbox() { handle(event) }
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
            schedule(now)
            if now - lastProgress >= .seconds(1) {
                lastProgress = now
                for job in watchers.keys { publishProgress(job) }
            }
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

    mutating func handle(_ frames: [[UInt8]]) {
        guard frames.count >= 1 else { return }
        let identity = frames[0]
        let message: WireMessage
        do {
            message = try WireMessage.decode(frames.dropFirst(), limits: configuration.limits)
        } catch {
            log.warning("rejected a message from peer \(hex(identity)): \(error)")
            send(identity, WireMessage(ErrorReply(code: error.code, message: error.description)))
            return
        }
        if registry[identity] != nil { liveness.heard(from: identity) }
        if routeTraining(message, frames: Array(frames.dropFirst()), from: identity) { return }
        switch message.body {
        case let hello as Hello: register(identity, hello)
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
            log.info("worker \(name) shut down gracefully, handing back \(goodbye.returning.count) shard(s)")
            workerGone(identity, reason: .returned, note: nil)
        case let error as ErrorReply:
            log.warning("peer \(hex(identity)) reported: \(error.code): \(error.message)")
        case let submit as SubmitJob: submitJob(identity, submit.manifest)
        case let status as StatusRequest: sendStatus(identity, status.job)
        case let cancel as CancelJob: cancelJob(identity, cancel.job)
        case let watch as WatchJob:
            if jobs[watch.job] == nil {
                send(identity, WireMessage(ErrorReply(code: "unknown-job", message: "no job \(watch.job); `tailforge status` lists jobs")))
            } else {
                watchers[watch.job, default: []].insert(identity)
                publishProgress(watch.job)
            }
        default:
            let error = ProtocolError.unexpectedMessage(type: "\(message.type)", context: "by the coordinator")
            log.warning("rejected a message from peer \(hex(identity)): \(error)")
            send(identity, WireMessage(ErrorReply(code: error.code, message: error.description)))
        }
    }

    @discardableResult
    mutating func requireRegistered(_ identity: Identity, _ message: WireMessage) -> Bool {
        if registry[identity] != nil { return true }
        send(identity, WireMessage(ErrorReply(code: "not-registered", message: "say hello before \(message.type)")))
        return false
    }

    func hex(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }

    func name(_ identity: Identity) -> String { registry.name(of: identity) ?? hex(identity) }

    // MARK: - Workers

    mutating func register(_ identity: Identity, _ hello: Hello) {
        guard hello.toolVersion == configuration.toolVersion else {
            let reason = "worker \(hello.workerName) on \(hello.host) runs TailForge \(hello.toolVersion) but the coordinator runs \(configuration.toolVersion); install the same release on every node"
            log.warning("refused: \(reason)")
            send(identity, WireMessage(Refuse(reason: reason)))
            return
        }
        if let other = registry.workers.values.first(where: { $0.name == hello.workerName && $0.identity != identity }),
           other.host != hello.host {
            let reason = "a worker named \(hello.workerName) is already registered from \(other.host) (pid \(other.processId)); give each worker a distinct --name"
            log.warning("refused: \(reason)")
            send(identity, WireMessage(Refuse(reason: reason)))
            return
        }
        // A worker restarted under the same name supersedes its old connection, whose shards are lost.
        if let previous = registry.workers.values.first(where: { $0.name == hello.workerName && $0.identity != identity }) {
            workerGone(previous.identity, reason: .workerLost, note: "it registered again (pid \(hello.processId))")
        }
        switch registry.register(identity, hello) {
        case .registered(let name, _):
            log.info("worker \(name) registered from \(hello.host) (pid \(hello.processId), \(hello.threads) threads)")
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
    /// restart) its result is awaited instead of recomputed; otherwise the worker drains it.
    mutating func adopt(_ identity: Identity, _ reference: ShardReference) {
        guard var job = jobs[reference.job], job.state == .running, job.board?.adopt(reference, worker: identity, at: .now) == true else {
            registry.abandoned(identity, reference)
            return
        }
        jobs[reference.job] = job
        log.info("\(reference) is still running on \(name(identity)); awaiting its result")
    }

    /// A worker is gone: lost (counts as an attempt of each shard it held) or returned its work gracefully.
    mutating func workerGone(_ identity: Identity, reason: ShardFailureReason, note: String?) {
        guard let worker = registry.remove(identity) else { return }
        liveness.forget(identity)
        if reason == .workerLost {
            log.warning("worker \(worker.name) lost (\(note ?? "no reason")); its shards go back to the queue")
        }
        for fetch in fetcher.cancel(where: { $0.worker == identity }) { dropFetchFile(fetch) }
        for id in jobOrder {
            guard var job = jobs[id], job.state == .running, var board = job.board else { continue }
            let outcomes = board.workerGone(identity, name: worker.name, reason: reason)
            job.board = board
            jobs[id] = job
            for (shard, outcome) in outcomes {
                if case .exhausted(let summary) = outcome {
                    fail(id, summary)
                    break
                }
                log.info("\(id): shard \(shard) back in the queue (\(reason))")
            }
        }
    }

    // MARK: - Scheduling

    mutating func schedule(_ now: ContinuousClock.Instant) {
        var candidates = registry.assignable
        guard !candidates.isEmpty else { return }
        let healthy = registry.healthyNames
        for id in jobOrder {
            guard let job = jobs[id], job.state == .running, let prepared = job.prepared, let board = job.board else { continue }
            if job.stage == .synthesis && job.resolved == nil { continue }
            for index in board.pending {
                guard !candidates.isEmpty else { return }
                guard let worker = board.pick(for: index, from: candidates, healthy: healthy) else { continue }
                candidates.removeAll { $0.identity == worker.identity }
                assign(id, shard: index, prepared: prepared, to: worker.identity, at: now)
            }
        }
    }

    mutating func assign(_ id: String, shard index: Int, prepared: PreparedJob, to identity: Identity, at now: ContinuousClock.Instant) {
        guard var job = jobs[id], var board = job.board else { return }
        let reference = board.assign(index, to: identity, at: now)
        job.board = board
        jobs[id] = job
        let manifest = job.manifest
        let input = InputLocation(path: manifest.input.path, sha256: prepared.inputSHA256, byteCount: prepared.inputBytes,
                                  streamed: manifest.transfer.streamInput ?? false)
        let assignment = AssignShard(shard: reference, job: manifest, input: input, classes: prepared.shards[index],
                                     sharedShardDirectory: manifest.transfer.sharedShardDirectory)
        let payloads = job.stage == .synthesis ? [WireMessage.float32Payload(job.resolved![index])] : []
        registry.assigned(identity, reference)
        log.info("assigned \(reference) to \(name(identity))")
        send(identity, WireMessage(assignment, payloads: payloads))
    }

    /// The no-progress window of a shard of `job`.
    func timeoutWindow(_ job: JobRecord, shard: Int) -> Duration {
        guard let prepared = job.prepared else { return ShardTimeout.seconds(ShardTimeout.maximumSeconds) }
        let streamed = job.manifest.transfer.streamInput == true ? prepared.inputBytes : 0
        return ShardTimeout.window(manifestSeconds: job.manifest.sharding.shardTimeoutSeconds, classes: prepared.shards[shard],
                                   dimension: prepared.dimension, streamedBytes: streamed)
    }

    mutating func checkTimeouts(_ now: ContinuousClock.Instant) {
        for id in jobOrder {
            guard let job = jobs[id], job.state == .running, let board = job.board else { continue }
            for expired in board.expired(at: now, window: { timeoutWindow(job, shard: $0) }) {
                let window = timeoutWindow(job, shard: expired.reference.shard)
                let seconds = Double(window.components.seconds) + Double(window.components.attoseconds) * 1e-18
                // The worker keeps computing until it sees the cancel: it drains, and is not offered a shard it
                // would refuse as busy.
                send(expired.worker, WireMessage(CancelShard(job: id)))
                registry.abandoned(expired.worker, expired.reference)
                attemptFailed(expired.worker, expired.reference, .timedOut(seconds: seconds))
            }
        }
    }

    /// Applies a failure of the current attempt `reference` on `identity` to its board and the worker's health.
    mutating func attemptFailed(_ identity: Identity, _ reference: ShardReference, _ reason: ShardFailureReason) {
        guard var job = jobs[reference.job], job.state == .running, var board = job.board else { return }
        let workerName = name(identity)
        let outcome = board.failed(reference, worker: identity, name: workerName, reason: reason)
        job.board = board
        jobs[reference.job] = job
        guard outcome != .stale else { return }
        log.warning("\(reference) failed on \(workerName): \(reason)")
        if registry.failed(identity, reason), let worker = registry[identity] {
            log.error("worker \(worker.name) quarantined: \(worker.quarantine ?? ""); it gets no shards until it registers again")
        }
        if case .exhausted(let summary) = outcome { fail(reference.job, summary) }
    }

    mutating func shardFailed(_ identity: Identity, _ reference: ShardReference, _ reason: ShardFailureReason) {
        if case .busy(let other) = reason {
            // Not an attempt: the shard never started there. The worker drains what it is busy with.
            registry.busy(identity, with: other)
            guard var job = jobs[reference.job], var board = job.board else { return }
            _ = board.failed(reference, worker: identity, name: name(identity), reason: reason)
            job.board = board
            jobs[reference.job] = job
            return
        }
        registry.reported(identity, reference)
        attemptFailed(identity, reference, reason)
    }

    mutating func shardFinished(_ identity: Identity, _ result: ShardResult, payloads: [[UInt8]]) {
        let reference = result.shard
        registry.reported(identity, reference)
        guard var job = jobs[reference.job], job.state == .running, var board = job.board, let prepared = job.prepared,
              board.isCurrent(reference, worker: identity) else {
            discardStale(result, from: identity)
            return
        }
        let classes = prepared.shards[reference.shard]
        switch reference.stage {
        case .concentrations:
            let expected = classes.reduce(0) { $0 + $1.realCount }
            guard payloads.count == 1, let kappas = WireMessage.float32Values(payloads[0]), kappas.count == expected,
                  FileDigest.sha256(of: payloads[0]) == result.sha256 else {
                attemptFailed(identity, reference, .invalidResult("expected \(expected) float32 κ values and a matching SHA-256"))
                return
            }
            let path = (job.directory as NSString).appendingPathComponent("kappa-\(reference.shard).f32")
            do {
                try Data(payloads[0]).write(to: URL(fileURLWithPath: path), options: .atomic)
                try journal.append(JournalEntry(event: .kappas, job: job.id, shard: reference.shard, sha256: result.sha256, path: path))
            } catch {
                fail(job.id, "cannot persist κ of shard \(reference.shard) in \(path): \(error)")
                return
            }
            registry.succeeded(identity)
            job.stageOneKappas[reference.shard] = kappas
            board.recordResult(reference.shard, seconds: result.seconds, bytes: nil)
            board.done(reference.shard)
            job.board = board
            jobs[job.id] = job
            advance(job.id)
        case .synthesis:
            guard result.rowsPerClass == classes.map(\.outputCount) else {
                attemptFailed(identity, reference, .invalidResult("rows \(result.rowsPerClass), the plan expects \(classes.map(\.outputCount))"))
                return
            }
            board.recordResult(reference.shard, seconds: result.seconds, bytes: result.byteCount)
            registry.succeeded(identity)
            if let shared = job.manifest.transfer.sharedShardDirectory, let path = result.path, path.hasPrefix(shared) {
                job.board = board
                jobs[job.id] = job
                commitShard(job.id, reference.shard, path: path, sha256: result.sha256)
            } else if let path = result.path {
                board.fetching(reference, worker: identity)
                job.board = board
                jobs[job.id] = job
                startFetch(reference, from: identity, remotePath: path, sha256: result.sha256, total: result.byteCount)
            } else {
                job.board = board
                jobs[job.id] = job
                attemptFailed(identity, reference, .invalidResult("shard result without a file path"))
            }
        }
    }

    /// A result nobody waits for (a timed-out or superseded attempt, a finished job): its file is deleted where
    /// it landed.
    mutating func discardStale(_ result: ShardResult, from identity: Identity) {
        guard let path = result.path else { return }
        log.info("discarding the result of \(result.shard) from \(name(identity)): the attempt is no longer current")
        if let shared = jobs[result.shard.job]?.manifest.transfer.sharedShardDirectory, path.hasPrefix(shared) {
            try? FileManager.default.removeItem(atPath: path)
        } else {
            send(identity, WireMessage(DiscardShardFile(shard: result.shard, path: path)))
        }
    }

    mutating func commitShard(_ id: String, _ shard: Int, path: String, sha256: String) {
        do {
            try journal.append(JournalEntry(event: .shard, job: id, shard: shard, sha256: sha256, path: path))
        } catch {
            fail(id, "cannot journal shard \(shard): \(error)")
            return
        }
        jobs[id]?.board?.done(shard, file: path, sha256: sha256)
        advance(id)
    }

    // MARK: - Job life cycle

    mutating func submitJob(_ client: Identity, _ manifest: JobManifest) {
        let live = jobOrder.compactMap { jobs[$0] }.filter { !$0.state.isTerminal }.map { OutputCheck.LiveJob(job: $0.id, output: $0.manifest.output) }
        do {
            try manifest.validate(source: "the submitted manifest")
            try OutputCheck.check(manifest, against: live)
        } catch {
            send(client, WireMessage(ErrorReply(code: "invalid-manifest", message: error.description)))
            return
        }
        let id = "job-" + String(UInt64(Date().timeIntervalSince1970 * 1000), radix: 36) + "-" + String(UInt16.random(in: 0...UInt16.max), radix: 36)
        do {
            try journal.append(JournalEntry(event: .submitted, job: id, manifest: manifest))
        } catch {
            log.error("refused a job: \(error)")
            send(client, WireMessage(ErrorReply(code: "journal", message: "the coordinator cannot journal the job: \(error)")))
            return
        }
        jobs[id] = JobRecord(id: id, manifest: manifest, directory: jobDirectory(id))
        jobOrder.append(id)
        log.info("job \(id) submitted: \(manifest.input.path) → \(manifest.output)")
        send(client, WireMessage(JobAccepted(job: id)))
        startPreparing(id)
    }

    func jobDirectory(_ job: String) -> String {
        let path = (configuration.stateDirectory as NSString).appendingPathComponent("jobs/\(job)")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func maxAttempts(_ manifest: JobManifest) -> Int {
        manifest.sharding.maxAttempts ?? configuration.maxAttempts
    }

    mutating func startPreparing(_ id: String) {
        guard let manifest = jobs[id]?.manifest else { return }
        let shardCount = manifest.sharding.shards ?? max(1, 4 * registry.workers.count)
        let backend = runtime.backend
        jobs[id]?.stageStarted = Date()
        runtime.background {
            do { return .prepared(job: id, .success(try backend.prepare(manifest, shardCount: shardCount))) }
            catch { return .prepared(job: id, .failure(.init(message: "\(error)"))) }
        }
    }

    mutating func startResolving(_ id: String) {
        guard let job = jobs[id], let prepared = job.prepared else { return }
        let stageOne = prepared.shards.indices.map { job.stageOneKappas[$0] ?? [] }
        let backend = runtime.backend
        let manifest = job.manifest
        runtime.background {
            do {
                let (kappas, fallback) = try backend.resolveKappas(manifest, prepared, stageOne: stageOne)
                return .resolved(job: id, .success(.init(kappas: kappas, fallback: fallback)))
            } catch { return .resolved(job: id, .failure(.init(message: "\(error)"))) }
        }
    }

    mutating func handle(_ event: CoordinatorRuntime.CoordinatorEvent) {
        switch event {
        case .prepared(let id, .success(let prepared)):
            guard var job = jobs[id], job.state == .queued else { return }
            if let refusal = PlanLimits.refusal(prepared, workerMemoryBytes: configuration.workerMemoryBytes) {
                fail(id, "the plan cannot run: \(refusal)")
                return
            }
            do { try journal.append(JournalEntry(event: .prepared, job: id, prepared: prepared)) } catch {
                fail(id, "cannot journal the plan: \(error)")
                return
            }
            job.prepared = prepared
            job.board = job.makeBoard(.concentrations, maxAttempts: maxAttempts(job.manifest))
            job.state = .running
            jobs[id] = job
            lap(id, "plan")
            log.info("job \(id): \(prepared.shards.count) shards over \(prepared.classCount) classes, \(prepared.totalRows) output rows")
            advance(id)
        case .resolved(let id, .success(let resolved)):
            guard jobs[id]?.state == .running else { return }
            jobs[id]?.resolved = resolved.kappas
            jobs[id]?.fallback = resolved.fallback
            advance(id)
        case .gathered(let id, .success(let report)):
            guard jobs[id]?.state == .gathering else { return }
            jobs[id]?.outputSHA256 = report.outputSHA256
            lap(id, "gather")
            writeResolvedManifest(id)
            do { try journal.append(JournalEntry(event: .committed, job: id, sha256: report.outputSHA256, path: jobs[id]?.manifest.output)) } catch {
                log.error("cannot journal the commit of \(id) (the output is published; after a restart the job gathers again): \(error)")
            }
            jobs[id]?.state = .committed
            jobs[id]?.finished = Date()
            log.info("job \(id) committed: \(report.rows) rows, SHA-256 \(report.outputSHA256)")
            // The output holds every row now; the job's copies of shards and κ are dead weight (shards in a
            // shared directory belong to the user and stay).
            if let directory = jobs[id]?.directory { try? FileManager.default.removeItem(atPath: directory) }
            publishProgress(id)
        case .stored(let fetch, .success):
            storedFetch(fetch)
        case .stored(let fetch, .failure(let error)):
            try? FileManager.default.removeItem(atPath: fetch.partialPath)
            try? FileManager.default.removeItem(atPath: fetch.localPath)
            fail(fetch.reference.job, "cannot store shard \(fetch.reference.shard) at \(fetch.localPath): \(error.message)")
        case .prepared(let id, .failure(let error)), .resolved(let id, .failure(let error)), .gathered(let id, .failure(let error)):
            fail(id, error.message)
        }
    }

    mutating func lap(_ id: String, _ stage: String) {
        guard let started = jobs[id]?.stageStarted else { return }
        jobs[id]?.stageSeconds[stage] = Date().timeIntervalSince(started)
        jobs[id]?.stageStarted = Date()
    }

    /// Moves a job to its next stage once every shard of the current one is done.
    mutating func advance(_ id: String) {
        guard var job = jobs[id], job.state == .running, let prepared = job.prepared, let board = job.board, board.allDone else { return }
        switch job.stage {
        case .concentrations:
            lap(id, "concentrations")
            job = jobs[id]!
            job.stage = .synthesis
            job.board = job.makeBoard(.synthesis, maxAttempts: maxAttempts(job.manifest))
            jobs[id] = job
            startResolving(id)
        case .synthesis:
            // Gathering needs the fallback κ (an output attribute): wait for it after a resume.
            guard job.resolved != nil else { return }
            lap(id, "synthesis")
            jobs[id]?.state = .gathering
            let files = board.slots.map { ShardFile(path: $0.file ?? "", sha256: $0.sha256 ?? "") }
            let backend = runtime.backend
            let manifest = job.manifest
            let fallback = job.fallback
            runtime.background {
                do {
                    return .gathered(job: id, .success(try backend.gather(manifest, prepared, shards: files, fallback: fallback)))
                } catch { return .gathered(job: id, .failure(.init(message: "\(error)"))) }
            }
        }
        publishProgress(id)
    }

    /// Fails one job (only that one): journals it if it can, stops its work everywhere and deletes its files.
    mutating func fail(_ id: String, _ message: String) {
        guard let job = jobs[id], !job.state.isTerminal else { return }
        log.error("job \(id) failed: \(message)")
        do { try journal.append(JournalEntry(event: .failed, job: id, message: message)) } catch {
            log.error("cannot journal the failure of \(id) (after a restart it resumes): \(error)")
        }
        jobs[id]?.state = .failed
        jobs[id]?.error = message
        jobs[id]?.finished = Date()
        endJob(id)
        publishProgress(id)
    }

    mutating func cancelJob(_ client: Identity, _ id: String) {
        guard let job = jobs[id] else {
            send(client, WireMessage(CancelReply(job: id, cancelled: false, message: "no job \(id); `tailforge status` lists jobs")))
            return
        }
        guard !job.state.isTerminal else {
            send(client, WireMessage(CancelReply(job: id, cancelled: false, message: "job \(id) is already \(job.state.rawValue)")))
            return
        }
        do { try journal.append(JournalEntry(event: .cancelled, job: id)) } catch {
            log.error("cannot journal the cancellation of \(id) (after a restart it resumes): \(error)")
        }
        jobs[id]?.state = .cancelled
        jobs[id]?.finished = Date()
        endJob(id)
        log.info("job \(id) cancelled")
        send(client, WireMessage(CancelReply(job: id, cancelled: true, message: "job \(id) cancelled")))
        publishProgress(id)
    }

    /// A cancelled or failed job: every worker stops it and deletes its files; the coordinator drops its fetches,
    /// its directory and its attempts' files in a shared shard directory.
    mutating func endJob(_ id: String) {
        for worker in registry.holding(job: id) {
            registry.abandoned(worker.identity, worker.activity.reference!)
        }
        for identity in registry.workers.keys {
            send(identity, WireMessage(CancelShard(job: id, purge: true)))
        }
        for fetch in fetcher.cancel(where: { $0.reference.job == id }) { dropFetchFile(fetch) }
        guard let job = jobs[id] else { return }
        try? FileManager.default.removeItem(atPath: job.directory)
        if let shared = job.manifest.transfer.sharedShardDirectory {
            Housekeeping.removeShardFiles(ofJob: id, in: shared)
        }
    }

    // MARK: - Status

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
                         workers: registry.holding(job: id).count,
                         elapsedSeconds: (job.finished ?? Date()).timeIntervalSince(job.started), output: job.manifest.output,
                         error: job.error)
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
                         quarantined: worker.quarantine, consecutiveFailures: worker.consecutiveFailures)
        }.sorted { $0.workerId < $1.workerId }
        send(client, WireMessage(StatusReply(jobs: ids.compactMap(status), workers: workerList)))
    }

    mutating func publishProgress(_ id: String) {
        guard let clients = watchers[id], let status = status(id) else { return }
        for client in clients { send(client, WireMessage(JobProgress(status: status))) }
        if status.state.isTerminal { watchers[id] = nil }
    }

    // MARK: - Data

    mutating func serve(_ identity: Identity, _ request: DataRequest) {
        guard case .input(let id) = request.resource, let job = jobs[id], !job.state.isTerminal else {
            send(identity, WireMessage(DataChunk(requestId: request.requestId, resource: request.resource, offset: request.offset,
                                                 totalBytes: 0, error: "the coordinator serves only the inputs of its live jobs")))
            return
        }
        let length = min(request.length, configuration.chunkBytes)
        let (bytes, total, error) = FileChunks.read(path: job.manifest.input.path, offset: request.offset, length: length)
        send(identity, WireMessage(DataChunk(requestId: request.requestId, resource: request.resource, offset: request.offset,
                                             totalBytes: total, error: error), payloads: error == nil ? [bytes] : []))
    }

    mutating func startFetch(_ reference: ShardReference, from worker: Identity, remotePath: String, sha256: String, total: Int64) {
        guard let job = jobs[reference.job] else { return }
        let localPath = (job.directory as NSString).appendingPathComponent("shard-\(reference.shard).h5")
        let (fetch, request) = fetcher.start(reference, from: worker, remotePath: remotePath, localPath: localPath, sha256: sha256, total: total)
        _ = FileManager.default.createFile(atPath: fetch.partialPath, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: fetch.partialPath) else {
            _ = fetcher.cancel { $0.requestId == fetch.requestId }
            fail(reference.job, "cannot write \(fetch.partialPath)")
            return
        }
        fetchFiles[fetch.requestId] = handle
        send(worker, WireMessage(request))
    }

    mutating func fetched(_ identity: Identity, _ chunk: DataChunk, payloads: [[UInt8]]) {
        let bytes = payloads.first ?? []
        switch fetcher.received(chunk, bytes: bytes.count, from: identity) {
        case .ignore:
            return
        case .failed(let fetch, let reason):
            dropFetchFile(fetch)
            registry.reported(identity, fetch.reference)
            attemptFailed(identity, fetch.reference, .fetchFailed(reason))
        case .write(let fetch, let next):
            do { try fetchFiles[fetch.requestId]?.write(contentsOf: bytes) } catch {
                dropFetchFile(fetch)
                _ = fetcher.cancel { $0.requestId == fetch.requestId }
                fail(fetch.reference.job, "cannot write \(fetch.partialPath): \(error)")
                return
            }
            if let next {
                send(identity, WireMessage(next))
                return
            }
            // Complete: fsync and rename off this thread (a multi-GB fsync must not stall heartbeats).
            guard let handle = fetchFiles.removeValue(forKey: fetch.requestId) else { return }
            jobs[fetch.reference.job]?.board?.storing(fetch.reference, worker: identity)
            runtime.background {
                do {
                    try handle.synchronize()
                    try handle.close()
                    try? FileManager.default.removeItem(atPath: fetch.localPath)
                    try FileManager.default.moveItem(atPath: fetch.partialPath, toPath: fetch.localPath)
                    return .stored(fetch, .success(()))
                } catch {
                    try? handle.close()
                    return .stored(fetch, .failure(.init(message: "\(error)")))
                }
            }
        }
    }

    mutating func storedFetch(_ fetch: ShardFetcher.Fetch) {
        guard let job = jobs[fetch.reference.job], job.state == .running, job.board?.isStoring(fetch.reference) == true else {
            // The job ended (or the attempt was superseded) while the file was being stored.
            try? FileManager.default.removeItem(atPath: fetch.localPath)
            return
        }
        // The SHA-256 is verified at gather time, off this thread, with every other shard.
        commitShard(fetch.reference.job, fetch.reference.shard, path: fetch.localPath, sha256: fetch.expectedSHA256)
    }

    mutating func dropFetchFile(_ fetch: ShardFetcher.Fetch) {
        try? fetchFiles.removeValue(forKey: fetch.requestId)?.close()
        try? FileManager.default.removeItem(atPath: fetch.partialPath)
    }

    // MARK: - Resolved manifest

    func writeResolvedManifest(_ id: String) {
        guard let job = jobs[id], let prepared = job.prepared, let board = job.board else { return }
        let resolved = ResolvedManifest(
            job: id, toolVersion: configuration.toolVersion, manifest: job.manifest, inputSHA256: prepared.inputSHA256,
            outputSHA256: job.outputSHA256 ?? "", fallbackKappa: job.fallback.map(Double.init),
            shards: prepared.shards.indices.map { index in
                ResolvedManifest.Shard(index: index, classes: prepared.shards[index].map(\.classId),
                                       rows: prepared.shards[index].reduce(0) { $0 + $1.outputCount },
                                       estimatedCost: prepared.shardCosts[index], sha256: board.slots[index].sha256 ?? "",
                                       seconds: board.slots[index].seconds, bytes: board.slots[index].bytes)
            },
            stageSeconds: job.stageSeconds, totalSeconds: Date().timeIntervalSince(job.started), submitted: job.started)
        do {
            try resolved.write(to: ResolvedManifest.path(forOutput: job.manifest.output))
        } catch {
            log.error("cannot write the resolved manifest of \(id): \(error)")
        }
    }
}
