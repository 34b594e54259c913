/// Every message type of wire protocol version 1 (see cluster/PROTOCOL.md); the raw value is the
/// two-byte big-endian type frame.
public enum MessageType: UInt16, CaseIterable, Sendable, Codable {
    // MARK: Worker ↔ coordinator
    case hello = 1
    case welcome = 2
    case refuse = 3
    case heartbeat = 4
    case assignShard = 5
    case shardProgress = 6
    case shardResult = 7
    case shardFailure = 8
    case dataRequest = 9
    case dataChunk = 10
    case cancelShard = 11
    case error = 12
    case goodbye = 13
    case discardShardFile = 14

    // MARK: Client ↔ coordinator
    case submitJob = 32
    case jobAccepted = 33
    case statusRequest = 34
    case statusReply = 35
    case cancelJob = 36
    case cancelReply = 37
    case watchJob = 38
    case jobProgress = 39

    // MARK: Distributed L-BFGS (issue 4)
    case gradientRequest = 64
    case gradientReply = 65
    case trainingOpen = 66
    case trainingLoad = 67
    case trainingShardLoaded = 68
    case trainingFailure = 69
    case trainingClose = 70
    case trainingPing = 71
    case trainerProgress = 72
    case heldOutTally = 73

    // MARK: A trainer on a named worker (`train.trainer`)
    case trainJob = 74
    case jobTrained = 75

    /// The body type carried by messages of this type, used to validate every incoming header.
    var bodyType: any WireBody.Type {
        switch self {
        case .hello: Hello.self
        case .welcome: Welcome.self
        case .refuse: Refuse.self
        case .heartbeat: Heartbeat.self
        case .assignShard: AssignShard.self
        case .shardProgress: ShardProgress.self
        case .shardResult: ShardResult.self
        case .shardFailure: ShardFailure.self
        case .dataRequest: DataRequest.self
        case .dataChunk: DataChunk.self
        case .cancelShard: CancelShard.self
        case .error: ErrorReply.self
        case .goodbye: Goodbye.self
        case .discardShardFile: DiscardShardFile.self
        case .submitJob: SubmitJob.self
        case .jobAccepted: JobAccepted.self
        case .statusRequest: StatusRequest.self
        case .statusReply: StatusReply.self
        case .cancelJob: CancelJob.self
        case .cancelReply: CancelReply.self
        case .watchJob: WatchJob.self
        case .jobProgress: JobProgress.self
        case .gradientRequest: GradientRequest.self
        case .gradientReply: GradientReply.self
        case .trainingOpen: TrainingOpen.self
        case .trainingLoad: TrainingLoad.self
        case .trainingShardLoaded: TrainingShardLoaded.self
        case .trainingFailure: TrainingFailure.self
        case .trainingClose: TrainingClose.self
        case .trainingPing: TrainingPing.self
        case .trainerProgress: TrainerProgress.self
        case .heldOutTally: HeldOutTallyReply.self
        case .trainJob: TrainJob.self
        case .jobTrained: JobTrained.self
        }
    }
}

/// A message body: the `body` member of the JSON header of one message type.
public protocol WireBody: Codable, Sendable {
    static var messageType: MessageType { get }
}
