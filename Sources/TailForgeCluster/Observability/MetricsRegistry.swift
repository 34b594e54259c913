import CoreMetrics
import Prometheus
import Synchronization

/// One daemon's metrics: a Prometheus registry of its own (never the process-wide `MetricsSystem`, so several
/// daemons in one test process keep their numbers apart) and the swift-metrics factory that fills it.
///
/// Updates are atomic counters and gauges inside swift-prometheus, taken once per event (a shard, a chunk, a
/// gradient request), never per row; the HTTP thread renders the text on each scrape.
public final class MetricsRegistry: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    /// Labelled gauges whose label sets come and go (one per worker, per training session), by name and label value.
    private let dynamicGauges = Mutex<[String: [String: CoreMetrics.Gauge]]>([:])

    /// `durationBuckets`: histogram buckets per timer name.
    init(durationBuckets: [String: [Duration]] = [:]) {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = durationBuckets
        self.factory = factory
    }

    func counter(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
    }

    func gauge(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
    }

    func timer(_ name: String) -> CoreMetrics.Timer {
        CoreMetrics.Timer(label: name, dimensions: [], factory: factory)
    }

    /// Sets `name{label=key}` to each value and removes the label values no longer present (a worker that left
    /// must not be reported with its last heartbeat age forever).
    func setGauges(_ name: String, label: String, _ values: [String: Double]) {
        dynamicGauges.withLock { all in
            var current = all[name] ?? [:]
            for (key, gauge) in current where values[key] == nil {
                gauge.destroy()
                current[key] = nil
            }
            for (key, value) in values {
                let gauge = current[key] ?? CoreMetrics.Gauge(label: name, dimensions: [(label, key)], factory: factory)
                gauge.record(value)
                current[key] = gauge
            }
            all[name] = current
        }
    }

    /// `tailforge_bytes_moved_total` for each (direction, what) a daemon moves: every series reads 0 from the start,
    /// and updates go to held counters (a lookup takes the registry's lock, which a scrape holds while rendering).
    func bytesMoved(_ transfers: [(direction: String, what: String)]) -> BytesMoved {
        BytesMoved(counters: Dictionary(uniqueKeysWithValues: transfers.map {
            ("\($0.direction)/\($0.what)", counter("tailforge_bytes_moved_total", [("direction", $0.direction), ("what", $0.what)]))
        }))
    }

    struct BytesMoved: Sendable {
        let counters: [String: CoreMetrics.Counter]

        func add(_ bytes: Int, direction: String, what: String) {
            guard bytes > 0 else { return }
            counters["\(direction)/\(what)"]?.increment(by: bytes)
        }
    }

    /// A failed shard attempt, by its reason's case (rare: looked up each time).
    func failedAttempt(_ reason: ShardFailureReason) {
        counter("tailforge_shard_failures_total", [("reason", reason.kind)]).increment()
    }

    /// The exposition text (Prometheus text format 0.0.4).
    public func render() -> [UInt8] { registry.emitToBuffer() }
}
