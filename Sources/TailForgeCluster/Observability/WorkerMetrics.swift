import CoreMetrics

/// A worker's metrics (names and meanings: cluster/README.md, "Metrics"), bumped once per shard, chunk or
/// gradient request, and the two gauges once per network-loop turn (an atomic store each).
final class WorkerMetrics: Sendable {
    static let gradientSeconds = "tailforge_gradient_request_seconds"

    let registry = MetricsRegistry(durationBuckets: [gradientSeconds: CoordinatorMetrics.gradientBuckets])

    let registered: Gauge
    let busy: Gauge
    let coordinatorSilence: Gauge
    let rowsGenerated: Counter
    let gradientRequests: Counter
    let gradientCompute: Timer

    init() {
        registered = registry.gauge("tailforge_worker_registered")
        busy = registry.gauge("tailforge_worker_busy")
        coordinatorSilence = registry.gauge("tailforge_coordinator_heartbeat_age_seconds")
        rowsGenerated = registry.counter("tailforge_rows_generated_total")
        gradientRequests = registry.counter("tailforge_gradient_requests_total")
        gradientCompute = registry.timer(Self.gradientSeconds)
        for stage in [ShardStage.concentrations, .synthesis] { registry.counter("tailforge_shards_completed_total", [("stage", stage.rawValue)]).increment(by: 0) }
        bytes = registry.bytesMoved([("received", "input"), ("sent", "shard"), ("sent", "gradient")])
    }

    private let bytes: MetricsRegistry.BytesMoved

    func completed(_ stage: ShardStage) {
        registry.counter("tailforge_shards_completed_total", [("stage", stage.rawValue)]).increment()
    }

    func failed(_ reason: ShardFailureReason) { registry.failedAttempt(reason) }

    func moved(_ count: Int, direction: String, what: String) { bytes.add(count, direction: direction, what: what) }
}
