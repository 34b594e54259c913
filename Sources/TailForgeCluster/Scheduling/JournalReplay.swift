import Foundation

/// Rebuilds the coordinator's jobs from its journal records: a pure fold over the entries, so resumption is
/// tested without files or sockets. What it recovers still has to be checked against the disk (κ files are
/// re-verified by the caller).
struct JournalReplay {
    struct RecoveredJob: Equatable {
        var id: String
        var manifest: JobManifest
        var submitted: Date
        var prepared: PreparedJob?
        var state: JobState = .queued
        var error: String?
        /// When the job reached its terminal state (for the retention period).
        var finished: Date?
        var kappaFiles: [Int: ShardFile] = [:]
        var shardFiles: [Int: ShardFile] = [:]
        var outputSHA256: String?
        var verification: JournalEntry.Verification?
        var owner: String?
        /// The worker of each κ or shard result accepted without a second opinion (withdrawn if it is caught lying).
        var kappaProducers: [Int: String] = [:]
        var shardProducers: [Int: String] = [:]
        /// The spot checks that accepted committed results, in journal order (a withdrawn result's check stays:
        /// it happened, and the live coordinator keeps it too).
        var checks: [SpotCheck.Record] = []
        /// Workers kept out of the job, by name and principal, and as the resolved manifest names them.
        var excluded: Set<String> = []
        var liars: [String] = []
    }

    private(set) var jobs: [String: RecoveredJob] = [:]
    private(set) var order: [String] = []
    /// Records about jobs the journal never submitted (their submission record was damaged).
    private(set) var orphans: [JournalEntry] = []

    init(_ entries: [JournalEntry]) {
        for entry in entries { apply(entry) }
    }

    private mutating func apply(_ entry: JournalEntry) {
        if entry.event == .submitted {
            guard let manifest = entry.manifest, jobs[entry.job] == nil else { return }
            jobs[entry.job] = RecoveredJob(id: entry.job, manifest: manifest, submitted: entry.time, verification: entry.verification, owner: entry.owner)
            order.append(entry.job)
            return
        }
        guard var job = jobs[entry.job] else {
            orphans.append(entry)
            return
        }
        switch entry.event {
        case .submitted:
            break
        case .prepared:
            guard let prepared = entry.prepared else { break }
            job.prepared = prepared
            if !job.state.isTerminal { job.state = .running }
        case .kappas:
            if let shard = entry.shard, let path = entry.path, let sha256 = entry.sha256 {
                job.kappaFiles[shard] = ShardFile(path: path, sha256: sha256)
                job.kappaProducers[shard] = entry.producer
                if let check = entry.check.flatMap(SpotCheck.Record.init) { job.checks.append(check) }
            }
        case .shard:
            if let shard = entry.shard, let path = entry.path, let sha256 = entry.sha256 {
                job.shardFiles[shard] = ShardFile(path: path, sha256: sha256)
                job.shardProducers[shard] = entry.producer
                if let check = entry.check.flatMap(SpotCheck.Record.init) { job.checks.append(check) }
            }
        case .rejected:
            if let shard = entry.shard {
                if entry.message == ShardStage.concentrations.rawValue {
                    job.kappaFiles[shard] = nil
                    job.kappaProducers[shard] = nil
                } else {
                    job.shardFiles[shard] = nil
                    job.shardProducers[shard] = nil
                }
            }
        case .excluded:
            job.excluded.formUnion(entry.excluded ?? [])
            if let named = entry.message, !job.liars.contains(named) { job.liars.append(named) }
        case .committed:
            job.state = .committed
            job.outputSHA256 = entry.sha256
            job.finished = entry.time
        case .failed:
            job.state = .failed
            job.error = entry.message
            job.finished = entry.time
        case .cancelled:
            job.state = .cancelled
            job.finished = entry.time
        }
        jobs[entry.job] = job
    }

    /// Jobs that finished more than `retention` before `now`: their state and files are purged.
    func expired(now: Date, retention: TimeInterval) -> [String] {
        order.filter { id in
            guard let finished = jobs[id]?.finished else { return false }
            return now.timeIntervalSince(finished) > retention
        }
    }
}
