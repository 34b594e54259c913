/// Why distributed training stopped: what went wrong, where, and what to do.
public enum DistributedTrainingError: Error, CustomStringConvertible {
    case transport(coordinator: String, ZMQError)
    /// Nothing arrived for a whole timeout while waiting for `what`.
    case timeout(coordinator: String, what: String, missingShards: [Int], seconds: Double)
    /// A worker could not load or evaluate a shard (the same file would fail everywhere).
    case workerFailure(String)
    /// The coordinator itself refused the session or a request (a shard outside its data roots, a malformed request):
    /// no worker was involved, so "a worker failed" would send the user looking at the wrong machine.
    case coordinatorRefused(String)
    /// The coordinator rejected a message (for example it runs an older protocol without training).
    case rejected(code: String, message: String)
    /// A reply did not carry the exact sums it should.
    case malformedReply(String)
    /// Shards disagree with each other (dimension, class names).
    case inconsistentShards(String)
    /// The coordinator no longer knows the session (it restarted); handled by reopening the session.
    case sessionLost
    /// A checkpoint file that cannot be read, or one written for another run.
    case checkpoint(path: String, reason: String)

    public var description: String {
        switch self {
        case .transport(let coordinator, let error): "cannot talk to the coordinator at \(coordinator): \(error)"
        case .timeout(let coordinator, let what, let missing, let seconds):
            "no progress for \(seconds) s waiting for \(what) from the coordinator at \(coordinator)"
                + (missing.isEmpty ? "" : " (shards still missing: \(missing.prefix(20).map(String.init).joined(separator: ", ")))")
                + "; check that the coordinator runs and that `tailforge status` lists live workers"
        case .workerFailure(let message): "a worker failed: \(message)"
        case .coordinatorRefused(let message): "the coordinator refused the training session: \(message)"
        case .rejected(let code, let message): "the coordinator rejected a training message (\(code)): \(message); are coordinator and trainer the same TailForge release?"
        case .malformedReply(let message): "malformed reply: \(message)"
        case .inconsistentShards(let message): "the training shards disagree: \(message)"
        case .checkpoint(let path, let reason): "checkpoint \(path): \(reason)"
        case .sessionLost: "the coordinator lost the training session repeatedly (it keeps restarting?); start the trainer again to resume from its checkpoint"
        }
    }
}
