/// What an authenticated peer may do, from the allow-list directory its public key sits in.
///
/// The ZAP handler names the role as the connection's ZAP user id; the coordinator reads it from every message
/// (`zmq_msg_gets "User-Id"`) and checks it here before acting, so the rule lives in one pure table.
public enum PeerRole: String, Sendable, CaseIterable {
    /// `allow-dir/workers/*.pub`: may register, take shards, send results and serve gradients.
    case worker
    /// `allow-dir/clients/*.pub`: may submit, cancel, watch, read status and run distributed training.
    case client
    /// A coordinator started with `--insecure`: no authentication, so every peer may do everything.
    case unauthenticated

    /// Whether a peer of this role may send `type` to the coordinator. (A worker named in a job's `train.trainer` may
    /// also send a client's training messages for that job's sessions while it drives them: ``NamedTrainers``.)
    public func permits(_ type: MessageType) -> Bool {
        switch self {
        case .unauthenticated: true
        case .worker: Self.workerMessages.contains(type) || type == .error
        case .client: Self.clientMessages.contains(type) || type == .error
        }
    }

    static let workerMessages: Set<MessageType> = [
        .hello, .heartbeat, .shardProgress, .shardResult, .shardFailure, .dataRequest, .dataChunk, .goodbye,
        .gradientReply, .trainingShardLoaded, .trainingFailure, .heldOutTally, .jobTrained,
    ]

    static let clientMessages: Set<MessageType> = [
        .submitJob, .statusRequest, .cancelJob, .watchJob,
        .trainingOpen, .gradientRequest, .trainingClose, .trainingPing, .trainerProgress,
    ]

    /// The role a ZAP user id (`ROLE` or `ROLE:FINGERPRINT`) names; nil (refuse) for anything else.
    public init?(userId: String?) {
        guard let userId, let role = PeerRole(rawValue: String(userId.prefix { $0 != ":" })), role != .unauthenticated else { return nil }
        self = role
    }

    /// The key fingerprint in a ZAP user id `ROLE:FINGERPRINT`, which names the peer for per-client limits.
    public static func fingerprint(userId: String?) -> String? {
        guard let userId, let colon = userId.firstIndex(of: ":") else { return nil }
        let fingerprint = userId[userId.index(after: colon)...]
        return fingerprint.isEmpty ? nil : String(fingerprint)
    }
}
