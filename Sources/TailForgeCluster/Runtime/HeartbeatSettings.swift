/// How often peers prove they are alive and how long silence is tolerated.
public struct HeartbeatSettings: Sendable, Equatable, Codable {
    /// Interval between heartbeats, in milliseconds.
    public var intervalMilliseconds: Int
    /// A peer silent for this long is considered dead (its shards are reassigned / the worker reconnects).
    public var livenessMilliseconds: Int

    /// Ten milliseconds to an hour, and up to a day of silence: far beyond any sensible setting, and every
    /// value (and twice it) is a representable `Duration`.
    public static let intervalRange = 10...3_600_000
    public static let livenessRange = 20...86_400_000

    /// Values outside the ranges are clamped into them, so no setting (a hostile `welcome`) can overflow a
    /// `Duration`; liveness is at least two intervals.
    public init(intervalMilliseconds: Int = 500, livenessMilliseconds: Int = 5_000) {
        let interval = min(max(intervalMilliseconds, Self.intervalRange.lowerBound), Self.intervalRange.upperBound)
        let liveness = min(max(livenessMilliseconds, Self.livenessRange.lowerBound), Self.livenessRange.upperBound)
        self.intervalMilliseconds = interval
        self.livenessMilliseconds = max(liveness, 2 * interval)
    }

    /// The settings a coordinator's `welcome` asks for, or nil when they are out of range (then the worker keeps
    /// its own and says why).
    public static func checked(intervalMilliseconds: Int, livenessMilliseconds: Int) -> HeartbeatSettings? {
        guard intervalRange.contains(intervalMilliseconds), livenessRange.contains(livenessMilliseconds),
              livenessMilliseconds >= 2 * intervalMilliseconds else { return nil }
        return HeartbeatSettings(intervalMilliseconds: intervalMilliseconds, livenessMilliseconds: livenessMilliseconds)
    }
}
