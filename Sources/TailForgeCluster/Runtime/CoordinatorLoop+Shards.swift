import CoreMetrics
import Foundation
import Logging
import TailForgeStorage

/// Assigning shards, their timeouts, results and failures: the state machines decide, this carries it out.
extension CoordinatorLoop {
    mutating func schedule(_ now: ContinuousClock.Instant) {
        var candidates = registry.assignable
        guard !candidates.isEmpty else { return }
        let healthy = registry.healthyNames
        for id in jobOrder {
            guard let job = jobs[id], job.state == .running, let prepared = job.prepared, let board = job.board else { continue }
            if job.stage == .synthesis && job.synthesisKappas == nil { continue }
            if job.spot != nil, !spotCheckable(id, at: now) { continue }
            for index in board.pending {
                guard !candidates.isEmpty else { return }
                guard let worker = board.pick(for: index, from: candidates.filter { !job.excludes($0) }, healthy: healthy) else { continue }
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
        let payloads = job.stage == .synthesis ? [WireMessage.float32Payload(job.synthesisKappas![index])] : []
        registry.assigned(identity, reference)
        log.info("assigned \(reference) to \(name(identity))", metadata: LogMetadata.shard(reference, worker: name(identity)))
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
        runtime.metrics?.attemptFailed(reason)
        if outcome == .requeued { runtime.metrics?.retries.increment() }
        log.warning("\(reference) failed on \(workerName): \(reason)", metadata: LogMetadata.shard(reference, worker: workerName))
        if registry.failed(identity, reason), let worker = registry[identity] {
            log.error("worker \(worker.name) quarantined: \(worker.quarantine ?? ""); it gets no shards until it registers again", metadata: LogMetadata.worker(worker.name))
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
            do { try runtime.backend.checkConcentrations(job.manifest, prepared, shard: reference.shard, kappas: kappas) } catch {
                return rejectResult(identity, reference, "\(error)")
            }
            registry.succeeded(identity)
            board.recordResult(reference.shard, seconds: result.seconds, bytes: nil)
            board.checking(reference, worker: identity)
            job.board = board
            jobs[job.id] = job
            decide(reference, from: identity, spotResult(identity, sha256: result.sha256, file: nil, payload: payloads[0]))
        case .synthesis:
            guard result.rowsPerClass == classes.map(\.outputCount) else {
                attemptFailed(identity, reference, .invalidResult("rows \(result.rowsPerClass), the plan expects \(classes.map(\.outputCount))"))
                return
            }
            let bound = PlanLimits.maximumShardFileBytes(classes, dimension: prepared.dimension)
            guard (1...bound).contains(result.byteCount) else {
                attemptFailed(identity, reference, .invalidResult("a shard file of \(result.byteCount) bytes, outside 1…\(bound) for its \(classes.reduce(0) { $0 + $1.outputCount }) rows"))
                return
            }
            board.recordResult(reference.shard, seconds: result.seconds, bytes: result.byteCount)
            registry.succeeded(identity)
            if job.manifest.outputLayout == .compact {
                // The rows stay on the worker: the gather derives the compact file from the input and the κ.
                job.board = board
                jobs[job.id] = job
                startCompactCheck(reference, from: identity, result)
            } else if let path = result.path, let shared = sharedShardPath(job.manifest, path) {
                job.board = board
                jobs[job.id] = job
                startCheck(reference, from: identity, file: ShardFile(path: shared, sha256: result.sha256))
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

    /// Checks a stage-2 shard file against its digest and the plan, off this thread; `checked` accepts or refuses it.
    mutating func startCheck(_ reference: ShardReference, from identity: Identity, file: ShardFile) {
        guard var job = jobs[reference.job], let prepared = job.prepared, let kappas = job.synthesisKappas?[reference.shard] else { return }
        job.board?.checking(reference, worker: identity)
        jobs[reference.job] = job
        let backend = runtime.backend
        let manifest = job.manifest
        runtime.background {
            do {
                try backend.checkShard(manifest, prepared, shard: reference.shard, file: file, kappas: kappas)
                return .checked(reference, worker: identity, file, .success(()))
            } catch { return .checked(reference, worker: identity, file, .failure(.init(message: "\(error)"))) }
        }
    }

    /// Checks a compact job's stage-2 result, off this thread, by deriving the shard's content from the input and
    /// the κ and comparing digests; nothing of the file is fetched (``JobBackend/checkCompactShard``). An accepted
    /// result is committed with no coordinator-side file (an empty path), as `checked` does for any shard.
    mutating func startCompactCheck(_ reference: ShardReference, from identity: Identity, _ result: ShardResult) {
        guard var job = jobs[reference.job], let prepared = job.prepared, let kappas = job.synthesisKappas else { return }
        job.board?.checking(reference, worker: identity)
        jobs[reference.job] = job
        let backend = runtime.backend
        let manifest = job.manifest
        let file = ShardFile(path: "", sha256: result.sha256)
        runtime.background {
            do {
                try backend.checkCompactShard(manifest, prepared, shard: reference.shard, contentSHA256: result.contentSHA256,
                                              syntheticProbeSHA256: result.syntheticProbeSHA256, kappas: kappas)
                return .checked(reference, worker: identity, file, .success(()))
            } catch { return .checked(reference, worker: identity, file, .failure(.init(message: "\(error)"))) }
        }
    }

    /// The outcome of `startCheck`: an accepted shard is committed, a refused one deleted and recomputed elsewhere.
    mutating func checked(_ reference: ShardReference, worker identity: Identity, _ file: ShardFile, _ outcome: Result<Void, CoordinatorRuntime.JobStepError>) {
        guard let job = jobs[reference.job], job.state == .running, job.board?.isChecking(reference, worker: identity) == true else {
            // The job ended meanwhile; a fetched copy is ours to delete (shared-directory files go with the job).
            if let directory = jobs[reference.job]?.directory, file.path.hasPrefix(directory + "/") {
                try? FileManager.default.removeItem(atPath: file.path)
            }
            return
        }
        switch outcome {
        case .success:
            decide(reference, from: identity, spotResult(identity, sha256: file.sha256, file: file.path, payload: nil))
        case .failure(let error):
            if !file.path.isEmpty { try? FileManager.default.removeItem(atPath: file.path) }
            rejectResult(identity, reference, error.message)
        }
    }

    /// A result no honest worker returns (it contradicts the plan): the attempt fails and is recomputed on
    /// another worker, and the worker is quarantined and excluded from the job at once — a fault of this kind
    /// is not transient, and every further shard it returned would need checking again.
    mutating func rejectResult(_ identity: Identity, _ reference: ShardReference, _ reason: String) {
        let worker = registry[identity]
        log.error("refused \(reference) from \(name(identity)) (\(worker?.principal ?? "unknown")): \(reason)",
                  metadata: LogMetadata.shard(reference, worker: name(identity)))
        if let worker {
            exclude(reference.job, worker: worker.name, principal: worker.principal)
            if registry.quarantine(identity, because: "returned a result that contradicts the plan of \(reference): \(reason)") {
                log.error("worker \(worker.name) (\(worker.principal)) quarantined: it returned a result that contradicts the plan; it gets no shards until it registers again, and none of job \(reference.job)",
                          metadata: LogMetadata.worker(worker.name))
            }
        }
        attemptFailed(identity, reference, .invalidResult(reason))
    }

    /// A result nobody waits for (a timed-out or superseded attempt, a finished job): its file is deleted where
    /// it landed.
    mutating func discardStale(_ result: ShardResult, from identity: Identity) {
        guard let path = result.path else { return }
        log.info("discarding the result of \(result.shard) from \(name(identity)): the attempt is no longer current", metadata: LogMetadata.shard(result.shard, worker: name(identity)))
        if let manifest = jobs[result.shard.job]?.manifest, let shared = sharedShardPath(manifest, path) {
            try? FileManager.default.removeItem(atPath: shared)
        } else {
            send(identity, WireMessage(DiscardShardFile(shard: result.shard, path: path)))
        }
    }

    /// A worker-reported shard path, resolved, when it lies in the job's shared shard directory (which must
    /// still be inside a data root); nil otherwise. The coordinator reads and deletes only such paths.
    func sharedShardPath(_ manifest: JobManifest, _ path: String) -> String? {
        guard let shared = manifest.transfer.sharedShardDirectory, let directory = configuration.dataRoots.confine(shared),
              let roots = try? DataRoots([directory]) else { return nil }
        return roots.confine(path)
    }

    /// `producer`: the worker, when no other worker confirmed the result; `check`: the spot check that accepted it.
    mutating func commitShard(_ id: String, _ shard: Int, path: String, sha256: String, producer: String? = nil, check: SpotCheck.Record? = nil) {
        do {
            try journal.append(JournalEntry(event: .shard, job: id, shard: shard, sha256: sha256, path: path, producer: producer, check: check?.check))
        } catch {
            fail(id, "cannot journal shard \(shard): \(error)")
            return
        }
        jobs[id]?.board?.done(shard, file: path, sha256: sha256, producer: producer)
        runtime.metrics?.shardsCompleted.increment()
        runtime.metrics?.rowsGenerated.increment(by: jobs[id]?.prepared?.shards[shard].reduce(0) { $0 + $1.outputCount } ?? 0)
        advance(id)
    }

    /// Stage one's κ of `shard`, made durable and counted.
    mutating func commitKappas(_ id: String, _ shard: Int, payload: [UInt8], sha256: String, producer: String?, check: SpotCheck.Record?) {
        guard let directory = jobs[id]?.directory, let kappas = WireMessage.float32Values(payload) else { return }
        let path = (directory as NSString).appendingPathComponent("kappa-\(shard).f32")
        do {
            try Data(payload).write(to: URL(fileURLWithPath: path), options: .atomic)
            try journal.append(JournalEntry(event: .kappas, job: id, shard: shard, sha256: sha256, path: path, producer: producer, check: check?.check))
        } catch {
            fail(id, "cannot persist κ of shard \(shard) in \(path): \(error)")
            return
        }
        jobs[id]?.stageOneKappas[shard] = kappas
        jobs[id]?.board?.done(shard, producer: producer)
        runtime.metrics?.shardsCompleted.increment()
        advance(id)
    }

    // MARK: - Spot verification

    func spotResult(_ identity: Identity, sha256: String, file: String?, payload: [UInt8]?) -> SpotCheck.Result {
        SpotCheck.Result(worker: name(identity), principal: registry[identity]?.principal ?? "unknown", sha256: sha256, file: file, payload: payload)
    }

    /// A plan-checked result of the current stage: accepted, or held for spot verification (``SpotCheck``).
    mutating func decide(_ reference: ShardReference, from identity: Identity, _ result: SpotCheck.Result) {
        guard var job = jobs[reference.job] else { return }
        if job.excluded.contains(result.worker) {
            // Computed before its worker was caught lying: worth nothing now, and not a vote.
            removeResultFile(reference.job, result)
            attemptFailed(identity, reference, .invalidResult("the worker was excluded from the job while this result was on its way"))
            return
        }
        let decision = job.spot?.accepted(reference.stage, reference.shard, result) ?? .accept(result, verified: false)
        jobs[reference.job] = job
        carryOut(reference.job, reference.stage, reference.shard, decision)
    }

    mutating func carryOut(_ id: String, _ stage: ShardStage, _ shard: Int, _ decision: SpotCheck.Decision) {
        // Every decision that accepts a checked shard has just recorded its check; it is journaled with the result.
        let check = jobs[id]?.spot?.records.last.flatMap { $0.stage == stage && $0.shard == shard ? $0 : nil }
        switch decision {
        case .accept(let result, let verified):
            commit(id, stage, shard, result, producer: verified ? nil : result.worker, check: check)
        case .recompute(let avoid):
            log.info("\(id): spot-verifying \(stage.rawValue) of shard \(shard): computing it again on a worker other than \(avoid.sorted().joined(separator: ", "))",
                     metadata: LogMetadata.job(id))
            jobs[id]?.board?.recompute(shard, avoid: avoid)
        case .settled(let winner, let liars, let discard):
            for result in discard where result.file != winner.file { removeResultFile(id, result) }
            log.info("\(id): spot verification of \(stage.rawValue) of shard \(shard): \(liars.isEmpty ? "the results agree" : "\(winner.worker)'s result confirmed; \(liars.map(\.worker).joined(separator: ", ")) returned another")",
                     metadata: LogMetadata.job(id))
            // The liars' unconfirmed results are withdrawn first: committing the winner may complete the stage,
            // and the next stage (or the gather) must not start with them.
            for liar in liars { caughtLying(id, liar, stage: stage, shard: shard) }
            guard jobs[id]?.state == .running else { return }
            commit(id, stage, shard, winner, producer: nil, check: check)
        case .undecidable(let message):
            fail(id, message)
        }
    }

    mutating func commit(_ id: String, _ stage: ShardStage, _ shard: Int, _ result: SpotCheck.Result, producer: String?, check: SpotCheck.Record?) {
        if let payload = result.payload {
            commitKappas(id, shard, payload: payload, sha256: result.sha256, producer: producer, check: check)
        } else if let file = result.file {
            commitShard(id, shard, path: file, sha256: result.sha256, producer: producer, check: check)
        }
    }

    /// Deletes a stage-2 result file the coordinator does not keep (its fetched copy, or the worker's file in the
    /// shared shard directory).
    func removeResultFile(_ id: String, _ result: SpotCheck.Result) {
        guard let file = result.file, let job = jobs[id] else { return }
        if file.hasPrefix(job.directory + "/") || sharedShardPath(job.manifest, file) != nil {
            try? FileManager.default.removeItem(atPath: file)
        }
    }

    /// Spot verification found `liar`'s result of `shard` different from what two other workers agree on: it
    /// is quarantined and excluded from the job (by name and key), and every result of the current stage it
    /// produced without a second opinion is withdrawn (journaled) and recomputed.
    mutating func caughtLying(_ id: String, _ liar: SpotCheck.Result, stage: ShardStage, shard: Int) {
        guard exclude(id, worker: liar.worker, principal: liar.principal), var job = jobs[id] else { return }
        let withdrawn = job.board?.requeueDone(producedBy: liar.worker) ?? []
        for (index, _) in withdrawn where stage == .concentrations { job.stageOneKappas[index] = nil }
        let dropped = job.spot?.forget(worker: liar.worker) ?? []
        jobs[id] = job
        log.error("\(id): worker \(liar.worker) (\(liar.principal)) returned \(stage.rawValue) of shard \(shard) with SHA-256 \(liar.sha256), which two other workers contradict; it gets no more shards of this job, and its \(withdrawn.count) other unconfirmed result(s) are recomputed",
                  metadata: LogMetadata.job(id).merging(["worker": .string(liar.worker)]) { $1 })
        if let worker = registry.workers.values.first(where: { $0.name == liar.worker }),
           registry.quarantine(worker.identity, because: "spot verification of \(id) caught it returning a result two other workers contradict") {
            log.error("worker \(liar.worker) (\(liar.principal)) quarantined: it gets no shards until it registers again, and none of job \(id)",
                      metadata: LogMetadata.worker(liar.worker))
        }
        for (index, file) in withdrawn {
            do { try journal.append(JournalEntry(event: .rejected, job: id, shard: index, message: stage.rawValue)) } catch {
                fail(id, "cannot journal the withdrawal of shard \(index): \(error)")
                return
            }
            if let file { removeResultFile(id, SpotCheck.Result(worker: liar.worker, principal: liar.principal, sha256: "", file: file)) }
        }
        for result in dropped { removeResultFile(id, result) }
    }

    /// Keeps a worker caught lying out of job `id` from now on, by name and principal, and names it in the
    /// resolved manifest. Journaled first, so a restarted coordinator keeps it out too; false when that write
    /// failed (the job failed with it).
    @discardableResult
    mutating func exclude(_ id: String, worker: String, principal: String) -> Bool {
        guard let job = jobs[id], !job.excluded.contains(worker) else { return true }
        let named = "\(worker) (\(principal))"
        do { try journal.append(JournalEntry(event: .excluded, job: id, message: named, excluded: [worker, principal])) } catch {
            fail(id, "cannot journal the exclusion of worker \(named): \(error)")
            return false
        }
        jobs[id]?.excluded.formUnion([worker, principal])
        jobs[id]?.liars.append(named)
        return true
    }

    /// How long a shard held for spot verification waits for a worker that has not computed it (one may be
    /// registering, or restarting) before it is decided without one.
    var spotWait: Duration { .milliseconds(max(10_000, 2 * configuration.heartbeat.livenessMilliseconds)) }

    /// False when a pending shard held for spot verification has had no worker left to recompute it (every other
    /// one excluded, quarantined or gone) for `spotWait`: then it is decided without one (accepted unverified,
    /// or the job fails on a disagreement), and the scheduler skips the job this round.
    mutating func spotCheckable(_ id: String, at now: ContinuousClock.Instant) -> Bool {
        guard let job = jobs[id], let board = job.board else { return true }
        let eligible = Set(registry.workers.values.filter { $0.quarantine == nil && !job.excludes($0) }.map(\.name))
        for index in board.pending where !board.slots[index].avoid.isEmpty {
            let avoid = board.slots[index].avoid
            guard eligible.subtracting(avoid).isEmpty else {
                jobs[id]?.spotAlone[index] = nil
                continue
            }
            let since = job.spotAlone[index] ?? now
            jobs[id]?.spotAlone[index] = since
            guard now - since >= spotWait, var spot = jobs[id]?.spot, let decision = spot.noOtherWorker(board.stage, index) else { continue }
            jobs[id]?.spot = spot
            jobs[id]?.spotAlone[index] = nil
            log.warning("\(id): for \(spotWait) no worker other than \(avoid.sorted().joined(separator: ", ")) could recompute \(board.stage.rawValue) of shard \(index) for spot verification",
                        metadata: LogMetadata.job(id))
            carryOut(id, board.stage, index, decision)
            return false
        }
        return true
    }
}
