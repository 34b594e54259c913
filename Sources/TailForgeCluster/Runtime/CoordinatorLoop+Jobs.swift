import Foundation
import Logging
import TailForgeStorage

/// A job's life: submission, planning, stages, gathering, failure and cancellation.
extension CoordinatorLoop {
    mutating func submitJob(_ client: Identity, _ manifest: JobManifest, principal: String = "unknown") {
        let (running, queued) = liveJobs(of: principal)
        let admission = configuration.clientJobLimits.admission(running: running, queued: queued)
        guard admission != .refuse else {
            let reason = "this client already has \(running) running job\(running == 1 ? "" : "s") (coordinator --max-jobs-per-client \(configuration.maxJobsPerClient)) and \(queued) queued (--max-queued-jobs-per-client \(configuration.maxQueuedJobsPerClient)); wait for one to finish (`tailforge wait JOB`) or cancel one"
            log.warning("refused a job from \(principal): \(reason)")
            runtime.metrics?.refused("too-many-jobs")
            send(client, WireMessage(ErrorReply(code: "too-many-jobs", message: reason)))
            return
        }
        let live = jobOrder.compactMap { jobs[$0] }.filter { !$0.state.isTerminal }.flatMap { job in
            // A training job writes its model and, when asked, its balanced set.
            ([job.manifest.output] + [job.manifest.train?.balancedOutput].compactMap { $0 }).map { OutputCheck.LiveJob(job: job.id, output: $0) }
        }
        do {
            try manifest.validate(source: "the submitted manifest")
            try DataRootCheck.check(manifest, roots: configuration.dataRoots, stateDirectory: configuration.stateDirectory)
            try OutputCheck.check(manifest, against: live)
        } catch {
            log.warning("refused a job from peer \(printable(client)): \(error.description)")
            runtime.metrics?.refused("invalid-manifest")
            send(client, WireMessage(ErrorReply(code: "invalid-manifest", message: error.description)))
            return
        }
        if manifest.verify == .spot, configuration.verifyFraction == 0 {
            let reason = "`verify: spot`: this coordinator runs with --verify-fraction 0 (spot verification off); remove `verify: spot` from the manifest (or `--verify spot` from `submit`), or ask its operator for a fraction above 0"
            log.warning("refused a job from peer \(printable(client)): \(reason)")
            send(client, WireMessage(ErrorReply(code: "invalid-manifest", message: reason)))
            return
        }
        let id = "job-" + String(UInt64(Date().timeIntervalSince1970 * 1000), radix: 36) + "-" + String(UInt16.random(in: 0...UInt16.max), radix: 36)
        // From the system generator on purpose: a worker that could predict the seed would know which of its
        // shards are checked and lie on the others.
        let verification = manifest.verify == .spot ? JournalEntry.Verification(fraction: configuration.verifyFraction, seed: UInt64.random(in: .min ... .max)) : nil
        do {
            try journal.append(JournalEntry(event: .submitted, job: id, manifest: manifest, verification: verification, owner: principal))
        } catch {
            log.error("refused a job: \(error)")
            send(client, WireMessage(ErrorReply(code: "journal", message: "the coordinator cannot journal the job: \(error)")))
            return
        }
        jobs[id] = JobRecord(id: id, manifest: manifest, owner: principal, directory: jobDirectory(id),
                             spot: verification.map { SpotCheck(fraction: $0.fraction, seed: $0.seed) })
        jobOrder.append(id)
        log.info("job \(id) submitted: \(manifest.input.path) → \(manifest.output)", metadata: LogMetadata.job(id))
        send(client, WireMessage(JobAccepted(job: id)))
        if admission == .start {
            jobs[id]?.admitted = true
            startPreparing(id)
        } else {
            log.info("job \(id) queued: its client already runs \(running) job\(running == 1 ? "" : "s") (--max-jobs-per-client \(configuration.maxJobsPerClient)); it starts when one ends",
                     metadata: LogMetadata.job(id))
        }
    }

    /// A client's started and waiting live jobs.
    func liveJobs(of owner: String) -> (running: Int, queued: Int) {
        let live = jobs.values.filter { $0.owner == owner && !$0.state.isTerminal }
        let running = live.filter(\.admitted).count
        return (running, live.count - running)
    }

    /// Starts the oldest queued jobs of `id`'s client while it is under its running limit (a job of it ended).
    mutating func admitQueued(after id: String) {
        guard !resuming, let owner = jobs[id]?.owner else { return }
        let (running, queued) = liveJobs(of: owner)
        let startable = configuration.clientJobLimits.startable(running: running, queued: queued)
        let next = jobOrder.filter { jobs[$0]?.owner == owner && jobs[$0]?.admitted == false && jobs[$0]?.state.isTerminal == false }.prefix(startable)
        for queuedID in next {
            jobs[queuedID]?.admitted = true
            log.info("job \(queuedID) leaves its client's queue: \(id) ended", metadata: LogMetadata.job(queuedID))
            startPreparing(queuedID)
        }
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

    mutating func startSynthesisKappas(_ id: String) {
        guard let job = jobs[id], let prepared = job.prepared else { return }
        let stageOne = prepared.shards.indices.map { job.stageOneKappas[$0] ?? [] }
        let backend = runtime.backend
        let manifest = job.manifest
        runtime.background {
            do {
                let (kappas, fallback) = try backend.synthesisKappas(manifest, prepared, stageOne: stageOne)
                return .synthesisKappas(job: id, .success(.init(kappas: kappas, fallback: fallback)))
            } catch { return .synthesisKappas(job: id, .failure(.init(message: "\(error)"))) }
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
            log.info("job \(id): \(prepared.shards.count) shards over \(prepared.classCount) classes, \(prepared.totalRows) output rows", metadata: LogMetadata.job(id))
            advance(id)
        case .synthesisKappas(let id, .success(let ready)):
            guard jobs[id]?.state == .running else { return }
            jobs[id]?.synthesisKappas = ready.kappas
            jobs[id]?.fallback = ready.fallback
            advance(id)
        case .gathered(let id, .success(let report)) where jobs[id]?.manifest.train != nil:
            guard jobs[id]?.state == .gathering else { return }
            lap(id, "gather")
            startTraining(id, balanced: report)
        case .gathered(let id, .success(let report)):
            guard jobs[id]?.state == .gathering else {
                // Cancelled or failed while publishing: a virtual output's shard directory went with the job, so the
                // file just published maps nothing; it goes too.
                if let job = jobs[id], job.manifest.publishMode == .virtual, job.balanced == nil {
                    try? FileManager.default.removeItem(atPath: job.balancedPath)
                    PublishedShardDirectory(output: job.balancedPath, job: id).remove()
                }
                return
            }
            jobs[id]?.outputSHA256 = report.outputSHA256
            jobs[id]?.outputContentSHA256 = report.outputContentSHA256
            lap(id, "gather")
            writeResolvedManifest(id)
            do { try journal.append(JournalEntry(event: .committed, job: id, sha256: report.outputSHA256, path: jobs[id]?.manifest.output)) } catch {
                log.error("cannot journal the commit of \(id) (the output is published; after a restart the job gathers again): \(error)", metadata: LogMetadata.job(id))
            }
            jobs[id]?.state = .committed
            jobs[id]?.finished = Date()
            log.info("job \(id) committed: \(report.rows) rows, SHA-256 \(report.outputSHA256)", metadata: LogMetadata.job(id))
            // The output holds every row now; the job's copies of shards and κ are dead weight (shards in a
            // shared directory belong to the user and stay).
            if let directory = jobs[id]?.directory { try? FileManager.default.removeItem(atPath: directory) }
            publishProgress(id)
            admitQueued(after: id)
        case .checked(let reference, let worker, let file, let outcome):
            checked(reference, worker: worker, file, outcome)
        case .trainerMessages(let identity, let messages):
            for message in messages { routeLocalTrainer(message, from: identity) }
        case .trainingProgress(let id, let progress):
            guard jobs[id]?.state == .training, var training = jobs[id]?.training else { return }
            // The coordinator's trainer knows its fit; who trains and what happened to a named trainer are kept here.
            training.iteration = progress.iteration
            training.maxIterations = progress.maxIterations
            training.loss = progress.loss
            training.parts = progress.parts
            training.fit = progress.fit
            jobs[id]?.training = training
        case .trained(let id, let outcome):
            trained(id, outcome)
        case .stored(let fetch, .success):
            storedFetch(fetch)
        case .stored(let fetch, .failure(let error)):
            try? FileManager.default.removeItem(atPath: fetch.partialPath)
            try? FileManager.default.removeItem(atPath: fetch.localPath)
            fail(fetch.reference.job, "cannot store shard \(fetch.reference.shard) at \(fetch.localPath): \(error.message)")
        case .prepared(let id, .failure(let error)), .synthesisKappas(let id, .failure(let error)), .gathered(let id, .failure(let error)):
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
            startSynthesisKappas(id)
        case .synthesis:
            // Gathering needs the fallback κ (an output attribute): wait for it after a resume.
            guard job.synthesisKappas != nil else { return }
            lap(id, "synthesis")
            // Checked again right before writing: a directory swapped for a link since the submit must not
            // redirect the output outside the roots.
            do { try DataRootCheck.check(job.manifest, roots: configuration.dataRoots, stateDirectory: configuration.stateDirectory, source: "job \(id)") } catch {
                fail(id, error.description)
                return
            }
            jobs[id]?.state = .gathering
            let files = board.slots.map { ShardFile(path: $0.file ?? "", sha256: $0.sha256 ?? "") }
            let backend = runtime.backend
            var target = job.manifest
            // A training job gathers its balanced set where it is published, or into its own directory.
            target.output = job.balancedPath
            let manifest = target
            let trains = manifest.train != nil
            let fallback = job.fallback
            let kappas = job.synthesisKappas ?? []
            // A virtual publish maps shard files placed beside the output; a failed one leaves no directory behind.
            let placement = manifest.publishMode == .virtual && manifest.outputLayout == .full
                ? PublishedShardDirectory(output: manifest.output, job: id) : nil
            runtime.background {
                do {
                    var report: GatherReport
                    do {
                        report = try backend.gather(manifest, prepared, shards: try placement?.place(files) ?? files, kappas: kappas, fallback: fallback)
                    } catch {
                        placement?.remove()
                        throw error
                    }
                    // The output replaced any earlier one: an earlier virtual output's shard files are dead now.
                    PublishedShardDirectory.removeReplaced(output: manifest.output, keeping: placement?.job)
                    if trains {
                        report.balancedIdentity = try HDF5File.open(path: manifest.output).rootAttributes()[BalancedSetIdentity.attributeName]?.stringValue
                    }
                    return .gathered(job: id, .success(report))
                } catch { return .gathered(job: id, .failure(.init(message: "\(error)"))) }
            }
        }
        publishProgress(id)
    }

    /// Fails one job (only that one): journals it if it can, stops its work everywhere and deletes its files.
    mutating func fail(_ id: String, _ message: String) {
        guard let job = jobs[id], !job.state.isTerminal else { return }
        log.error("job \(id) failed: \(message)", metadata: LogMetadata.job(id))
        do { try journal.append(JournalEntry(event: .failed, job: id, message: message)) } catch {
            log.error("cannot journal the failure of \(id) (after a restart it resumes): \(error)", metadata: LogMetadata.job(id))
        }
        jobs[id]?.state = .failed
        jobs[id]?.error = message
        jobs[id]?.finished = Date()
        endJob(id)
        publishProgress(id)
        admitQueued(after: id)
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
            log.error("cannot journal the cancellation of \(id) (after a restart it resumes): \(error)", metadata: LogMetadata.job(id))
        }
        jobs[id]?.state = .cancelled
        jobs[id]?.finished = Date()
        endJob(id)
        log.info("job \(id) cancelled", metadata: LogMetadata.job(id))
        send(client, WireMessage(CancelReply(job: id, cancelled: true, message: "job \(id) cancelled")))
        publishProgress(id)
        admitQueued(after: id)
    }

    /// A cancelled or failed job: every worker stops it and deletes its files; the coordinator drops its fetches,
    /// its directory and its attempts' files in a shared shard directory.
    mutating func endJob(_ id: String) {
        if let trainer = trainers.removeValue(forKey: id) {
            trainer.abort(ClusterJobError.planMismatch(reason: "job \(id) ended while training"))
        }
        // A named trainer stops on the CancelShard below; its sessions close when it does.
        _ = namedTrainers.finish(id)
        for worker in registry.holding(job: id) {
            registry.abandoned(worker.identity, worker.activity.reference!)
        }
        for identity in registry.workers.keys {
            send(identity, WireMessage(CancelShard(job: id, purge: true)))
        }
        for fetch in fetcher.cancel(where: { $0.reference.job == id }) { dropFetchFile(fetch) }
        guard let job = jobs[id] else { return }
        try? FileManager.default.removeItem(atPath: job.directory)
        if let directory = job.trainer?.directory { try? FileManager.default.removeItem(atPath: directory) }
        // A virtual publish that did not finish (a training job's published balanced set stays, with its shards).
        if job.manifest.publishMode == .virtual, job.balanced == nil {
            PublishedShardDirectory(output: job.balancedPath, job: id).remove()
        }
        if let shared = job.manifest.transfer.sharedShardDirectory {
            Housekeeping.removeShardFiles(ofJob: id, in: shared)
        }
    }


    func writeResolvedManifest(_ id: String) {
        guard let job = jobs[id], let prepared = job.prepared, let board = job.board else { return }
        var resolved = ResolvedManifest(
            job: id, toolVersion: configuration.toolVersion, manifest: job.manifest, inputSHA256: prepared.inputSHA256,
            outputSHA256: job.outputSHA256 ?? "", outputContentSHA256: job.outputContentSHA256, fallbackKappa: job.fallback.map(Double.init),
            shards: prepared.shards.indices.map { index in
                ResolvedManifest.Shard(index: index, classes: prepared.shards[index].map(\.classId),
                                       rows: prepared.shards[index].reduce(0) { $0 + $1.outputCount },
                                       estimatedCost: prepared.shardCosts[index], sha256: board.slots[index].sha256 ?? "",
                                       seconds: board.slots[index].seconds, bytes: board.slots[index].bytes)
            },
            stageSeconds: job.stageSeconds, totalSeconds: Date().timeIntervalSince(job.started), submitted: job.started,
            training: job.trainingRecord)
        resolved.verification = job.spot.map { spot in
            ResolvedManifest.Verification(fraction: spot.fraction, seed: spot.seed,
                                          checks: spot.records.map(\.check),
                                          excluded: job.liars)
        }
        do {
            try resolved.write(to: ResolvedManifest.path(forOutput: job.manifest.output), signingKey: configuration.signingKey)
        } catch {
            log.error("cannot write the resolved manifest of \(id): \(error)", metadata: LogMetadata.job(id))
        }
    }
}
