/// A balancing job as submitted: input, policies, output, sharding and fault-tolerance settings.
///
/// Read from YAML or JSON (`jobs/*.yaml`); every field but `input.path` and `output` has a default, and the
/// policies use the same string forms as `tailforge balance` (`max`, `1000`, `median*2`; `local`, `class`,
/// `fixed:50`; `vmf`, `gaussian`, `smote`, `none`).
public struct JobManifest: Codable, Sendable, Equatable {
    /// A human-readable name shown by `status`.
    public var name: String?
    public var input: Input
    /// Path of the balanced output file (as the coordinator sees it).
    public var output: String
    public var policy: Policy
    public var sharding: Sharding
    public var transfer: Transfer

    /// The input file and the names of its datasets.
    public struct Input: Codable, Sendable, Equatable {
        public var path: String
        /// Expected SHA-256; the coordinator refuses the job if the file differs.
        public var sha256: String?
        public var embeddings: String?
        public var labels: String?
        /// Name of the class-names dataset; the empty string means "none".
        public var classNames: String?
        public init(path: String, sha256: String? = nil, embeddings: String? = nil, labels: String? = nil, classNames: String? = nil) {
            self.path = path; self.sha256 = sha256; self.embeddings = embeddings; self.labels = labels; self.classNames = classNames
        }
        public var embeddingsDataset: String { embeddings ?? "embeddings" }
        public var labelsDataset: String { labels ?? "labels" }
        public var classNamesDataset: String? {
            guard let classNames else { return "class_names" }
            return classNames.isEmpty ? nil : classNames
        }
    }

    /// Balancing policies (nil = the engine's default, as for `tailforge balance`).
    public struct Policy: Codable, Sendable, Equatable {
        public var target: String?
        public var kappa: String?
        public var sampler: String?
        public var seed: UInt64?
        public var kappaMin: Double?
        public var kappaMax: Double?
        public var smoteNeighbours: Int?
        public var subsample: Bool?
        public init(target: String? = nil, kappa: String? = nil, sampler: String? = nil, seed: UInt64? = nil,
                    kappaMin: Double? = nil, kappaMax: Double? = nil, smoteNeighbours: Int? = nil, subsample: Bool? = nil) {
            self.target = target; self.kappa = kappa; self.sampler = sampler; self.seed = seed
            self.kappaMin = kappaMin; self.kappaMax = kappaMax; self.smoteNeighbours = smoteNeighbours; self.subsample = subsample
        }
    }

    /// How classes are cut into shards and how failures are handled.
    public struct Sharding: Codable, Sendable, Equatable {
        /// Number of shards (default: 4 per registered worker at submission, at least 1).
        public var shards: Int?
        /// Attempts per shard stage before the job fails.
        public var maxAttempts: Int?
        /// A shard stage running longer than this is reassigned (seconds).
        public var shardTimeoutSeconds: Double?
        public init(shards: Int? = nil, maxAttempts: Int? = nil, shardTimeoutSeconds: Double? = nil) {
            self.shards = shards; self.maxAttempts = maxAttempts; self.shardTimeoutSeconds = shardTimeoutSeconds
        }
    }

    /// How data moves: through a shared filesystem or streamed over the cluster's sockets.
    public struct Transfer: Codable, Sendable, Equatable {
        /// Stream the input to workers instead of letting them read `input.path`.
        public var streamInput: Bool?
        /// Directory all nodes can write, for shard files; nil = workers keep shards and the coordinator fetches them.
        public var sharedShardDirectory: String?
        public init(streamInput: Bool? = nil, sharedShardDirectory: String? = nil) {
            self.streamInput = streamInput; self.sharedShardDirectory = sharedShardDirectory
        }
    }

    public init(name: String? = nil, input: Input, output: String, policy: Policy = Policy(),
                sharding: Sharding = Sharding(), transfer: Transfer = Transfer()) {
        self.name = name; self.input = input; self.output = output; self.policy = policy
        self.sharding = sharding; self.transfer = transfer
    }

    private enum CodingKeys: String, CodingKey { case name, input, output, policy, sharding, transfer }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        input = try container.decode(Input.self, forKey: .input)
        output = try container.decode(String.self, forKey: .output)
        policy = try container.decodeIfPresent(Policy.self, forKey: .policy) ?? Policy()
        sharding = try container.decodeIfPresent(Sharding.self, forKey: .sharding) ?? Sharding()
        transfer = try container.decodeIfPresent(Transfer.self, forKey: .transfer) ?? Transfer()
    }
}
