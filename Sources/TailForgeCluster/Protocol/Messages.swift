// The bodies of every message type. Field meanings and which side sends what are in cluster/PROTOCOL.md.

import Foundation

// MARK: - Worker ↔ coordinator

/// Worker → coordinator, first message after connecting: who the worker is and what it runs.
public struct Hello: WireBody, Equatable {
    public static let messageType = MessageType.hello
    public var workerName: String
    public var toolVersion: String
    public var host: String
    public var processId: Int32
    public var threads: Int
    /// The shard still computing from before this (re)registration, e.g. after a coordinator restart, so the
    /// coordinator neither assigns the worker another shard nor recomputes this one elsewhere.
    public var busyWith: ShardReference?
    /// The OpenBLAS kernel family the worker's sgemm runs (``BLAS/coreName``), so the coordinator can tell a training
    /// job whose machines mix families; nil from a release before it was sent (shown as `unknown`).
    public var blasCore: String?
    public init(workerName: String, toolVersion: String, host: String, processId: Int32, threads: Int, busyWith: ShardReference? = nil,
                blasCore: String? = nil) {
        self.workerName = workerName; self.toolVersion = toolVersion; self.host = host
        self.processId = processId; self.threads = threads; self.busyWith = busyWith; self.blasCore = blasCore
    }
}

/// Coordinator → worker: registration accepted, with the heartbeat contract both sides keep.
public struct Welcome: WireBody, Equatable {
    public static let messageType = MessageType.welcome
    public var workerId: String
    public var toolVersion: String
    public var heartbeatIntervalMilliseconds: Int
    public var livenessMilliseconds: Int
    public init(workerId: String, toolVersion: String, heartbeatIntervalMilliseconds: Int, livenessMilliseconds: Int) {
        self.workerId = workerId; self.toolVersion = toolVersion
        self.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds; self.livenessMilliseconds = livenessMilliseconds
    }
}

/// Coordinator → worker: registration refused (for example a different tool version); the worker exits.
public struct Refuse: WireBody, Equatable {
    public static let messageType = MessageType.refuse
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// Both ways, every heartbeat interval, from a thread that never computes: proof of life.
public struct Heartbeat: WireBody, Equatable {
    public static let messageType = MessageType.heartbeat
    /// The shard the worker is busy with (worker → coordinator only).
    public var busyWith: ShardReference?
    public init(busyWith: ShardReference? = nil) { self.busyWith = busyWith }
}

/// Identifies one attempt at one stage of one shard of one job.
public struct ShardReference: Codable, Sendable, Hashable, CustomStringConvertible {
    public var job: String
    public var shard: Int
    public var stage: ShardStage
    public var attempt: Int
    public init(job: String, shard: Int, stage: ShardStage, attempt: Int) {
        self.job = job; self.shard = shard; self.stage = stage; self.attempt = attempt
    }
    public var description: String { "\(job)/\(stage.rawValue)-\(shard)#\(attempt)" }
}

/// The two stages of a balancing job: the κ fallback for single-sample classes is the median of all local κ,
/// so every shard's κ must be known before any shard synthesises.
public enum ShardStage: String, Codable, Sendable, Hashable {
    /// Stage 1: κ for each real row of the shard's classes; the result carries a float32 κ payload.
    case concentrations
    /// Stage 2: synthesis with the job-wide fallback κ; the result is an HDF5 shard file.
    case synthesis
}

/// Where a worker finds the job's input file.
public struct InputLocation: Codable, Sendable, Equatable {
    /// Path as the coordinator sees it; used directly when the worker can read it (shared filesystem).
    public var path: String
    /// SHA-256 (hex) of the file; a streamed copy is verified against it.
    public var sha256: String
    public var byteCount: Int64
    /// Fetch the file from the coordinator with `DataRequest` instead of reading `path`.
    public var streamed: Bool
    public init(path: String, sha256: String, byteCount: Int64, streamed: Bool) {
        self.path = path; self.sha256 = sha256; self.byteCount = byteCount; self.streamed = streamed
    }
}

/// One class of a shard: its real rows, the real rows it keeps (fewer only when subsampling) and how many
/// synthetic rows to draw.
public struct ClassTask: Codable, Sendable, Equatable {
    public var classId: Int
    public var realCount: Int
    public var keptCount: Int
    public var syntheticCount: Int
    public init(classId: Int, realCount: Int, keptCount: Int, syntheticCount: Int) {
        self.classId = classId; self.realCount = realCount; self.keptCount = keptCount; self.syntheticCount = syntheticCount
    }
    /// Rows this class contributes to the output.
    public var outputCount: Int { keptCount + syntheticCount }
}

/// Coordinator → worker: compute one stage of one shard.
///
/// For the synthesis stage the message carries one float32 payload frame: the κ of every real row of the
/// shard's classes, class by class in `classes` order, fallback already substituted.
public struct AssignShard: WireBody, Equatable {
    public static let messageType = MessageType.assignShard
    public var shard: ShardReference
    public var job: JobManifest
    public var input: InputLocation
    public var classes: [ClassTask]
    /// Write the shard file into this directory (shared filesystem) instead of the worker's work dir,
    /// or nil to keep it local and let the coordinator fetch it with `DataRequest`.
    public var sharedShardDirectory: String?
    public init(shard: ShardReference, job: JobManifest, input: InputLocation, classes: [ClassTask], sharedShardDirectory: String?) {
        self.shard = shard; self.job = job; self.input = input; self.classes = classes
        self.sharedShardDirectory = sharedShardDirectory
    }
}

/// Worker → coordinator: progress inside a shard, for status and ETA.
public struct ShardProgress: WireBody, Equatable {
    public static let messageType = MessageType.shardProgress
    public var shard: ShardReference
    public var classesDone: Int
    public var rowsDone: Int
    public init(shard: ShardReference, classesDone: Int, rowsDone: Int) {
        self.shard = shard; self.classesDone = classesDone; self.rowsDone = rowsDone
    }
}

/// Worker → coordinator: a stage finished.
///
/// Concentrations: one float32 payload frame with the κ of each real row (class by class); `sha256` is the
/// SHA-256 of that payload. Synthesis: the shard file's path, size and SHA-256, and its rows per class.
public struct ShardResult: WireBody, Equatable {
    public static let messageType = MessageType.shardResult
    public var shard: ShardReference
    public var rowsPerClass: [Int]
    public var sha256: String
    public var byteCount: Int64
    /// Path of the shard file on the worker (or in the shared shard directory).
    public var path: String?
    public var seconds: Double
    /// Stage 2 of a compact job: the content digests of the shard's datasets (``BalancedContentDigest``, keys
    /// `real_embeddings`, `real_labels`, `real_source_index`, `real_kappa`) and, for the shard holding the plan's
    /// probe class, that class's synthetic digest. The coordinator derives both from the input and the κ and
    /// compares, instead of fetching the file (absent from other results).
    public var contentSHA256: [String: String]?
    public var syntheticProbeSHA256: String?
    public init(shard: ShardReference, rowsPerClass: [Int], sha256: String, byteCount: Int64, path: String?, seconds: Double,
                contentSHA256: [String: String]? = nil, syntheticProbeSHA256: String? = nil) {
        self.shard = shard; self.rowsPerClass = rowsPerClass; self.sha256 = sha256
        self.byteCount = byteCount; self.path = path; self.seconds = seconds
        self.contentSHA256 = contentSHA256; self.syntheticProbeSHA256 = syntheticProbeSHA256
    }
}

/// Worker → coordinator: a stage failed; `reason` decides whether it counts as an attempt and against the
/// worker's health (absent: an execution failure with `message`).
public struct ShardFailure: WireBody, Equatable {
    public static let messageType = MessageType.shardFailure
    public var shard: ShardReference
    public var message: String
    public var reason: ShardFailureReason?
    public init(shard: ShardReference, reason: ShardFailureReason) {
        self.shard = shard; self.message = reason.description; self.reason = reason
    }
    /// The reason, or an execution failure for a message without one.
    public var effectiveReason: ShardFailureReason { reason ?? .executionFailed(message) }
}

/// What a `DataRequest` asks for.
public enum DataResource: Codable, Sendable, Hashable {
    /// The job's input file (served by the coordinator).
    case input(job: String)
    /// A finished shard file (served by the worker that wrote it).
    case shardFile(job: String, shard: Int, path: String)
}

/// Either side: send `length` bytes of `resource` from `offset`; answered with one `DataChunk`.
public struct DataRequest: WireBody, Equatable {
    public static let messageType = MessageType.dataRequest
    public var requestId: Int
    public var resource: DataResource
    public var offset: Int64
    public var length: Int
    public init(requestId: Int, resource: DataResource, offset: Int64, length: Int) {
        self.requestId = requestId; self.resource = resource; self.offset = offset; self.length = length
    }
}

/// Answer to `DataRequest`: one binary payload frame (CRC-32C checked like every payload) or an error text.
public struct DataChunk: WireBody, Equatable {
    public static let messageType = MessageType.dataChunk
    public var requestId: Int
    public var resource: DataResource
    public var offset: Int64
    public var totalBytes: Int64
    public var error: String?
    public init(requestId: Int, resource: DataResource, offset: Int64, totalBytes: Int64, error: String? = nil) {
        self.requestId = requestId; self.resource = resource; self.offset = offset; self.totalBytes = totalBytes; self.error = error
    }
}

/// Coordinator → worker: stop working on a job (its attempt timed out, or the job ended). With `purge` the job
/// is over: the worker also deletes every file it holds for it.
public struct CancelShard: WireBody, Equatable {
    public static let messageType = MessageType.cancelShard
    public var job: String
    public var purge: Bool?
    public init(job: String, purge: Bool = false) { self.job = job; self.purge = purge ? true : nil }
}

/// Coordinator → worker: delete a shard file the coordinator will never fetch (a stale or superseded attempt).
public struct DiscardShardFile: WireBody, Equatable {
    public static let messageType = MessageType.discardShardFile
    public var shard: ShardReference
    public var path: String
    public init(shard: ShardReference, path: String) { self.shard = shard; self.path = path }
}

/// Either side, in reply to a message that could not be accepted.
public struct ErrorReply: WireBody, Equatable {
    public static let messageType = MessageType.error
    /// `ProtocolError.code` or an application code such as `unknown-job`.
    public var code: String
    public var message: String
    public init(code: String, message: String) { self.code = code; self.message = message }
}

/// Worker → coordinator: the worker is shutting down; `returning` shards go back to the queue at once.
public struct Goodbye: WireBody, Equatable {
    public static let messageType = MessageType.goodbye
    public var returning: [ShardReference]
    public init(returning: [ShardReference]) { self.returning = returning }
}

// MARK: - Client ↔ coordinator

/// Client → coordinator: run a job.
public struct SubmitJob: WireBody, Equatable {
    public static let messageType = MessageType.submitJob
    public var manifest: JobManifest
    public init(manifest: JobManifest) { self.manifest = manifest }
}

/// Coordinator → client: the job's id.
public struct JobAccepted: WireBody, Equatable {
    public static let messageType = MessageType.jobAccepted
    public var job: String
    public init(job: String) { self.job = job }
}

/// Client → coordinator: status of one job, or of everything when `job` is nil.
public struct StatusRequest: WireBody, Equatable {
    public static let messageType = MessageType.statusRequest
    public var job: String?
    public init(job: String?) { self.job = job }
}

/// Coordinator → client.
public struct StatusReply: WireBody, Equatable {
    public static let messageType = MessageType.statusReply
    public var jobs: [JobStatus]
    public var workers: [WorkerStatus]
    /// The coordinator's TailForge version (its workers run the same: it refuses any other); nil from releases
    /// before it was reported.
    public var toolVersion: String?
    /// The OpenBLAS kernel family of the coordinator's process, which trains a job without `train.trainer`; nil from
    /// earlier coordinators.
    public var blasCore: String?
    public init(jobs: [JobStatus], workers: [WorkerStatus], toolVersion: String? = nil, blasCore: String? = nil) {
        self.jobs = jobs; self.workers = workers; self.toolVersion = toolVersion; self.blasCore = blasCore
    }
}

/// Client → coordinator: stop a job.
public struct CancelJob: WireBody, Equatable {
    public static let messageType = MessageType.cancelJob
    public var job: String
    public init(job: String) { self.job = job }
}

/// Coordinator → client.
public struct CancelReply: WireBody, Equatable {
    public static let messageType = MessageType.cancelReply
    public var job: String
    public var cancelled: Bool
    public var message: String
    public init(job: String, cancelled: Bool, message: String) { self.job = job; self.cancelled = cancelled; self.message = message }
}

/// Client → coordinator: send `JobProgress` for this job until it ends.
public struct WatchJob: WireBody, Equatable {
    public static let messageType = MessageType.watchJob
    public var job: String
    public init(job: String) { self.job = job }
}

/// Coordinator → client: a job's state (sent on every change and once a second while watched).
public struct JobProgress: WireBody, Equatable {
    public static let messageType = MessageType.jobProgress
    public var status: JobStatus
    public init(status: JobStatus) { self.status = status }
}

/// A job as reported by `status` and `watch`.
public struct JobStatus: Codable, Sendable, Equatable {
    public var job: String
    public var name: String
    public var state: JobState
    public var stage: ShardStage?
    public var shardsDone: Int
    public var shardCount: Int
    public var classesDone: Int
    public var classCount: Int
    public var rowsWritten: Int
    public var totalRows: Int
    /// Workers taking part in it: computing (or draining) an attempt of one of its shards, serving a result's file to
    /// the coordinator or awaiting its check, or serving parts of its fit (rows in memory, gradients on request).
    /// Earlier coordinators counted only the workers computing a shard or serving its fit at that instant.
    public var workers: Int
    /// Seconds since submission while the job is live; its total duration once committed, failed or cancelled.
    public var elapsedSeconds: Double
    public var output: String
    public var error: String?
    /// A job with a `train:` section, while and after it trains: the optimiser's progress.
    public var training: TrainingProgress?
    /// A `verify: spot` job: its spot checks so far (absent for other jobs, and from earlier coordinators).
    public var verification: SpotSummary?
    /// A job with a `train:` section, once it trains: the OpenBLAS kernel families of its trainer and of the workers
    /// whose replies its fit used (absent for other jobs, and from earlier coordinators).
    public var kernels: TrainingKernels?
    /// ``TrainingKernels/warning``: set when those machines mix kernel families, so the model's bytes depend on which
    /// machine computed which part.
    public var kernelWarning: String?
    public init(job: String, name: String, state: JobState, stage: ShardStage?, shardsDone: Int, shardCount: Int,
                classesDone: Int, classCount: Int, rowsWritten: Int, totalRows: Int, workers: Int,
                elapsedSeconds: Double, output: String, error: String?, training: TrainingProgress? = nil,
                verification: SpotSummary? = nil, kernels: TrainingKernels? = nil) {
        self.job = job; self.name = name; self.state = state; self.stage = stage; self.shardsDone = shardsDone
        self.shardCount = shardCount; self.classesDone = classesDone; self.classCount = classCount
        self.rowsWritten = rowsWritten; self.totalRows = totalRows; self.workers = workers
        self.elapsedSeconds = elapsedSeconds; self.output = output; self.error = error; self.training = training
        self.verification = verification; self.kernels = kernels; self.kernelWarning = kernels?.warning
    }
}

/// Spot verification of a job so far, for `status` and `wait` (the resolved manifest lists every check): a job
/// can commit with checks that found no second worker, and an operator who asked for verification is told.
public struct SpotSummary: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Checks where a second worker's result matched (two workers agreed, also when a third was caught lying).
    public var confirmed: Int
    /// Checked shards accepted on one worker's word: no other worker was available.
    public var unverified: Int
    /// Workers excluded from the job, `NAME (PRINCIPAL)`.
    public var excluded: [String]
    public init(confirmed: Int, unverified: Int, excluded: [String]) {
        self.confirmed = confirmed; self.unverified = unverified; self.excluded = excluded
    }

    /// True when the operator should look: a check went unverified, or a worker lied.
    public var needsAttention: Bool { unverified > 0 || !excluded.isEmpty }

    public var description: String {
        var text = "spot verification: \(confirmed) check(s) confirmed by a second worker"
        if unverified > 0 { text += ", \(unverified) shard(s) accepted unverified (no other worker was available)" }
        if !excluded.isEmpty { text += "; excluded for returning wrong results: " + excluded.joined(separator: ", ") }
        return text
    }
}

/// Which of a training job's fits an L-BFGS iteration belongs to. With `calibrate: true` a job runs two fits (at a
/// given λ the final fit first, then the calibration fit from its weights; with `l2: auto` one calibration fit per λ
/// candidate, then the final fit), each counting its iterations from 0 with its own loss: without the label a status
/// line would show the counter restart and the loss jump with nothing saying why.
public struct TrainingFit: Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        /// The fit on all rows whose weights the model holds.
        case final
        /// A fit on the rows calibration does not hold out.
        case calibration
    }
    public var kind: Kind
    /// True for a calibration fit that starts from the final fit's weights (``CalibrationFitPlan``).
    public var fromFinalFit: Bool?
    /// On an `l2: auto` path: the fit's place (1-based) among `candidates` λ, and its λ.
    public var candidate: Int?
    public var candidates: Int?
    public var l2: Double?

    public init(_ kind: Kind, fromFinalFit: Bool? = nil, candidate: Int? = nil, candidates: Int? = nil, l2: Double? = nil) {
        self.kind = kind; self.fromFinalFit = fromFinalFit; self.candidate = candidate; self.candidates = candidates; self.l2 = l2
    }

    public static let final = TrainingFit(.final)

    /// `final fit`, `calibration fit (from the final fit's weights)`, `calibration fit 2 of 5, λ = 1e-05`.
    public var description: String {
        switch kind {
        case .final: return "final fit"
        case .calibration:
            if let candidate, let candidates {
                return "calibration fit \(candidate) of \(candidates)" + (l2.map { ", λ = " + String(format: "%g", $0) } ?? "")
            }
            return "calibration fit" + (fromFinalFit == true ? " (from the final fit's weights)" : "")
        }
    }
}

/// What the calibration of a committed job chose and what its fit(s) cost, for `status` and `wait` (the resolved
/// manifest's `training.calibration` holds the full record).
public struct TrainingCalibrationSummary: Codable, Sendable, Equatable, CustomStringConvertible {
    public var tau: Double
    /// The calibration fits' loss-and-gradient evaluations, all λ candidates together.
    public var evaluations: Int
    /// The cap a calibration fit from the final fit's weights ran under: the final fit's evaluations.
    public var evaluationCap: Int?
    /// With `l2: auto`: the λ chosen, and how many calibration fits the path took.
    public var l2: Double?
    public var fits: Int?

    public init(tau: Double, evaluations: Int, evaluationCap: Int? = nil, l2: Double? = nil, fits: Int? = nil) {
        self.tau = tau; self.evaluations = evaluations; self.evaluationCap = evaluationCap; self.l2 = l2; self.fits = fits
    }

    /// `calibration: τ = 0.75, 38 evaluations (cap 44: the final fit's)`, or with `l2: auto`
    /// `calibration: λ = 1e-05, τ = 0.75, 5 fits, 120 evaluations`.
    public var description: String {
        let lambda = l2.map { "λ = " + String(format: "%g", $0) + ", " } ?? ""
        let fitCount = fits.map { "\($0) fit(s), " } ?? ""
        return "calibration: \(lambda)τ = " + String(format: "%g", tau) + ", \(fitCount)\(evaluations) evaluations"
            + (evaluationCap.map { " (cap \($0): the final fit's)" } ?? "")
    }
}

/// Where a training job's L-BFGS is: its last iteration, of at most `maxIterations`, and the loss there — of the fit
/// `fit` names. Once the job commits: the final fit's figures (the model's), whatever fit ran last.
public struct TrainingProgress: Codable, Sendable, Equatable {
    public var iteration: Int
    public var maxIterations: Int
    public var loss: Double?
    /// Which fit `iteration` and `loss` are of (nil from coordinators before it was added, and before the first fit).
    public var fit: TrainingFit?
    /// Once a calibrated job commits: what its calibration chose and cost.
    public var calibration: TrainingCalibrationSummary?
    /// The parts of the balanced set the workers serve.
    public var parts: Int
    /// The worker `train.trainer` names while it drives L-BFGS or is awaited; nil when the coordinator trains
    /// (including after it took over from a lost trainer).
    public var trainer: String?
    /// True while that worker has not registered: the job waits (up to `--trainer-wait-seconds`) rather than trains.
    public var awaitingTrainer: Bool?
    /// Each time that worker was lost while it drove the fit, oldest first (nil when it never was).
    public var trainerLosses: [TrainerLoss]?

    public init(iteration: Int, maxIterations: Int, loss: Double?, parts: Int, trainer: String? = nil, awaitingTrainer: Bool? = nil,
                trainerLosses: [TrainerLoss]? = nil, fit: TrainingFit? = nil, calibration: TrainingCalibrationSummary? = nil) {
        self.iteration = iteration; self.maxIterations = maxIterations; self.loss = loss; self.parts = parts
        self.trainer = trainer; self.awaitingTrainer = awaitingTrainer; self.trainerLosses = trainerLosses
        self.fit = fit; self.calibration = calibration
    }

    /// What happened to the named trainer, `; `-separated; nil when nothing did.
    public var trainerHistory: String? {
        trainerLosses.flatMap { $0.isEmpty ? nil : $0.map(\.description).joined(separator: "; ") }
    }

    /// What `status` and `wait` say about the fit: who trains, or whom the job waits for.
    public var summary: String {
        if awaitingTrainer == true, let trainer {
            return "waiting for worker \(trainer) (train.trainer) to register"
        }
        let loss = loss.map { String(format: "loss %.6f", $0) } ?? "regenerating the rows"
        return (fit.map { "\($0) · " } ?? "") + "L-BFGS iteration \(iteration)/\(maxIterations) · \(loss) · \(parts) part(s)" + (trainer.map { " · trained on \($0)" } ?? "")
            + (trainerHistory.map { " · \($0)" } ?? "")
    }
}

/// Life cycle of a job.
public enum JobState: String, Codable, Sendable, Equatable, CaseIterable {
    /// `training`: a job with a `train:` section has published its balanced set's recipe and drives L-BFGS.
    case queued, running, gathering, training, committed, failed, cancelled
    /// True when the job will not change any more.
    public var isTerminal: Bool { self == .committed || self == .failed || self == .cancelled }
}

/// A registered worker as reported by `status`.
public struct WorkerStatus: Codable, Sendable, Equatable {
    public var workerId: String
    public var name: String
    public var host: String
    public var busyWith: ShardReference?
    public var secondsSinceHeartbeat: Double
    /// Why the worker gets no shards until it registers again (K shard failures in a row), nil when healthy.
    public var quarantined: String?
    /// Shards that failed on this worker in a row.
    public var consecutiveFailures: Int?
    /// The OpenBLAS kernel family the worker runs, `unknown` for a worker that does not say (nil from earlier coordinators).
    public var blasCore: String?
    /// The distributed-training parts it serves (rows held in memory, gradients on request), per open session;
    /// nil or empty when it serves none (and from earlier coordinators).
    public var training: [WorkerTrainingParts]?
    public init(workerId: String, name: String, host: String, busyWith: ShardReference?, secondsSinceHeartbeat: Double,
                quarantined: String? = nil, consecutiveFailures: Int? = nil, blasCore: String? = nil,
                training: [WorkerTrainingParts]? = nil) {
        self.workerId = workerId; self.name = name; self.host = host; self.busyWith = busyWith
        self.secondsSinceHeartbeat = secondsSinceHeartbeat; self.quarantined = quarantined
        self.consecutiveFailures = consecutiveFailures; self.blasCore = blasCore; self.training = training
    }

    /// What the worker is doing, as `status` prints it: quarantined, busy with a shard, serving training parts,
    /// or idle. Between a training job's shards a worker computes nothing but may still hold that job's rows and
    /// answer every L-BFGS evaluation for them; "idle" would then send an operator to the wrong machine.
    public var activity: String {
        if let reason = quarantined { return "quarantined (gets no shards until it registers again): \(reason)" }
        var parts: [String] = []
        if let busyWith { parts.append("busy with \(busyWith)") }
        if let serving = training.flatMap(WorkerTrainingParts.summary) { parts.append("serving " + serving) }
        var state = parts.isEmpty ? "idle" : parts.joined(separator: "; ")
        if let failures = consecutiveFailures, failures > 0 { state += ", \(failures) shard failure(s) in a row" }
        return state
    }
}

/// Training parts one worker serves for one session (``WorkerStatus/training``).
public struct WorkerTrainingParts: Codable, Sendable, Equatable, CustomStringConvertible {
    public var session: String
    /// The job whose fit the session is, nil for a `train --coordinator` session outside jobs.
    public var job: String?
    public var parts: Int
    public init(session: String, job: String?, parts: Int) { self.session = session; self.job = job; self.parts = parts }

    /// The parts of every session, one line (`status` and the page), nil when there are none.
    public static func summary(_ parts: [WorkerTrainingParts]) -> String? {
        parts.isEmpty ? nil : parts.map(\.description).joined(separator: ", ")
    }

    /// `3 training parts of job J`, or `… of session S` outside jobs (a job's sessions are named after it; the
    /// session is in `--json` and labels the training metrics).
    public var description: String {
        "\(parts) training part\(parts == 1 ? "" : "s") of " + (job.map { "job \($0)" } ?? "session \(session)")
    }
}

// MARK: - Distributed L-BFGS (issue 4; more bodies in Training/TrainingMessages.swift)

/// Trainer → coordinator → worker: evaluate the loss and gradient of `shards` at the weights in the first
/// payload frame (float32, C×(d+1): weights row-major then bias); an optional second float32 frame holds one
/// weight per class. `session` is the training session; `iteration` numbers the evaluation within it. The
/// coordinator forwards to each worker only the shards it holds (same body, the matching subset of
/// `shards`, `paths` and `firstGlobalRows`).
public struct GradientRequest: WireBody, Equatable {
    public static let messageType = MessageType.gradientRequest
    public var session: String
    public var iteration: Int
    public var shards: [Int]
    public var classCount: Int
    public var dimension: Int
    /// Path of each shard in `shards` (a worker that has not loaded it yet loads it from there).
    public var paths: [String]?
    /// Global index of the first row of each shard in `shards`: blocks are cut at multiples of `blockRows`
    /// of the global row number, exactly as the local trainer cuts them.
    public var firstGlobalRows: [Int]?
    public var blockRows: Int?
    /// Set to ask calibration parts for their held-out tally at these weights (answered by `HeldOutTallyReply`)
    /// instead of their gradient.
    public var heldOutScore: HeldOutScoring?
    public init(session: String, iteration: Int, shards: [Int], classCount: Int, dimension: Int,
                paths: [String]? = nil, firstGlobalRows: [Int]? = nil, blockRows: Int? = nil, heldOutScore: HeldOutScoring? = nil) {
        self.session = session; self.iteration = iteration; self.shards = shards; self.classCount = classCount; self.dimension = dimension
        self.paths = paths; self.firstGlobalRows = firstGlobalRows; self.blockRows = blockRows; self.heldOutScore = heldOutScore
    }

    // The wire key stays `job` (cluster/PROTOCOL.md, tool versions ≤ 0.2.0).
    enum CodingKeys: String, CodingKey {
        case session = "job", iteration, shards, classCount, dimension, paths, firstGlobalRows, blockRows, heldOutScore
    }
}

/// Worker → coordinator → trainer: one shard's partial sums. The payload frame is the exact encoding of
/// `LossAndGradient` (`serialized()`: the loss and C×(d+1) gradient entries as 128-bit fixed-point integers,
/// units of 2⁻³²), so the trainer's reduction is exact and bit-identical to the local trainer's; `lossSum` is
/// the same loss as a float64, for logs.
public struct GradientReply: WireBody, Equatable {
    public static let messageType = MessageType.gradientReply
    /// The training session.
    public var session: String
    public var iteration: Int
    public var shard: Int
    public var lossSum: Double
    public var rows: Int
    /// Seconds the worker spent computing this shard (for the benchmark's communication split).
    public var seconds: Double?
    public init(session: String, iteration: Int, shard: Int, lossSum: Double, rows: Int, seconds: Double? = nil) {
        self.session = session; self.iteration = iteration; self.shard = shard; self.lossSum = lossSum; self.rows = rows
        self.seconds = seconds
    }

    // The wire key stays `job` (cluster/PROTOCOL.md, tool versions ≤ 0.2.0).
    enum CodingKeys: String, CodingKey {
        case session = "job", iteration, shard, lossSum, rows, seconds
    }
}
