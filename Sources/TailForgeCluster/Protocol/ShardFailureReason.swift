/// Why a shard attempt ended without a result. The scheduler decides on the case, never on message text:
/// whether the attempt counts toward the shard's attempt cap, and whether it counts against the worker's health.
public enum ShardFailureReason: Codable, Sendable, Hashable, CustomStringConvertible {
    /// The worker was still computing another shard (a crossed assignment): the shard never started there.
    case busy(with: ShardReference)
    /// The worker could not get the job's input (streaming, writing or verifying its copy).
    case inputUnavailable(String)
    /// The computation threw (out of disk, a plan that does not match the input, …).
    case executionFailed(String)
    /// The worker's result does not match the plan (row counts, κ payload size or digest).
    case invalidResult(String)
    /// The coordinator could not copy the finished shard file from the worker.
    case fetchFailed(String)
    /// No progress from the worker for this many seconds (the shard timeout).
    case timedOut(seconds: Double)
    /// The worker died or went silent while holding the shard (a crash counts: a class that kills its worker
    /// must not kill every worker in turn).
    case workerLost
    /// The worker shut down gracefully and handed the shard back.
    case returned
    /// The coordinator stopped the attempt (job cancelled, failed or the attempt was superseded).
    case cancelled

    /// The case's name without its values: a bounded label for metrics (`timedOut`, `workerLost`, …).
    public var kind: String {
        switch self {
        case .busy: "busy"
        case .inputUnavailable: "inputUnavailable"
        case .executionFailed: "executionFailed"
        case .invalidResult: "invalidResult"
        case .fetchFailed: "fetchFailed"
        case .timedOut: "timedOut"
        case .workerLost: "workerLost"
        case .returned: "returned"
        case .cancelled: "cancelled"
        }
    }

    /// True when the attempt counts toward the shard's attempt cap.
    public var countsAsAttempt: Bool {
        switch self {
        case .busy, .returned, .cancelled: false
        case .inputUnavailable, .executionFailed, .invalidResult, .fetchFailed, .timedOut, .workerLost: true
        }
    }

    /// True when the failure says something about the worker's health (toward quarantine). A lost worker is
    /// gone already; a busy, returned or cancelled attempt is nobody's fault.
    public var blamesWorker: Bool {
        switch self {
        case .inputUnavailable, .executionFailed, .invalidResult, .fetchFailed, .timedOut: true
        case .busy, .returned, .cancelled, .workerLost: false
        }
    }

    public var description: String {
        switch self {
        case .busy(let other): "the worker was busy with \(other)"
        case .inputUnavailable(let message): "the input was unavailable: \(message)"
        case .executionFailed(let message): message
        case .invalidResult(let message): "invalid result: \(message)"
        case .fetchFailed(let message): "fetching the shard file failed: \(message)"
        case .timedOut(let seconds): "no progress for \(ShardFailureReason.format(seconds)) s (shard timeout)"
        case .workerLost: "the worker was lost while computing it"
        case .returned: "the worker shut down and handed it back"
        case .cancelled: "cancelled"
        }
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() && seconds < 1e15 ? String(Int64(seconds)) : String(seconds)
    }
}
