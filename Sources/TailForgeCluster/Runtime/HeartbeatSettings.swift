/// How often peers prove they are alive and how long silence is tolerated.
public struct HeartbeatSettings: Sendable, Equatable, Codable {
    /// Interval between heartbeats, in milliseconds.
    public var intervalMilliseconds: Int
    /// A peer silent for this long is considered dead (its shards are reassigned / the worker reconnects).
    public var livenessMilliseconds: Int

    public init(intervalMilliseconds: Int = 500, livenessMilliseconds: Int = 5_000) {
        self.intervalMilliseconds = intervalMilliseconds
        self.livenessMilliseconds = max(livenessMilliseconds, 2 * intervalMilliseconds)
    }
}
