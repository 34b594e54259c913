import Logging

/// The ids a log line carries as metadata, spelt one way everywhere: `job`, `shard` (with `stage` and `attempt`),
/// `worker` and `session`. `--log-format json` puts them at the top level of each line, text shows them as
/// `key=value` before the message.
enum LogMetadata {
    static func job(_ id: String) -> Logger.Metadata { ["job": .string(id)] }

    static func shard(_ reference: ShardReference, worker: String? = nil) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["job": .string(reference.job), "shard": "\(reference.shard)",
                                         "stage": .string(reference.stage.rawValue), "attempt": "\(reference.attempt)"]
        if let worker { metadata["worker"] = .string(worker) }
        return metadata
    }

    static func worker(_ name: String) -> Logger.Metadata { ["worker": .string(name)] }

    static func session(_ id: String) -> Logger.Metadata { ["session": .string(id)] }
}
