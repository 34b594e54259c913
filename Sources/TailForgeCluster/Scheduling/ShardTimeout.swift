/// How long a shard attempt may go without a sign of life (assignment, progress message) before it is given up
/// and retried elsewhere. Workers report progress after every batch of classes, so a slow but working shard
/// never times out; a worker that heartbeats but never answers does.
enum ShardTimeout {
    /// Longer windows are clamped (a manifest's `1e300` must not trap in a `Duration` conversion).
    static let maximumSeconds: Double = 30 * 86_400
    /// The default window's floor: covers loading the input and the first batch of a small job.
    static let baseSeconds: Double = 120
    /// The default window's rate: work units (below) per second a slow node is assumed to manage.
    static let unitsPerSecond: Double = 1e8

    /// The window for a shard: the manifest's `shardTimeoutSeconds`, else derived from the shard's largest
    /// class (the most work between two progress messages: n² · d for nearest neighbours in κ estimation,
    /// rows · d for synthesis), plus the time to stream the input at 20 MB/s when it is streamed.
    static func window(manifestSeconds: Double?, classes: [ClassTask], dimension: Int, streamedBytes: Int64 = 0) -> Duration {
        if let manifestSeconds, manifestSeconds.isFinite, manifestSeconds > 0 {
            return seconds(min(manifestSeconds, maximumSeconds))
        }
        let largest = classes.map { c -> Double in
            let real = Double(c.realCount)
            return (real * real + Double(c.outputCount)) * Double(max(1, dimension))
        }.max() ?? 0
        let derived = baseSeconds + largest / unitsPerSecond + Double(streamedBytes) / 20e6
        return seconds(min(derived, maximumSeconds))
    }

    static func seconds(_ value: Double) -> Duration {
        .milliseconds(Int64((value * 1000).rounded(.up)))
    }
}
