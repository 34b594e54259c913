/// A shard stage handed to the compute thread, with everything it needs already local.
public struct ShardTask: Sendable {
    public var assignment: AssignShard
    /// κ of the real rows of the shard's classes (synthesis stage), class by class; empty for stage 1.
    public var kappas: [Float]
    /// A readable path of the input file (the shared path, or the verified streamed copy).
    public var inputPath: String
    /// Where to write the shard file.
    public var outputDirectory: String
}

/// What a finished shard stage reports.
public struct ShardOutcome: Sendable {
    public var rowsPerClass: [Int]
    public var sha256: String
    public var byteCount: Int64
    /// The shard file (synthesis stage).
    public var path: String?
    /// The float32 κ payload (concentrations stage).
    public var payload: [UInt8]?
    /// A compact shard's content digests and probe digest (``ShardResult/contentSHA256``).
    public var contentSHA256: [String: String]?
    public var syntheticProbeSHA256: String?

    public init(rowsPerClass: [Int], sha256: String, byteCount: Int64, path: String?, payload: [UInt8]?,
                contentSHA256: [String: String]? = nil, syntheticProbeSHA256: String? = nil) {
        self.rowsPerClass = rowsPerClass; self.sha256 = sha256; self.byteCount = byteCount
        self.path = path; self.payload = payload
        self.contentSHA256 = contentSHA256; self.syntheticProbeSHA256 = syntheticProbeSHA256
    }
}

/// Callbacks the compute thread may use while running a shard.
public struct ShardContext: Sendable {
    /// Compute threads the worker was started with.
    public var threads: Int
    /// True once the coordinator cancelled the job or the worker is shutting down; check between classes.
    public var isCancelled: @Sendable () -> Bool
    /// Reports classes and rows finished so far.
    public var progress: @Sendable (_ classesDone: Int, _ rowsDone: Int) -> Void
}

/// The computation a worker runs for one shard stage. It runs on the worker's compute thread, never on the
/// thread that owns the socket, so a long shard never delays heartbeats.
public protocol ShardExecutor: Sendable {
    func execute(_ task: ShardTask, context: ShardContext) throws -> ShardOutcome
}
