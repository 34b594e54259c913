import Foundation
import Logging

extension CoordinatorLoop {
    /// Rebuilds unfinished jobs from the journal (committed shards are not redone), purges jobs past their
    /// retention and removes the temporary files an earlier life of this coordinator left.
    mutating func resume() throws {
        if let torn = journal.tornTail {
            // What an interrupted append leaves; the job it belonged to acts as if it never happened.
            log.warning("journal \(journal.path): \(torn)")
        }
        let replay = JournalReplay(try journal.entries())
        for orphan in replay.orphans {
            log.warning("journal \(journal.path): a \(orphan.event.rawValue) record of \(orphan.job) has no submission record; ignored", metadata: LogMetadata.job(orphan.job))
        }
        for id in replay.order {
            let recovered = replay.jobs[id]!
            var job = JobRecord(id: id, manifest: recovered.manifest, directory: jobDirectoryPath(id))
            job.started = recovered.submitted
            job.prepared = recovered.prepared
            job.state = recovered.state
            job.error = recovered.error
            job.finished = recovered.finished
            job.outputSHA256 = recovered.outputSHA256
            job.spot = recovered.verification.map { SpotCheck(fraction: $0.fraction, seed: $0.seed, records: recovered.checks) }
            job.excluded = recovered.excluded
            job.liars = recovered.liars
            job.owner = recovered.owner
            // A planned job had started; one that was not may have been queued: admitted below, within its limits.
            job.admitted = recovered.prepared != nil || recovered.owner == nil
            if let prepared = recovered.prepared, !job.state.isTerminal {
                // Only κ whose file still matches its journaled digest count as done.
                for (shard, file) in recovered.kappaFiles where prepared.shards.indices.contains(shard) {
                    guard let data = FileManager.default.contents(atPath: file.path), FileDigest.sha256(of: [UInt8](data)) == file.sha256,
                          let values = WireMessage.float32Values([UInt8](data)) else { continue }
                    job.stageOneKappas[shard] = values
                }
            }
            jobs[id] = job
            jobOrder.append(id)
            Housekeeping.removeDeadTemporaries(of: recovered.manifest.output)
        }
        removeOwnTemporaries()
        purgeExpiredJobs()
        resuming = true
        defer { resuming = false }
        for id in jobOrder where !(jobs[id]!.state.isTerminal) {
            // A manifest journaled by a release with looser checks must fail its job, not trap on every restart.
            do { try jobs[id]!.manifest.validate(source: "job \(id)") } catch {
                fail(id, "its journaled manifest is invalid: \(error.reason)")
                continue
            }
            // Restarted with other data roots: a job outside them no longer runs.
            do {
                try DataRootCheck.check(jobs[id]!.manifest, roots: configuration.dataRoots, stateDirectory: configuration.stateDirectory, source: "job \(id)")
            } catch {
                fail(id, error.reason)
                continue
            }
            guard let prepared = jobs[id]!.prepared else {
                _ = jobDirectory(id)
                if let owner = jobs[id]!.owner, !jobs[id]!.admitted {
                    // Counted against its client like a new submission, in journal order.
                    let (running, _) = liveJobs(of: owner)
                    guard running < configuration.maxJobsPerClient else {
                        log.info("resuming job \(id): queued behind \(running) running job(s) of its client", metadata: LogMetadata.job(id))
                        continue
                    }
                    jobs[id]!.admitted = true
                }
                log.info("resuming job \(id): planning", metadata: LogMetadata.job(id))
                startPreparing(id)
                continue
            }
            _ = jobDirectory(id)
            var job = jobs[id]!
            let recovered = replay.jobs[id]!
            let committed = recovered.shardFiles
            let maxAttempts = maxAttempts(job.manifest)
            if job.stageOneKappas.count == prepared.shards.count {
                job.stage = .synthesis
                var board = job.makeBoard(.synthesis, maxAttempts: maxAttempts)!
                for (index, file) in committed where prepared.shards.indices.contains(index) {
                    board.done(index, file: file.path, sha256: file.sha256, producer: recovered.shardProducers[index])
                }
                job.board = board
                jobs[id] = job
                log.info("resuming job \(id): synthesis, \(committed.count) of \(prepared.shards.count) shards committed", metadata: LogMetadata.job(id))
                startSynthesisKappas(id)
            } else {
                job.stage = .concentrations
                var board = job.makeBoard(.concentrations, maxAttempts: maxAttempts)!
                // A producer named here still has these κ withdrawn if it is caught lying later in the stage.
                for index in job.stageOneKappas.keys { board.done(index, producer: recovered.kappaProducers[index]) }
                job.board = board
                jobs[id] = job
                log.info("resuming job \(id): concentrations, \(job.stageOneKappas.count) of \(prepared.shards.count) shards committed", metadata: LogMetadata.job(id))
                advance(id)
            }
        }
    }

    func jobDirectoryPath(_ job: String) -> String {
        (configuration.stateDirectory as NSString).appendingPathComponent("jobs/\(job)")
    }

    /// Partial fetches, journal compactions and directories of jobs the journal no longer knows.
    mutating func removeOwnTemporaries() {
        let state = configuration.stateDirectory
        for name in Housekeeping.contents(state) where name.hasPrefix(Journal.fileName + ".compact-") {
            try? FileManager.default.removeItem(atPath: (state as NSString).appendingPathComponent(name))
        }
        let jobsDirectory = (state as NSString).appendingPathComponent("jobs")
        for name in Housekeeping.contents(jobsDirectory) {
            let directory = (jobsDirectory as NSString).appendingPathComponent(name)
            guard let job = jobs[name], !job.state.isTerminal else {
                try? FileManager.default.removeItem(atPath: directory)
                continue
            }
            for file in Housekeeping.contents(directory) where file.hasSuffix(".partial") {
                try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(file))
            }
        }
    }

    /// Forgets jobs finished longer than the retention period ago: their records leave the journal (rewritten
    /// atomically) and their directories the disk.
    mutating func purgeExpiredJobs(now: Date = Date()) {
        let retention = configuration.retainJobsSeconds
        let expired = Set(jobOrder.filter { id in jobs[id]?.finished.map { now.timeIntervalSince($0) > retention } ?? false })
        guard !expired.isEmpty else { return }
        do {
            let kept = try journal.entries().filter { !expired.contains($0.job) }
            try journal.rewrite(kept)
        } catch {
            log.error("cannot purge \(expired.count) finished job(s) from the journal: \(error)")
            return
        }
        for id in expired {
            if let directory = jobs[id]?.directory { try? FileManager.default.removeItem(atPath: directory) }
            jobs[id] = nil
            watchers[id] = nil
        }
        jobOrder.removeAll { expired.contains($0) }
        log.info("purged \(expired.count) job(s) finished more than \(Int(retention)) s ago")
    }
}
