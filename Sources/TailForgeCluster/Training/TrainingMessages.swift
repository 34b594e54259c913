import Foundation
// Bodies of the distributed-training conversation (issue 4); `GradientRequest` and `GradientReply` are in
// Protocol/Messages.swift. The conversation is described in cluster/PROTOCOL.md, "Distributed training".

/// One shard of a training session: a balanced HDF5 file and, optionally, the worker that holds it.
public struct TrainingShardSpec: Codable, Sendable, Equatable {
    /// Where the file is: a path on a filesystem every worker reads (shared), or a path on `holder`.
    public var path: String
    /// Name of the worker that produced the shard and keeps it (`tailforge worker --name`); the shard is
    /// served there while that worker lives, and reloaded from `path` by another worker if it dies (which
    /// then needs `path` to be readable elsewhere).
    public var holder: String?

    /// For a part of a balancing job's set (a job with a `train:` section): what the worker regenerates the
    /// rows from instead of reading `path`, which is then only the part's name.
    public var recipe: TrainingRecipe?

    public init(path: String, holder: String? = nil, recipe: TrainingRecipe? = nil) {
        self.path = path
        self.holder = holder
        self.recipe = recipe
    }

    /// This shard with a relative path made absolute against the current directory: the coordinator and the workers
    /// cannot know the trainer's working directory (and the coordinator refuses paths it cannot confine), so the
    /// trainer sends absolute paths, as `tailforge submit` does for a job's. A recipe's path is only a part's name.
    public var withAbsolutePath: TrainingShardSpec {
        guard recipe == nil else { return self }
        var copy = self
        copy.path = URL(fileURLWithPath: path).standardizedFileURL.path
        return copy
    }

    /// Parses `PATH` or `PATH@WORKER` (the command-line form).
    public init(argument: String) {
        if let at = argument.lastIndex(of: "@"), at != argument.startIndex, argument.index(after: at) != argument.endIndex,
           !argument[argument.index(after: at)...].contains("/") {
            self.init(path: String(argument[..<at]), holder: String(argument[argument.index(after: at)...]))
        } else {
            self.init(path: argument)
        }
    }
}

/// Trainer → coordinator: open a training session over `shards` (in training order). The coordinator places
/// the shards on live workers and sends each a `TrainingLoad`; the trainer then receives one
/// `TrainingShardLoaded` per shard, or a `TrainingFailure`.
public struct TrainingOpen: WireBody, Equatable {
    public static let messageType = MessageType.trainingOpen
    public var session: String
    public var shards: [TrainingShardSpec]
    public init(session: String, shards: [TrainingShardSpec]) { self.session = session; self.shards = shards }
}

/// Coordinator → worker: load these shards (index in the session, path) and keep them in memory. A shard with
/// a recipe (`recipes[i]` non-nil) is regenerated instead of read; the one payload frame then holds the float32
/// κ of every recipe's classes, recipe after recipe, `kappaCount` values each.
public struct TrainingLoad: WireBody, Equatable {
    public static let messageType = MessageType.trainingLoad
    public var session: String
    public var shards: [Int]
    public var paths: [String]
    public var recipes: [TrainingRecipe?]?
    public init(session: String, shards: [Int], paths: [String], recipes: [TrainingRecipe?]? = nil) {
        self.session = session; self.shards = shards; self.paths = paths; self.recipes = recipes
    }
}

/// Global rows `firstRow ..< endRow` of a job's balanced set, as a worker regenerates them: the job's input
/// (by path, or the worker's verified streamed copy) and balancing settings, and the κ of `classes`' real rows
/// (sent beside it as float32). The parts of a training job are cut at multiples of the block size, so each
/// worker's blocks — hence its exact partial sums — are the single-node trainer's.
public struct TrainingRecipe: Codable, Sendable, Equatable {
    public var job: String
    /// The job's manifest: its input (path, dataset names, whether it is streamed) and policy.
    public var manifest: JobManifest
    public var inputSHA256: String
    public var firstRow: Int
    public var endRow: Int
    /// The classes with rows in the part, ascending (checked against the plan on the worker's input).
    public var classes: [Int]
    /// κ values sent with the recipe: every class's real rows, class by class (a drift-guarded set needs them all).
    public var kappaCount: Int
    /// The balanced set's identity (`balanced_sha256`), reported as the part's digest.
    public var identity: String
    /// Set for the calibration session of a job with `calibrate: true`: the worker serves the calibration fit's
    /// rows of the part (those whose source row is not held out) and tallies its held-out real rows.
    public var calibration: Calibration?

    /// The hold-out a calibration part is cut by (`train.calibration_holdout`, `train.calibration_seed`).
    public struct Calibration: Codable, Sendable, Equatable {
        public var holdOutFraction: Double
        public var seed: UInt64
        public init(holdOutFraction: Double, seed: UInt64) { self.holdOutFraction = holdOutFraction; self.seed = seed }
    }

    public init(job: String, manifest: JobManifest, inputSHA256: String, firstRow: Int, endRow: Int, classes: [Int],
                kappaCount: Int, identity: String, calibration: Calibration? = nil) {
        self.job = job; self.manifest = manifest; self.inputSHA256 = inputSHA256; self.firstRow = firstRow; self.endRow = endRow
        self.classes = classes; self.kappaCount = kappaCount; self.identity = identity; self.calibration = calibration
    }

    /// The part's name, used where a file shard has its path (logs, the session's shard list, the workers' cache).
    public var name: String {
        partName + (calibration.map { "#calibration-\($0.holdOutFraction)-\($0.seed)" } ?? "")
    }
    /// The name of the part's rows, with or without a calibration view of them (a worker regenerates them once).
    public var partName: String { "\(job)#rows-\(firstRow)-\(endRow)" }
}

/// What a held-out score request (a `GradientRequest` with `heldOutScore`) asks of a calibration part: tally its
/// held-out rows under the request's weights for every τ of `tauGrid`, with the set's class prior.
public struct HeldOutScoring: Codable, Sendable, Equatable {
    public var tauGrid: [Double]
    public var prior: [Double]
    public init(tauGrid: [Double], prior: [Double]) { self.tauGrid = tauGrid; self.prior = prior }
}

/// Worker → coordinator → trainer: one calibration part's held-out tally (``HeldOutTally``, exact integer
/// counts, in the payload frame) for the score request `iteration` of the session.
public struct HeldOutTallyReply: WireBody, Equatable {
    public static let messageType = MessageType.heldOutTally
    public var session: String
    public var iteration: Int
    public var shard: Int
    /// Held-out rows tallied.
    public var rows: Int
    public init(session: String, iteration: Int, shard: Int, rows: Int) {
        self.session = session; self.iteration = iteration; self.shard = shard; self.rows = rows
    }
}

/// Worker → coordinator → trainer: a shard is in memory; what the trainer needs to plan the global row order,
/// the class count and the class weights.
public struct TrainingShardLoaded: WireBody, Equatable {
    public static let messageType = MessageType.trainingShardLoaded
    public var session: String
    public var shard: Int
    public var rows: Int
    public var dimension: Int
    /// Rows per label, index = label, up to the largest label present.
    public var labelCounts: [Int]
    public var classNames: [String]?
    /// SHA-256 (hex) of the shard file, recorded in the model file.
    public var sha256: String
    /// The worker that loaded it (for logs).
    public var worker: String
    public init(session: String, shard: Int, rows: Int, dimension: Int, labelCounts: [Int], classNames: [String]?,
                sha256: String, worker: String) {
        self.session = session; self.shard = shard; self.rows = rows; self.dimension = dimension
        self.labelCounts = labelCounts; self.classNames = classNames; self.sha256 = sha256; self.worker = worker
    }
}

/// Worker → coordinator → trainer, or coordinator → trainer: loading or evaluating a shard failed; the
/// trainer stops with `message` (a bad file fails the same way on every worker, so it is not retried).
public struct TrainingFailure: WireBody, Equatable {
    public static let messageType = MessageType.trainingFailure
    /// `code` of a coordinator that does not know the session (it restarted): the trainer reopens it.
    public static let unknownSession = "unknown-session"

    public var session: String
    public var shard: Int?
    public var message: String
    public var code: String?
    public init(session: String, shard: Int?, message: String, code: String? = nil) {
        self.session = session; self.shard = shard; self.message = message; self.code = code
    }
}

/// Trainer → coordinator, while waiting for replies: is the session still known? Unanswered when it is; a
/// restarted coordinator answers `trainingFailure` with code `unknown-session`, and the trainer reopens the
/// session and sends its request again.
public struct TrainingPing: WireBody, Equatable {
    public static let messageType = MessageType.trainingPing
    public var session: String
    public init(session: String) { self.session = session }
}

/// Trainer → coordinator → workers: the session is over; workers drop its shards from memory.
public struct TrainingClose: WireBody, Equatable {
    public static let messageType = MessageType.trainingClose
    public var session: String
    /// Paths to drop (the coordinator fills them in for each worker).
    public var paths: [String]
    public init(session: String, paths: [String] = []) { self.session = session; self.paths = paths }
}

/// Trainer → coordinator, after each L-BFGS iteration: where the optimiser is, for the coordinator's metrics and
/// status page (the coordinator relays gradients without looking inside them, so it cannot know the loss
/// otherwise). Never answered; a lost one only leaves a gap in the loss curve.
public struct TrainerProgress: WireBody, Equatable {
    public static let messageType = MessageType.trainerProgress
    public var session: String
    public var iteration: Int
    public var loss: Double
    public var gradientNorm: Double
    /// Objective evaluations so far.
    public var evaluations: Int
    /// Seconds since the run started (including time before a resume).
    public var seconds: Double
    /// Which of the job's fits the session's iteration is of: a calibration session runs one fit per λ candidate of an
    /// `l2: auto` path, which its name does not tell apart (nil from a trainer before it was added, and outside jobs).
    public var fit: TrainingFit?
    public init(session: String, iteration: Int, loss: Double, gradientNorm: Double, evaluations: Int, seconds: Double, fit: TrainingFit? = nil) {
        self.session = session; self.iteration = iteration; self.loss = loss; self.gradientNorm = gradientNorm
        self.evaluations = evaluations; self.seconds = seconds; self.fit = fit
    }
}
