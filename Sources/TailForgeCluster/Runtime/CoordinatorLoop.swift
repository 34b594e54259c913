import Foundation
import Logging

/// One registered worker.
struct WorkerRecord {
    var id: String
    var name: String
    var host: String
    var busyWith: ShardReference?
}

/// One shard of a job, for the current stage.
struct ShardRecord {
    enum State: Equatable { case pending, running(worker: [UInt8], since: ContinuousClock.Instant), fetching, done }
    var state: State = .pending
    var attempt = 0
    var errors: [String] = []
    var file: String?
    var sha256: String?
    var seconds: Double = 0
    /// Size of the shard file its worker reported.
    var bytes: Int64?
}

/// A job and everything the coordinator knows about it.
struct JobRecord {
    var id: String
    var manifest: JobManifest
    var state: JobState = .queued
    var prepared: PreparedJob?
    var stage: ShardStage = .concentrations
    var shards: [ShardRecord] = []
    var stageOneKappas: [Int: [Float]] = [:]
    var resolved: [[Float]]?
    var fallback: Float?
    var error: String?
    var started = Date()
    /// When the job became committed, failed or cancelled (for `status`'s duration).
    var finished: Date?
    var stageSeconds: [String: Double] = [:]
    var stageStarted = Date()
    var outputSHA256: String?

    var maxAttempts: Int { manifest.sharding.maxAttempts ?? 3 }
    var directory: String = ""
}

/// An in-progress copy of a shard file from the worker that wrote it.
struct ShardFetch {
    var job: String
    var shard: Int
    var worker: [UInt8]
    var remotePath: String
    var localPath: String
    var expectedSHA256: String
    var total: Int64
    var received: Int64 = 0
    var handle: FileHandle
}

/// The coordinator's state, owned by its network thread.
struct CoordinatorLoop {
    let runtime: CoordinatorRuntime
    let router: ZMQSocket
    let journal: Journal
    var configuration: CoordinatorConfiguration { runtime.configuration }
    var log: Logger { runtime.logger }
    var workers: [[UInt8]: WorkerRecord] = [:]
    var liveness: LivenessTracker<[UInt8]>
    var jobs: [String: JobRecord] = [:]
    var jobOrder: [String] = []
    var watchers: [String: Set<[UInt8]>] = [:]
    var fetches: [Int: ShardFetch] = [:]
    var nextRequestId = 1
    var nextWorkerNumber = 1
    var lastHeartbeat = ContinuousClock.now
    var lastProgress = ContinuousClock.now
    var training = TrainingSessions()

    init(runtime: CoordinatorRuntime, router: ZMQSocket) throws {
        self.runtime = runtime
        self.router = router
        self.journal = try Journal(directory: runtime.configuration.stateDirectory)
        self.liveness = LivenessTracker(livenessMilliseconds: runtime.configuration.heartbeat.livenessMilliseconds)
    }

    // MARK: - Resume

    /// Rebuilds unfinished jobs from the journal; committed shards are not redone.
    mutating func resume() throws {
        var committed: [String: [Int: (path: String, sha256: String)]] = [:]
        for entry in try journal.entries() {
            switch entry.event {
            case .submitted:
                guard let manifest = entry.manifest else { continue }
                var job = JobRecord(id: entry.job, manifest: manifest)
                job.directory = jobDirectory(entry.job)
                job.started = entry.time
                jobs[entry.job] = job
                jobOrder.append(entry.job)
            case .prepared:
                guard let prepared = entry.prepared else { continue }
                jobs[entry.job]?.prepared = prepared
                jobs[entry.job]?.state = .running
            case .kappas:
                // Only κ whose file still matches its journaled digest count as done.
                guard let shard = entry.shard, let path = entry.path,
                      let data = FileManager.default.contents(atPath: path),
                      FileDigest.sha256(of: [UInt8](data)) == entry.sha256,
                      let values = WireMessage.float32Values([UInt8](data)) else { continue }
                jobs[entry.job]?.stageOneKappas[shard] = values
            case .shard:
                guard let shard = entry.shard, let path = entry.path, let sha256 = entry.sha256 else { continue }
                committed[entry.job, default: [:]][shard] = (path, sha256)
            case .committed: jobs[entry.job]?.state = .committed
            case .failed: jobs[entry.job]?.state = .failed; jobs[entry.job]?.error = entry.message
            case .cancelled: jobs[entry.job]?.state = .cancelled
            }
            if [.committed, .failed, .cancelled].contains(entry.event) { jobs[entry.job]?.finished = entry.time }
        }
        for id in jobOrder where !(jobs[id]!.state.isTerminal) {
            // A manifest journaled by a release with looser checks must fail its job, not trap on every restart.
            do { try jobs[id]!.manifest.validate(source: "job \(id)") } catch {
                fail(id, "its journaled manifest is invalid: \(error.reason)")
                continue
            }
            guard let prepared = jobs[id]!.prepared else {
                log.info("resuming job \(id): planning")
                startPreparing(id)
                continue
            }
            var shards = Array(repeating: ShardRecord(), count: prepared.shards.count)
            let kappasDone = jobs[id]!.stageOneKappas.count
            if kappasDone == prepared.shards.count {
                for (index, file) in committed[id] ?? [:] {
                    shards[index].state = .done
                    shards[index].file = file.path
                    shards[index].sha256 = file.sha256
                }
                jobs[id]!.stage = .synthesis
                jobs[id]!.shards = shards
                log.info("resuming job \(id): synthesis, \(committed[id]?.count ?? 0) of \(shards.count) shards committed")
                startResolving(id)
            } else {
                for index in jobs[id]!.stageOneKappas.keys { shards[index].state = .done }
                jobs[id]!.stage = .concentrations
                jobs[id]!.shards = shards
                log.info("resuming job \(id): concentrations, \(kappasDone) of \(shards.count) shards committed")
                advance(id)
            }
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

    func jobDirectory(_ job: String) -> String {
        let path = (configuration.stateDirectory as NSString).appendingPathComponent("jobs/\(job)")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    mutating func resetShards(_ id: String) {
        guard let count = jobs[id]?.shards.count else { return }
        jobs[id]?.shards = Array(repeating: ShardRecord(), count: count)
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
            for dead in liveness.removeExpired(at: now) { workerLost(dead, reason: "silent for more than \(configuration.heartbeat.livenessMilliseconds) ms") }
            if now - lastHeartbeat >= .milliseconds(configuration.heartbeat.intervalMilliseconds) {
                lastHeartbeat = now
                for identity in workers.keys { send(identity, WireMessage(Heartbeat())) }
            }
            checkTimeouts(now)
            tickTraining()
            schedule()
            if now - lastProgress >= .seconds(1) {
                lastProgress = now
                for job in watchers.keys { publishProgress(job) }
            }
        }
        log.info("coordinator stopping; job state is in \(journal.path)")
    }

    mutating func send(_ identity: [UInt8], _ message: WireMessage) {
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
        if workers[identity] != nil { liveness.heard(from: identity) }
        if routeTraining(message, frames: Array(frames.dropFirst()), from: identity) { return }
        switch message.body {
        case let hello as Hello: register(identity, hello)
        case let heartbeat as Heartbeat:
            if requireRegistered(identity, message), let reference = heartbeat.busyWith, workers[identity]?.busyWith == nil {
                adopt(identity, reference)
            }
        case let progress as ShardProgress: requireRegistered(identity, message); _ = progress
        case let result as ShardResult: if requireRegistered(identity, message) { shardFinished(identity, result, payloads: message.payloads) }
        case let failure as ShardFailure: if requireRegistered(identity, message) { shardFailed(identity, failure.shard, failure.message) }
        case let request as DataRequest: serve(identity, request)
        case let chunk as DataChunk: fetched(identity, chunk, payloads: message.payloads)
        case let goodbye as Goodbye:
            log.info("worker \(workers[identity]?.name ?? hex(identity)) leaving, returning \(goodbye.returning.count) shard(s)")
            workerLost(identity, reason: "shut down")
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
    mutating func requireRegistered(_ identity: [UInt8], _ message: WireMessage) -> Bool {
        if workers[identity] != nil { return true }
        send(identity, WireMessage(ErrorReply(code: "not-registered", message: "say hello before \(message.type)")))
        return false
    }

    func hex(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }

    // MARK: - Workers

    mutating func register(_ identity: [UInt8], _ hello: Hello) {
        guard hello.toolVersion == configuration.toolVersion else {
            let reason = "worker \(hello.workerName) on \(hello.host) runs TailForge \(hello.toolVersion) but the coordinator runs \(configuration.toolVersion); install the same release on every node"
            log.warning("refused: \(reason)")
            send(identity, WireMessage(Refuse(reason: reason)))
            return
        }
        let id: String
        if let existing = workers[identity] {
            // A repeated hello on the same connection (its earlier welcome crossed a "not-registered" reply):
            // keep the record, so a shard assigned in between is not forgotten and assigned twice.
            id = existing.id
        } else {
            id = "w\(nextWorkerNumber)-\(hello.workerName)"
            nextWorkerNumber += 1
            workers[identity] = WorkerRecord(id: id, name: hello.workerName, host: hello.host)
        }
        liveness.heard(from: identity)
        log.info("worker \(id) registered from \(hello.host) (pid \(hello.processId), \(hello.threads) threads)")
        if let reference = hello.busyWith { adopt(identity, reference) }
        send(identity, WireMessage(Welcome(workerId: id, toolVersion: configuration.toolVersion,
                                           heartbeatIntervalMilliseconds: configuration.heartbeat.intervalMilliseconds,
                                           livenessMilliseconds: configuration.heartbeat.livenessMilliseconds)))
    }

    /// A (re)registered worker is still computing `reference`: it gets no other shard until it reports, and
    /// if that shard attempt is pending here (a coordinator restart) its result is awaited instead of recomputed.
    mutating func adopt(_ identity: [UInt8], _ reference: ShardReference) {
        workers[identity]?.busyWith = reference
        guard var job = jobs[reference.job], job.state == .running, job.stage == reference.stage,
              job.shards.indices.contains(reference.shard), job.shards[reference.shard].state == .pending,
              job.shards[reference.shard].attempt == reference.attempt else { return }
        job.shards[reference.shard].state = .running(worker: identity, since: .now)
        jobs[reference.job] = job
        log.info("\(reference) is still running on \(workers[identity]?.id ?? "?"); awaiting its result")
    }

    mutating func workerLost(_ identity: [UInt8], reason: String) {
        guard let worker = workers.removeValue(forKey: identity) else { return }
        liveness.forget(identity)
        log.warning("worker \(worker.id) lost (\(reason)); its shards go back to the queue")
        for id in jobOrder {
            guard var job = jobs[id], !job.state.isTerminal else { continue }
            for index in job.shards.indices {
                if case .running(let owner, _) = job.shards[index].state, owner == identity {
                    job.shards[index].state = .pending
                    job.shards[index].attempt += 1
                }
            }
            jobs[id] = job
        }
        for (requestId, fetch) in fetches where fetch.worker == identity {
            // The shard file lived on the lost worker: recompute it elsewhere.
            try? fetch.handle.close()
            fetches[requestId] = nil
            jobs[fetch.job]?.shards[fetch.shard].state = .pending
            jobs[fetch.job]?.shards[fetch.shard].attempt += 1
        }
    }

    // MARK: - Scheduling

    mutating func schedule() {
        let idle = workers.filter { $0.value.busyWith == nil }.map(\.key).sorted { $0.lexicographicallyPrecedes($1) }
        guard !idle.isEmpty else { return }
        var available = idle[...]
        for id in jobOrder {
            guard let job = jobs[id], job.state == .running, let prepared = job.prepared else { continue }
            if job.stage == .synthesis && job.resolved == nil { continue }
            for index in job.shards.indices where job.shards[index].state == .pending {
                guard let identity = available.popFirst() else { return }
                assign(id, shard: index, prepared: prepared, to: identity)
            }
        }
    }

    mutating func assign(_ id: String, shard index: Int, prepared: PreparedJob, to identity: [UInt8]) {
        guard var job = jobs[id] else { return }
        let reference = ShardReference(job: id, shard: index, stage: job.stage, attempt: job.shards[index].attempt)
        let manifest = job.manifest
        let input = InputLocation(path: manifest.input.path, sha256: prepared.inputSHA256, byteCount: prepared.inputBytes,
                                  streamed: manifest.transfer.streamInput ?? false)
        let assignment = AssignShard(shard: reference, job: manifest, input: input, classes: prepared.shards[index],
                                     sharedShardDirectory: manifest.transfer.sharedShardDirectory)
        let payloads = job.stage == .synthesis ? [WireMessage.float32Payload(job.resolved![index])] : []
        job.shards[index].state = .running(worker: identity, since: .now)
        jobs[id] = job
        workers[identity]?.busyWith = reference
        log.info("assigned \(reference) to \(workers[identity]?.id ?? "?")")
        send(identity, WireMessage(assignment, payloads: payloads))
    }

    mutating func checkTimeouts(_ now: ContinuousClock.Instant) {
        for id in jobOrder {
            guard let job = jobs[id], job.state == .running, let limit = job.manifest.sharding.shardTimeoutSeconds else { continue }
            for index in job.shards.indices {
                if case .running(let identity, let since) = job.shards[index].state, now - since > .milliseconds(Int(limit * 1000)) {
                    let reference = ShardReference(job: id, shard: index, stage: job.stage, attempt: job.shards[index].attempt)
                    send(identity, WireMessage(CancelShard(job: id)))
                    workers[identity]?.busyWith = nil
                    shardFailed(identity, reference, "timed out after \(limit) s")
                }
            }
        }
    }

    /// The shard record a worker's report refers to, if that report is for the current attempt by that worker.
    func current(_ identity: [UInt8], _ reference: ShardReference) -> Bool {
        guard let job = jobs[reference.job], job.state == .running, job.stage == reference.stage,
              job.shards.indices.contains(reference.shard) else { return false }
        let shard = job.shards[reference.shard]
        guard case .running(let owner, _) = shard.state, owner == identity, shard.attempt == reference.attempt else { return false }
        return true
    }

    mutating func shardFailed(_ identity: [UInt8], _ reference: ShardReference, _ message: String) {
        if workers[identity]?.busyWith == reference { workers[identity]?.busyWith = nil }
        guard current(identity, reference) || message.hasPrefix("timed out"), var job = jobs[reference.job] else { return }
        let worker = workers[identity]?.id ?? hex(identity)
        log.warning("\(reference) failed on \(worker): \(message)")
        job.shards[reference.shard].errors.append("\(worker), attempt \(reference.attempt + 1): \(message)")
        job.shards[reference.shard].attempt += 1
        job.shards[reference.shard].state = .pending
        jobs[reference.job] = job
        if job.shards[reference.shard].errors.count >= job.maxAttempts {
            let errors = job.shards[reference.shard].errors.joined(separator: "; ")
            fail(reference.job, "\(reference.stage.rawValue) of shard \(reference.shard) failed \(job.maxAttempts) times: \(errors)")
        }
    }

    mutating func shardFinished(_ identity: [UInt8], _ result: ShardResult, payloads: [[UInt8]]) {
        let reference = result.shard
        if workers[identity]?.busyWith == reference { workers[identity]?.busyWith = nil }
        guard current(identity, reference), var job = jobs[reference.job], let prepared = job.prepared else { return }
        let classes = prepared.shards[reference.shard]
        switch reference.stage {
        case .concentrations:
            let expected = classes.reduce(0) { $0 + $1.realCount }
            guard payloads.count == 1, let kappas = WireMessage.float32Values(payloads[0]), kappas.count == expected,
                  FileDigest.sha256(of: payloads[0]) == result.sha256 else {
                shardFailed(identity, reference, "κ result does not match the shard (expected \(expected) float32 values and a matching SHA-256)")
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
            job.stageOneKappas[reference.shard] = kappas
            job.shards[reference.shard].state = .done
            job.shards[reference.shard].seconds = result.seconds
            jobs[job.id] = job
            advance(job.id)
        case .synthesis:
            guard result.rowsPerClass == classes.map(\.outputCount) else {
                shardFailed(identity, reference, "shard reports rows \(result.rowsPerClass), the plan expects \(classes.map(\.outputCount))")
                return
            }
            job.shards[reference.shard].seconds = result.seconds
            job.shards[reference.shard].bytes = result.byteCount
            if let shared = job.manifest.transfer.sharedShardDirectory, let path = result.path, path.hasPrefix(shared) {
                jobs[job.id] = job
                commitShard(job.id, reference.shard, path: path, sha256: result.sha256)
            } else if let path = result.path {
                job.shards[reference.shard].state = .fetching
                jobs[job.id] = job
                startFetch(job.id, reference.shard, from: identity, remotePath: path, sha256: result.sha256, total: result.byteCount)
            } else {
                shardFailed(identity, reference, "shard result without a file path")
            }
        }
    }

    mutating func commitShard(_ id: String, _ shard: Int, path: String, sha256: String) {
        do {
            try journal.append(JournalEntry(event: .shard, job: id, shard: shard, sha256: sha256, path: path))
        } catch {
            fail(id, "cannot journal shard \(shard): \(error)")
            return
        }
        jobs[id]?.shards[shard].state = .done
        jobs[id]?.shards[shard].file = path
        jobs[id]?.shards[shard].sha256 = sha256
        advance(id)
    }

    // MARK: - Job life cycle

    mutating func submitJob(_ client: [UInt8], _ manifest: JobManifest) {
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
            send(client, WireMessage(ErrorReply(code: "journal", message: "cannot journal the job: \(error)")))
            return
        }
        var job = JobRecord(id: id, manifest: manifest)
        job.directory = jobDirectory(id)
        jobs[id] = job
        jobOrder.append(id)
        log.info("job \(id) submitted: \(manifest.input.path) → \(manifest.output)")
        send(client, WireMessage(JobAccepted(job: id)))
        startPreparing(id)
    }

    mutating func startPreparing(_ id: String) {
        guard let manifest = jobs[id]?.manifest else { return }
        let shardCount = manifest.sharding.shards ?? max(1, 4 * workers.count)
        let backend = runtime.backend
        jobs[id]?.stageStarted = Date()
        runtime.background {
            do { return .prepared(job: id, .success(try backend.prepare(manifest, shardCount: shardCount))) }
            catch { return .prepared(job: id, .failure(.init(message: "\(error)"))) }
        }
    }

    mutating func handle(_ event: CoordinatorRuntime.CoordinatorEvent) {
        switch event {
        case .prepared(let id, .success(let prepared)):
            guard jobs[id]?.state == .queued else { return }
            do { try journal.append(JournalEntry(event: .prepared, job: id, prepared: prepared)) } catch {
                fail(id, "cannot journal the plan: \(error)")
                return
            }
            jobs[id]?.prepared = prepared
            jobs[id]?.shards = Array(repeating: ShardRecord(), count: prepared.shards.count)
            jobs[id]?.state = .running
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
                log.error("cannot journal the commit of \(id): \(error)")
            }
            jobs[id]?.state = .committed
            jobs[id]?.finished = Date()
            log.info("job \(id) committed: \(report.rows) rows, SHA-256 \(report.outputSHA256)")
            // The output holds every row now; fetched copies of the shards are dead weight (shards in a shared
            // directory belong to the user and stay).
            for file in jobs[id]?.shards.compactMap(\.file) ?? [] where file.hasPrefix(jobs[id]!.directory + "/") {
                try? FileManager.default.removeItem(atPath: file)
            }
            publishProgress(id)
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
        guard let job = jobs[id], job.state == .running, let prepared = job.prepared,
              job.shards.allSatisfy({ $0.state == .done }) else { return }
        switch job.stage {
        case .concentrations:
            lap(id, "concentrations")
            jobs[id]?.stage = .synthesis
            resetShards(id)
            startResolving(id)
        case .synthesis:
            // Gathering needs the fallback κ (an output attribute): wait for it after a resume.
            guard job.resolved != nil else { return }
            lap(id, "synthesis")
            jobs[id]?.state = .gathering
            let files = job.shards.map { ShardFile(path: $0.file ?? "", sha256: $0.sha256 ?? "") }
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

    mutating func fail(_ id: String, _ message: String) {
        guard let job = jobs[id], !job.state.isTerminal else { return }
        log.error("job \(id) failed: \(message)")
        try? journal.append(JournalEntry(event: .failed, job: id, message: message))
        jobs[id]?.state = .failed
        jobs[id]?.finished = Date()
        jobs[id]?.error = message
        stopWorkers(on: id)
        publishProgress(id)
    }

    mutating func cancelJob(_ client: [UInt8], _ id: String) {
        guard let job = jobs[id] else {
            send(client, WireMessage(CancelReply(job: id, cancelled: false, message: "no job \(id); `tailforge status` lists jobs")))
            return
        }
        guard !job.state.isTerminal else {
            send(client, WireMessage(CancelReply(job: id, cancelled: false, message: "job \(id) is already \(job.state.rawValue)")))
            return
        }
        try? journal.append(JournalEntry(event: .cancelled, job: id))
        jobs[id]?.state = .cancelled
        jobs[id]?.finished = Date()
        stopWorkers(on: id)
        log.info("job \(id) cancelled")
        send(client, WireMessage(CancelReply(job: id, cancelled: true, message: "job \(id) cancelled")))
        publishProgress(id)
    }

    mutating func stopWorkers(on id: String) {
        for (identity, worker) in workers where worker.busyWith?.job == id {
            send(identity, WireMessage(CancelShard(job: id)))
            workers[identity]?.busyWith = nil
        }
        for (requestId, fetch) in fetches where fetch.job == id {
            try? fetch.handle.close()
            fetches[requestId] = nil
        }
    }

    // MARK: - Status

    func status(_ id: String) -> JobStatus? {
        guard let job = jobs[id] else { return nil }
        let classes = job.prepared?.shards ?? []
        let done = job.shards.indices.filter { job.shards[$0].state == .done }
        let classesDone = job.state == .committed ? classes.reduce(0) { $0 + $1.count }
            : job.stage == .synthesis ? done.reduce(0) { $0 + classes[$1].count } : 0
        let rowsDone = job.state == .committed ? (job.prepared?.totalRows ?? 0)
            : job.stage == .synthesis ? done.reduce(0) { $0 + classes[$1].reduce(0) { $0 + $1.outputCount } } : 0
        let busy = workers.values.filter { $0.busyWith?.job == id }.count
        // A job finished before a restart has its plan but no shard records.
        let shardCount = max(job.shards.count, classes.count)
        return JobStatus(job: id, name: job.manifest.name ?? id, state: job.state, stage: job.prepared == nil ? nil : job.stage,
                         shardsDone: job.state == .committed ? shardCount : done.count, shardCount: shardCount, classesDone: classesDone,
                         classCount: job.prepared?.classCount ?? 0, rowsWritten: rowsDone, totalRows: job.prepared?.totalRows ?? 0,
                         workers: busy, elapsedSeconds: (job.finished ?? Date()).timeIntervalSince(job.started), output: job.manifest.output,
                         error: job.error)
    }

    mutating func sendStatus(_ client: [UInt8], _ id: String?) {
        if let id, jobs[id] == nil {
            send(client, WireMessage(ErrorReply(code: "unknown-job", message: "no job \(id); `tailforge status` lists jobs")))
            return
        }
        let ids = id.map { [$0] } ?? jobOrder
        let workerList = workers.map { identity, worker in
            WorkerStatus(workerId: worker.id, name: worker.name, host: worker.host, busyWith: worker.busyWith,
                         secondsSinceHeartbeat: liveness.silence(of: identity).map { Double($0.components.seconds) + Double($0.components.attoseconds) * 1e-18 } ?? 0)
        }.sorted { $0.workerId < $1.workerId }
        send(client, WireMessage(StatusReply(jobs: ids.compactMap(status), workers: workerList)))
    }

    mutating func publishProgress(_ id: String) {
        guard let clients = watchers[id], let status = status(id) else { return }
        for client in clients { send(client, WireMessage(JobProgress(status: status))) }
        if status.state.isTerminal { watchers[id] = nil }
    }

    // MARK: - Data

    mutating func serve(_ identity: [UInt8], _ request: DataRequest) {
        guard case .input(let id) = request.resource, let job = jobs[id] else {
            send(identity, WireMessage(DataChunk(requestId: request.requestId, resource: request.resource, offset: request.offset,
                                                 totalBytes: 0, error: "the coordinator serves only the inputs of its jobs")))
            return
        }
        let length = min(request.length, configuration.chunkBytes)
        let (bytes, total, error) = FileChunks.read(path: job.manifest.input.path, offset: request.offset, length: length)
        send(identity, WireMessage(DataChunk(requestId: request.requestId, resource: request.resource, offset: request.offset,
                                             totalBytes: total, error: error), payloads: error == nil ? [bytes] : []))
    }

    mutating func startFetch(_ id: String, _ shard: Int, from worker: [UInt8], remotePath: String, sha256: String, total: Int64) {
        let localPath = (jobDirectory(id) as NSString).appendingPathComponent("shard-\(shard).h5")
        _ = FileManager.default.createFile(atPath: localPath + ".partial", contents: nil)
        guard let handle = FileHandle(forWritingAtPath: localPath + ".partial") else {
            fail(id, "cannot write \(localPath).partial")
            return
        }
        let requestId = nextRequestId
        nextRequestId += 1
        fetches[requestId] = ShardFetch(job: id, shard: shard, worker: worker, remotePath: remotePath, localPath: localPath,
                                        expectedSHA256: sha256, total: total, handle: handle)
        requestChunk(requestId)
    }

    mutating func requestChunk(_ requestId: Int) {
        guard let fetch = fetches[requestId] else { return }
        let length = Int(min(Int64(configuration.chunkBytes), fetch.total - fetch.received))
        send(fetch.worker, WireMessage(DataRequest(requestId: requestId, resource: .shardFile(job: fetch.job, shard: fetch.shard, path: fetch.remotePath),
                                                   offset: fetch.received, length: length)))
    }

    mutating func fetched(_ identity: [UInt8], _ chunk: DataChunk, payloads: [[UInt8]]) {
        guard var fetch = fetches[chunk.requestId], fetch.worker == identity, chunk.offset == fetch.received else { return }
        let bytes = payloads.first ?? []
        if let error = chunk.error ?? (bytes.isEmpty && fetch.received < fetch.total ? "empty chunk" : nil) {
            fetches[chunk.requestId] = nil
            try? fetch.handle.close()
            shardFetchFailed(fetch, error)
            return
        }
        do { try fetch.handle.write(contentsOf: bytes) } catch {
            fetches[chunk.requestId] = nil
            fail(fetch.job, "cannot write \(fetch.localPath).partial: \(error)")
            return
        }
        fetch.received += Int64(bytes.count)
        fetches[chunk.requestId] = fetch
        if fetch.received < fetch.total {
            requestChunk(chunk.requestId)
            return
        }
        fetches[chunk.requestId] = nil
        do {
            try fetch.handle.synchronize()
            try fetch.handle.close()
            try? FileManager.default.removeItem(atPath: fetch.localPath)
            try FileManager.default.moveItem(atPath: fetch.localPath + ".partial", toPath: fetch.localPath)
        } catch {
            fail(fetch.job, "cannot store shard \(fetch.shard) at \(fetch.localPath): \(error)")
            return
        }
        // The SHA-256 is verified at gather time, off this thread, with every other shard.
        commitShard(fetch.job, fetch.shard, path: fetch.localPath, sha256: fetch.expectedSHA256)
    }

    mutating func shardFetchFailed(_ fetch: ShardFetch, _ error: String) {
        guard var job = jobs[fetch.job] else { return }
        job.shards[fetch.shard].errors.append("fetching shard file from \(workers[fetch.worker]?.id ?? "worker"): \(error)")
        job.shards[fetch.shard].attempt += 1
        job.shards[fetch.shard].state = .pending
        jobs[fetch.job] = job
        if job.shards[fetch.shard].errors.count >= job.maxAttempts {
            fail(fetch.job, "shard \(fetch.shard): " + job.shards[fetch.shard].errors.joined(separator: "; "))
        }
    }

    // MARK: - Resolved manifest

    func writeResolvedManifest(_ id: String) {
        guard let job = jobs[id], let prepared = job.prepared else { return }
        let resolved = ResolvedManifest(
            job: id, toolVersion: configuration.toolVersion, manifest: job.manifest, inputSHA256: prepared.inputSHA256,
            outputSHA256: job.outputSHA256 ?? "", fallbackKappa: job.fallback.map(Double.init),
            shards: prepared.shards.indices.map { index in
                ResolvedManifest.Shard(index: index, classes: prepared.shards[index].map(\.classId),
                                       rows: prepared.shards[index].reduce(0) { $0 + $1.outputCount },
                                       estimatedCost: prepared.shardCosts[index], sha256: job.shards[index].sha256 ?? "",
                                       seconds: job.shards[index].seconds, bytes: job.shards[index].bytes)
            },
            stageSeconds: job.stageSeconds, totalSeconds: Date().timeIntervalSince(job.started), submitted: job.started)
        do {
            try resolved.write(to: ResolvedManifest.path(forOutput: job.manifest.output))
        } catch {
            log.error("cannot write the resolved manifest of \(id): \(error)")
        }
    }
}
