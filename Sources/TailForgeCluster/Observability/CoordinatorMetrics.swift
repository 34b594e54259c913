import CoreMetrics

/// The coordinator's metrics (names and meanings: cluster/README.md, "Metrics"). Counters are bumped by the
/// network thread as events happen; gauges are set from each ``ClusterSnapshot`` it publishes.
final class CoordinatorMetrics: Sendable {
    static let gradientSeconds = "tailforge_gradient_request_seconds"
    /// From a loopback round trip with tiny messages (≈ 1 ms) to a Places-LT evaluation on a loaded machine (tens of s).
    static let gradientBuckets: [Duration] = [.milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                              .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                              .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60)]

    let registry = MetricsRegistry(durationBuckets: [gradientSeconds: gradientBuckets])

    let rowsGenerated: Counter
    let shardsCompleted: Counter
    let retries: Counter
    let gradientRequests: Counter
    let gradientLatency: Timer
    let workersAlive: Gauge
    let workersQuarantined: Gauge
    let workersServingTraining: Gauge
    let trainingSessions: Gauge

    init() {
        rowsGenerated = registry.counter("tailforge_rows_generated_total")
        shardsCompleted = registry.counter("tailforge_shards_completed_total")
        retries = registry.counter("tailforge_shard_retries_total")
        gradientRequests = registry.counter("tailforge_gradient_requests_total")
        gradientLatency = registry.timer(Self.gradientSeconds)
        workersAlive = registry.gauge("tailforge_workers_alive")
        workersQuarantined = registry.gauge("tailforge_workers_quarantined")
        workersServingTraining = registry.gauge("tailforge_workers_serving_training")
        trainingSessions = registry.gauge("tailforge_training_sessions")
        bytes = registry.bytesMoved([("sent", "input"), ("received", "shard"), ("relayed", "gradient")])
        // Every state and direction is present from the start: a query for "failed jobs" finds 0, not nothing.
        recordJobs("tailforge_jobs", [:])
        recordJobs("tailforge_jobs_mixed_kernels", [:])
        for state in ShardBoard.stateNames { registry.gauge("tailforge_shards", [("state", state)]).record(0) }
    }

    private let bytes: MetricsRegistry.BytesMoved

    /// Bytes of input chunks sent to workers, shard file chunks fetched from them, or training messages relayed.
    func moved(_ count: Int, direction: String, what: String) { bytes.add(count, direction: direction, what: what) }

    /// A failed attempt, by the reason's kind (`timedOut`, `workerLost`, …).
    func attemptFailed(_ reason: ShardFailureReason) { registry.failedAttempt(reason) }

    /// Something the coordinator turned away: a worker, a message, a job or a training session.
    func refused(_ reason: String) {
        registry.counter("tailforge_refusals_total", [("reason", reason)]).increment()
    }

    /// `name{state}` for every job state, 0 for those not in `counts`.
    private func recordJobs(_ name: String, _ counts: [String: Int]) {
        for state in JobState.allCases { registry.gauge(name, [("state", state.rawValue)]).record(counts[state.rawValue] ?? 0) }
    }

    /// Gauges from the state the network thread just published.
    func update(from snapshot: ClusterSnapshot) {
        recordJobs("tailforge_jobs", snapshot.jobCounts)
        recordJobs("tailforge_jobs_mixed_kernels", snapshot.mixedKernelJobs)
        var shards = Dictionary(uniqueKeysWithValues: ShardBoard.stateNames.map { ($0, 0) })
        for job in snapshot.jobs where !job.isTerminal {
            for (state, count) in job.shardStates { shards[state, default: 0] += count }
        }
        for (state, count) in shards { registry.gauge("tailforge_shards", [("state", state)]).record(count) }
        workersAlive.record(snapshot.workers.count)
        workersQuarantined.record(snapshot.workers.filter { $0.quarantined != nil }.count)
        workersServingTraining.record(snapshot.workers.filter { $0.training != nil }.count)
        // A family no worker runs any more is removed, as a worker that left is from the heartbeat ages.
        registry.setGauges("tailforge_workers", label: "blas_core",
                           snapshot.workers.reduce(into: [:]) { $0[$1.blasCore ?? TrainingKernels.unknown, default: 0] += 1 })
        registry.setGauges("tailforge_coordinator_blas_core", label: "blas_core", snapshot.blasCore.map { [$0: 1] } ?? [:])
        registry.setGauges("tailforge_worker_heartbeat_age_seconds", label: "worker",
                           Dictionary(snapshot.workers.map { ($0.name, $0.heartbeatAgeSeconds) }, uniquingKeysWith: max))
        trainingSessions.record(snapshot.training.filter(\.open).count)
        let progressed = snapshot.training.filter { !$0.losses.isEmpty }
        registry.setGauges("tailforge_training_iteration", label: "session",
                           Dictionary(uniqueKeysWithValues: progressed.map { ($0.session, Double($0.losses.last!.iteration)) }))
        registry.setGauges("tailforge_training_loss", label: "session",
                           Dictionary(uniqueKeysWithValues: progressed.map { ($0.session, $0.losses.last!.loss) }))
        registry.setGauges("tailforge_training_gradient_norm", label: "session",
                           Dictionary(uniqueKeysWithValues: progressed.map { ($0.session, $0.losses.last!.gradientNorm) }))
    }
}
