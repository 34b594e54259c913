import Foundation
import TailForgeNumerics

/// The coordinator's state as a ``ClusterSnapshot`` for the status page and the metrics gauges, published a few
/// times a second, and only when an HTTP server is configured (otherwise nothing is built).
extension CoordinatorLoop {
    /// How often the network thread publishes a snapshot: live enough for a page that polls every second.
    static let snapshotInterval: Duration = .milliseconds(250)

    mutating func publishSnapshotIfDue(_ now: ContinuousClock.Instant) {
        guard let box = runtime.snapshots, now - lastSnapshot >= Self.snapshotInterval else { return }
        lastSnapshot = now
        let snapshot = makeSnapshot()
        box.publish(snapshot)
        runtime.metrics?.update(from: snapshot)
    }

    func makeSnapshot() -> ClusterSnapshot {
        var counts: [String: Int] = [:], mixed: [String: Int] = [:]
        for job in jobs.values {
            counts[job.state.rawValue, default: 0] += 1
            if job.kernels?.isMixed == true { mixed[job.state.rawValue, default: 0] += 1 }
        }
        let live = jobOrder.filter { jobs[$0].map { !$0.state.isTerminal } ?? false }
        let finished = jobOrder.filter { jobs[$0]?.state.isTerminal ?? false }
            .sorted { (jobs[$0]?.finished ?? .distantPast) < (jobs[$1]?.finished ?? .distantPast) }
            .suffix(ClusterSnapshot.recentFinishedJobs)
        let listed = Set(live).union(finished)
        let jobList = jobOrder.filter(listed.contains).compactMap { jobs[$0] }.map(snapshot(of:))
        let workerList = registry.workers.map { identity, worker in
            ClusterSnapshot.Worker(name: worker.name, host: worker.host, threads: worker.threads,
                                   busyWith: worker.activity.reference.map { "\($0.job)/\($0.stage.rawValue)-\($0.shard)" },
                                   heartbeatAgeSeconds: liveness.silence(of: identity).map(\.seconds) ?? 0,
                                   quarantined: worker.quarantine, consecutiveFailures: worker.consecutiveFailures, blasCore: worker.blasCore,
                                   training: WorkerTrainingParts.summary(trainingParts(of: identity)))
        }.sorted { $0.name < $1.name }
        return ClusterSnapshot(time: Date().timeIntervalSince1970, version: configuration.toolVersion, endpoint: endpoint,
                               jobs: jobList, jobCounts: counts, workers: workerList, training: training.snapshot,
                               blasCore: BLAS.coreName, mixedKernelJobs: mixed)
    }

    private func snapshot(of job: JobRecord) -> ClusterSnapshot.Job {
        let board = job.board
        let shardCount = board?.count ?? job.prepared?.shards.count ?? 0
        let done = board?.doneCount ?? 0
        let committed = job.state == .committed
        let stageIndex = job.stage == .synthesis ? 1 : 0
        // Shards done over both stages; a job that also trains gives training (iterations of at most the
        // manifest's maximum) the second half of its bar.
        let balanced = shardCount == 0 ? 0 : Double(stageIndex * shardCount + done) / Double(2 * shardCount)
        let share = job.manifest.train == nil ? 1.0 : 0.5
        let progress: Double = switch job.state {
        case .committed: 1
        case .queued: 0
        case .gathering: share
        case .training: 0.5 + 0.5 * min(1, Double(job.training?.iteration ?? 0) / Double(max(1, job.training?.maxIterations ?? 1)))
        default: share * balanced
        }
        let synthesisDone = job.stage == .synthesis ? (board?.slots.indices.filter { board!.slots[$0].isDone } ?? []) : []
        let rowsWritten = committed ? (job.prepared?.totalRows ?? 0)
            : synthesisDone.reduce(0) { $0 + (job.prepared?.shards[$1].reduce(0) { $0 + $1.outputCount } ?? 0) }
        var stages = ["plan", "concentrations", "synthesis", "gather", "training"].compactMap { name in
            job.stageSeconds[name].map { ClusterSnapshot.Stage(name: name, seconds: $0, running: false) }
        }
        if !job.state.isTerminal {
            let current = job.prepared == nil ? "plan" : job.state == .gathering ? "gather" : job.state == .training ? "training" : job.stage.rawValue
            if !stages.contains(where: { $0.name == current }) {
                stages.append(ClusterSnapshot.Stage(name: current, seconds: Date().timeIntervalSince(job.stageStarted), running: true))
            }
        }
        return ClusterSnapshot.Job(
            id: job.id, name: job.manifest.name ?? job.id, state: job.state.rawValue, stage: job.prepared == nil ? nil : job.stage.rawValue,
            isTerminal: job.state.isTerminal, shardsDone: committed ? shardCount : done, shardCount: shardCount,
            shardStates: board?.stateCounts ?? [:], progress: progress, rowsWritten: rowsWritten, totalRows: job.prepared?.totalRows ?? 0,
            classCount: job.prepared?.classCount ?? 0, elapsedSeconds: (job.finished ?? Date()).timeIntervalSince(job.started),
            stages: stages, output: job.manifest.output, error: job.error, classCounts: job.prepared.flatMap(Self.classCounts),
            kernels: job.kernels, kernelWarning: job.kernels?.warning)
    }

    /// Rows per class before and after balancing, from the plan (each class is in exactly one shard).
    static func classCounts(_ prepared: PreparedJob) -> ClusterSnapshot.ClassCounts? {
        guard prepared.classCount <= ClusterSnapshot.maximumChartClasses else { return nil }
        var before = Array(repeating: 0, count: prepared.classCount)
        var after = Array(repeating: 0, count: prepared.classCount)
        for shard in prepared.shards {
            for task in shard where before.indices.contains(task.classId) {
                before[task.classId] = task.realCount
                after[task.classId] = task.outputCount
            }
        }
        return ClusterSnapshot.ClassCounts(before: before, after: after)
    }
}
