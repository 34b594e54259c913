import TailForgeEngine
import TailForgeStorage

/// Why the engine backend or executor could not plan, compute or publish a job, saying where and what to do.
public enum ClusterJobError: Error, CustomStringConvertible {
    case settings(BalanceSettingsError)
    case balance(BalanceError)
    case storage(StorageError)
    /// The input's SHA-256 is not the one the manifest pins.
    case inputChanged(path: String, expected: String, actual: String)
    /// A shard file the gather needs is absent: publishing would leave holes in the output.
    case missingShard(shard: Int, path: String)
    /// A shard file's digest differs from the one its worker reported.
    case shardDigestMismatch(shard: Int, path: String, expected: String, actual: String)
    /// A shard file's rows do not match the plan.
    case shardRowsMismatch(shard: Int, path: String, reason: String)
    /// A worker's view of the input disagrees with the coordinator's plan (different file behind the same path?).
    case planMismatch(reason: String)
    /// A virtual publish could not place the shard files beside the output (``PublishedShardDirectory``).
    case publish(path: String, reason: String)

    public var description: String {
        switch self {
        case .settings(let error): "\(error)"
        case .balance(let error): "\(error)"
        case .storage(let error): "\(error)"
        case .inputChanged(let path, let expected, _):
            // The actual digest is not echoed: it would let anyone who can submit learn any file's SHA-256.
            "input \(path) does not have the SHA-256 the manifest pins (\(expected)); restore the file or update input.sha256 (`sha256sum` on the coordinator computes it)"
        case .missingShard(let shard, let path):
            "shard \(shard) is missing (\(path.isEmpty ? "never received" : path)); refusing to publish a partial output — resubmit or replay the job"
        case .shardDigestMismatch(let shard, let path, let expected, let actual):
            "shard \(shard) at \(path) has SHA-256 \(actual) but its worker reported \(expected); the file was altered or truncated — resubmit the job"
        case .shardRowsMismatch(let shard, let path, let reason):
            "shard \(shard) at \(path) does not match the plan: \(reason)"
        case .planMismatch(let reason):
            "the worker's input does not match the job's plan: \(reason); check every node reads the same input file"
        case .publish(let path, let reason):
            "cannot publish the virtual output's shard file \(path): \(reason); check the output's directory is writable, or publish with `publish: copy`"
        }
    }
}
