import TailForgeEngine
import TailForgeStorage

/// A balancing job as submitted: input, policies, output, sharding and fault-tolerance settings.
///
/// Read from YAML or JSON (`jobs/*.yaml`, schema `jobs/manifest.schema.json`) by `ManifestLoader`; every key is
/// snake_case, every field but `input.path` and `output` has a default, and the policies use the same string
/// forms as `tailforge balance` (`max`, `1000`, `median*2`; `local`, `class`, `fixed:50`; `vmf`, `gaussian`,
/// `smote`, `none`). `validate(source:)` checks every value's range; the coordinator runs it at submit and
/// again on every job it resumes from its journal.
public struct JobManifest: Codable, Sendable, Equatable {
    /// A human-readable name shown by `status`.
    public var name: String?
    public var input: Input
    /// Path of the balanced output file (as the coordinator sees it).
    public var output: String
    /// Replace an existing output (and its resolved manifest); without it the coordinator refuses the job.
    public var overwrite: Bool?
    /// The balancing settings, in the same string forms as `tailforge balance` (keys `target`, `kappa`,
    /// `sampler`, `seed`, `kappa_min`, `kappa_max`, `smote_k`, `subsample`; absent keys take the engine's defaults).
    public var policy: BalanceSettings
    public var sharding: Sharding
    public var transfer: Transfer
    /// The output's layout (``BalancedLayout``): `full` (default) or `compact` (real rows, their κ and the
    /// recipe; workers write compact shards and no synthetic row crosses the network).
    public var layout: BalancedLayout?
    /// Balance *and* train (see ``Train``): `output` is then the model file.
    public var train: Train?
    /// `spot`: recompute a sample of the shards on other workers and compare (``VerifyMode``); nil is `none`.
    public var verify: VerifyMode?
    /// How a full balanced output is published (``PublishMode``): nil is `copy`.
    public var publish: PublishMode?
    /// Why a stored manifest's `policy` could not be read (a journal or resolved manifest written by a release
    /// that accepted a value this one refuses); the policy then holds defaults and `validate` refuses the job.
    /// Never encoded: such a manifest fails its job instead of vanishing from the journal or running with defaults.
    public var unreadablePolicy: String?

    /// The input file and the names of its datasets.
    public struct Input: Codable, Sendable, Equatable {
        public var path: String
        /// Expected SHA-256; the coordinator refuses the job if the file differs.
        public var sha256: String?
        /// Dataset names as the manifest spells them (`embeddings`, `labels`, `class_names`); nil means the
        /// default name, and for class names the empty string means "the file has none".
        public var embeddingsDataset: String?
        public var labelsDataset: String?
        public var classNamesDataset: String?
        /// The number of classes when the file has no class names (default: largest label + 1).
        public var classes: Int?
        public init(path: String, sha256: String? = nil, embeddingsDataset: String? = nil, labelsDataset: String? = nil,
                    classNamesDataset: String? = nil, classes: Int? = nil) {
            self.path = path; self.sha256 = sha256; self.embeddingsDataset = embeddingsDataset; self.labelsDataset = labelsDataset
            self.classNamesDataset = classNamesDataset; self.classes = classes
        }

        /// The engine's description of this input, read from `path` (or from a local copy of it), with the
        /// default dataset names filled in.
        public func spec(path: String? = nil) -> InputSpec {
            let classNames = classNamesDataset ?? DatasetNames.standard.classNames
            return InputSpec(path: path ?? self.path, embeddingsDataset: embeddingsDataset ?? DatasetNames.standard.embeddings,
                             labelsDataset: labelsDataset ?? DatasetNames.standard.labels,
                             classNamesDataset: classNames?.isEmpty == true ? nil : classNames, classCount: classes)
        }

        /// The manifest form of an engine input description.
        public init(_ spec: InputSpec, sha256: String? = nil) {
            self.init(path: spec.path, sha256: sha256, embeddingsDataset: spec.embeddingsDataset, labelsDataset: spec.labelsDataset,
                      classNamesDataset: spec.classNamesDataset ?? "", classes: spec.classCount)
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            // The keys are the manifest's (a user contract); the Swift names say they are dataset names.
            case path, sha256, embeddingsDataset = "embeddings", labelsDataset = "labels", classNamesDataset = "class_names", classes
        }

        public init(from decoder: any Decoder) throws {
            let c = try LegacyKeyedContainer<CodingKeys>(decoder, legacy: [.classNamesDataset: "classNames"])
            path = try c.decode(String.self, .path)
            sha256 = try c.decodeIfPresent(String.self, .sha256)
            embeddingsDataset = try c.decodeIfPresent(String.self, .embeddingsDataset)
            labelsDataset = try c.decodeIfPresent(String.self, .labelsDataset)
            classNamesDataset = try c.decodeIfPresent(String.self, .classNamesDataset)
            classes = try c.decodeIfPresent(Int.self, .classes)
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

        enum CodingKeys: String, CodingKey, CaseIterable {
            case shards, maxAttempts = "max_attempts", shardTimeoutSeconds = "shard_timeout_seconds"
        }

        public init(from decoder: any Decoder) throws {
            let c = try LegacyKeyedContainer<CodingKeys>(decoder, legacy: [.maxAttempts: "maxAttempts", .shardTimeoutSeconds: "shardTimeoutSeconds"])
            shards = try c.decodeIfPresent(Int.self, .shards)
            maxAttempts = try c.decodeIfPresent(Int.self, .maxAttempts)
            shardTimeoutSeconds = try c.decodeIfPresent(Double.self, .shardTimeoutSeconds)
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

        enum CodingKeys: String, CodingKey, CaseIterable {
            case streamInput = "stream_input", sharedShardDirectory = "shared_shard_directory"
        }

        public init(from decoder: any Decoder) throws {
            let c = try LegacyKeyedContainer<CodingKeys>(decoder, legacy: [.streamInput: "streamInput", .sharedShardDirectory: "sharedShardDirectory"])
            streamInput = try c.decodeIfPresent(Bool.self, .streamInput)
            sharedShardDirectory = try c.decodeIfPresent(String.self, .sharedShardDirectory)
        }
    }

    public init(name: String? = nil, input: Input, output: String, overwrite: Bool? = nil, policy: BalanceSettings = BalanceSettings(),
                sharding: Sharding = Sharding(), transfer: Transfer = Transfer(), layout: BalancedLayout? = nil, train: Train? = nil,
                verify: VerifyMode? = nil, publish: PublishMode? = nil) {
        self.name = name; self.input = input; self.output = output; self.overwrite = overwrite; self.policy = policy
        self.sharding = sharding; self.transfer = transfer; self.layout = layout; self.train = train; self.verify = verify
        self.publish = publish
    }

    /// The layout the job writes its balanced set in: what the manifest says, else full for a balancing job and
    /// compact for a job that trains (its workers regenerate the rows; nobody reads a full file). A training job
    /// that publishes no balanced file keeps only the compact recipe, whatever `layout` says.
    public var outputLayout: BalancedLayout {
        guard let train else { return layout ?? .full }
        return train.balancedOutput == nil ? .compact : layout ?? .compact
    }

    /// Where the balanced set is published: `output` for a balancing job, `train.balanced_output` (or nowhere)
    /// for a job that trains.
    public var balancedOutput: String? { train == nil ? output : train?.balancedOutput }

    /// How the balanced output is published: what the manifest says, else `copy`.
    public var publishMode: PublishMode { publish ?? .copy }

    private enum CodingKeys: String, CodingKey { case name, input, output, overwrite, policy, sharding, transfer, layout, train, verify, publish }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        input = try container.decode(Input.self, forKey: .input)
        output = try container.decode(String.self, forKey: .output)
        overwrite = try container.decodeIfPresent(Bool.self, forKey: .overwrite)
        do { policy = try container.decodeIfPresent(BalanceSettings.self, forKey: .policy) ?? BalanceSettings() } catch {
            policy = BalanceSettings()
            unreadablePolicy = ManifestError(source: "", decoding: error).reason
        }
        sharding = try container.decodeIfPresent(Sharding.self, forKey: .sharding) ?? Sharding()
        transfer = try container.decodeIfPresent(Transfer.self, forKey: .transfer) ?? Transfer()
        layout = try container.decodeIfPresent(BalancedLayout.self, forKey: .layout)
        train = try container.decodeIfPresent(Train.self, forKey: .train)
        verify = try container.decodeIfPresent(VerifyMode.self, forKey: .verify)
        publish = try container.decodeIfPresent(PublishMode.self, forKey: .publish)
    }
}

/// Reads snake_case keys, falling back to the camelCase spelling journals and resolved manifests used before
/// the keys were unified, so a coordinator resumes and `replay` reads what an earlier release wrote. Manifest
/// files are strict instead: `ManifestLoader` refuses the old spelling and names the new one.
struct LegacyKeyedContainer<Key: CodingKey> {
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
    private let container: KeyedDecodingContainer<AnyKey>
    private let legacy: [String: String]

    init(_ decoder: any Decoder, legacy: [Key: String]) throws where Key: Hashable {
        container = try decoder.container(keyedBy: AnyKey.self)
        self.legacy = Dictionary(uniqueKeysWithValues: legacy.map { ($0.key.stringValue, $0.value) })
    }

    private func key(_ key: Key) -> AnyKey {
        let current = AnyKey(stringValue: key.stringValue)
        if container.contains(current) { return current }
        if let old = legacy[key.stringValue] { return AnyKey(stringValue: old) }
        return current
    }

    func decode<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T { try container.decode(type, forKey: self.key(key)) }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? { try container.decodeIfPresent(type, forKey: self.key(key)) }
}
