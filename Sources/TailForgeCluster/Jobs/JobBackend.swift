import TailForgeStorage

/// A job after planning: what the coordinator schedules and journals.
public struct PreparedJob: Codable, Sendable, Equatable {
    public var inputSHA256: String
    public var inputBytes: Int64
    public var classCount: Int
    public var dimension: Int
    public var totalRows: Int
    /// The classes of each shard, in ascending class order within a shard.
    public var shards: [[ClassTask]]
    /// Estimated relative cost of each shard (for the manifest and the benchmark).
    public var shardCosts: [Double]

    public init(inputSHA256: String, inputBytes: Int64, classCount: Int, dimension: Int, totalRows: Int,
                shards: [[ClassTask]], shardCosts: [Double]) {
        self.inputSHA256 = inputSHA256; self.inputBytes = inputBytes; self.classCount = classCount
        self.dimension = dimension; self.totalRows = totalRows; self.shards = shards; self.shardCosts = shardCosts
    }
}

/// What the gather step reports about the published output.
public struct GatherReport: Codable, Sendable, Equatable {
    public var outputSHA256: String
    /// Each output dataset's content digest, taken while writing (`BalancedContentDigest`); nil from a backend
    /// that does not write a balanced file.
    public var outputContentSHA256: [String: String]?
    public var rows: Int
    public var fallbackKappa: Float?
    /// The balanced set's identity (`balanced_sha256`), read back for a training job's model.
    public var balancedIdentity: String?
    public init(outputSHA256: String, outputContentSHA256: [String: String]? = nil, rows: Int, fallbackKappa: Float?) {
        self.outputSHA256 = outputSHA256; self.outputContentSHA256 = outputContentSHA256; self.rows = rows; self.fallbackKappa = fallbackKappa
    }
}

/// A finished shard as the coordinator recorded it: where its file is and the SHA-256 its worker reported.
public struct ShardFile: Sendable, Equatable {
    /// Empty when the coordinator has no file for the shard.
    public var path: String
    public var sha256: String
    public init(path: String, sha256: String) { self.path = path; self.sha256 = sha256 }
}

/// The method-specific steps the coordinator runs itself (planning, the κ fallback, gathering), kept apart
/// from scheduling so the scheduler knows shards and stages, not the balancing method.
public protocol JobBackend: Sendable {
    /// Reads the input's labels and digest and cuts the classes into `shardCount` shards of similar cost.
    func prepare(_ manifest: JobManifest, shardCount: Int) throws -> PreparedJob
    /// Turns the stage-1 κ of every shard (class by class, NaN where a class needs the fallback) into the κ
    /// each shard synthesises with; returns the fallback used.
    func synthesisKappas(_ manifest: JobManifest, _ job: PreparedJob, stageOne: [[Float]]) throws -> (kappas: [[Float]], fallback: Float?)
    /// Verifies the shard files (in shard order) against their journaled digests and publishes the output
    /// atomically; refuses to publish when any shard is missing or does not match. `kappas` are the synthesis κ of
    /// every shard: a compact job's output is derived from them and the input, and reads no shard file.
    func gather(_ manifest: JobManifest, _ job: PreparedJob, shards: [ShardFile], kappas: [[Float]], fallback: Float?) throws -> GatherReport
    /// Refuses stage-1 values (the κ of shard `shard`'s real rows) that no honest worker returns. Cheap: runs on
    /// the coordinator's network thread.
    func checkConcentrations(_ manifest: JobManifest, _ job: PreparedJob, shard: Int, kappas: [Float]) throws
    /// Refuses a full-layout stage-2 shard file that is not the one its worker reported (`file.sha256`) or whose content no
    /// honest worker writes; `kappas` are the synthesis κ the shard was sent. Runs off the network thread, before
    /// the shard is accepted, so a refused shard is recomputed elsewhere instead of failing the gather.
    func checkShard(_ manifest: JobManifest, _ job: PreparedJob, shard: Int, file: ShardFile, kappas: [Float]) throws
    /// Refuses a compact job's stage-2 result whose reported content digests (``ShardResult/contentSHA256``) or
    /// probe digest differ from what the coordinator derives from the input and `kappas` (every shard's synthesis
    /// κ). The shard file stays on its worker: nothing of it is read. Runs off the network thread.
    func checkCompactShard(_ manifest: JobManifest, _ job: PreparedJob, shard: Int, contentSHA256: [String: String]?,
                           syntheticProbeSHA256: String?, kappas: [[Float]]) throws
}

extension JobBackend {
    /// A method with nothing to check accepts every count-correct κ.
    public func checkConcentrations(_ manifest: JobManifest, _ job: PreparedJob, shard: Int, kappas: [Float]) throws {}

    /// A method with nothing else to check verifies the file's digest only.
    public func checkShard(_ manifest: JobManifest, _ job: PreparedJob, shard: Int, file: ShardFile, kappas: [Float]) throws {
        try ShardFile.checkDigest(file)
    }

    /// A method without a compact layout has nothing to derive.
    public func checkCompactShard(_ manifest: JobManifest, _ job: PreparedJob, shard: Int, contentSHA256: [String: String]?,
                                  syntheticProbeSHA256: String?, kappas: [[Float]]) throws {}
}

extension ShardFile {
    /// The file's SHA-256 against the one its worker reported.
    static func checkDigest(_ file: ShardFile) throws(ShardResultError) {
        let actual: String
        do { actual = try SHA256.hexDigest(ofFileAt: file.path) } catch { throw .unreadable("\(error)") }
        guard actual == file.sha256 else { throw .digest(expected: file.sha256, actual: actual) }
    }
}
