import Foundation

/// One HTTP listener a daemon's flags ask for (`--metrics-bind`, `--http-bind`): what it serves and where it
/// tells scripts its URL. TailForgeObservability's `ObservabilityServer` serves it.
public struct HTTPListener: Sendable {
    public let address: HTTPBindAddress
    /// The option that asked for it, for error messages.
    public let flag: String
    public let metrics: MetricsRegistry
    /// The coordinator's published state: with it the listener also serves the status page and `/api/status`.
    public let snapshots: SnapshotBox?
    /// Every request must carry it when set.
    public let token: HTTPToken?
    /// Gets `http://HOST:PORT` once listening (the port a `:0` bind picked); removed when the listener stops.
    public let endpointFile: String
    /// Binds only once this opens (the coordinator holds its state directory, where `endpointFile` goes); nil: at once.
    public let startsAfter: Latch?

    init(address: HTTPBindAddress, flag: String, metrics: MetricsRegistry, snapshots: SnapshotBox?, token: HTTPToken?, directory: String,
         startsAfter: Latch? = nil) {
        self.address = address; self.flag = flag; self.metrics = metrics; self.snapshots = snapshots; self.token = token
        self.startsAfter = startsAfter
        self.endpointFile = Self.endpointFile(directory: directory, flag: flag)
    }

    /// `DIR/http-endpoint` for `--http-bind`, `DIR/metrics-endpoint` for `--metrics-bind` (DIR: the coordinator's
    /// state directory or the worker's work directory).
    public static func endpointFile(directory: String, flag: String) -> String {
        (directory as NSString).appendingPathComponent(flag == "--http-bind" ? "http-endpoint" : "metrics-endpoint")
    }
}
