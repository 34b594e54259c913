import TailForgeTraining

// The hand-over of a job's training to the worker its manifest names (`train.trainer`); cluster/PROTOCOL.md,
// "A trainer on a named worker". The trainer's own conversation (`trainingOpen`, `gradientRequest`, …) then goes
// over the same worker connection, and the coordinator accepts it from that worker for that job's sessions only.

/// Coordinator → the worker named in `train.trainer`: drive the job's L-BFGS (``JobTrainer``) and write the model
/// to the manifest's `output`. The one payload frame holds stage two's κ (float32), shard after shard,
/// `kappaCounts[i]` values for shard `i`.
public struct TrainJob: WireBody, Equatable {
    public static let messageType = MessageType.trainJob
    public var job: String
    public var manifest: JobManifest
    public var prepared: PreparedJob
    /// The balanced set's identity (`balanced_sha256`), which the model records.
    public var identity: String
    public var partCount: Int
    /// Where the fits' checkpoints go: beside the output, on the filesystem the coordinator reads too, so it can
    /// continue the fit if this worker dies.
    public var checkpointDirectory: String
    public var kappaCounts: [Int]
    /// This hand-over's id: the trainer names its sessions `JOB-train-RUN` and `JOB-calibrate-RUN` and echoes it in
    /// ``JobTrained``; the coordinator accepts the sessions and the report of the current run only (a job handed back
    /// after its worker was lost is a new run, and the old one's messages are refused).
    public var run: String

    public init(job: String, manifest: JobManifest, prepared: PreparedJob, identity: String, partCount: Int, checkpointDirectory: String,
                kappaCounts: [Int], run: String) {
        self.job = job; self.manifest = manifest; self.prepared = prepared; self.identity = identity; self.partCount = partCount
        self.checkpointDirectory = checkpointDirectory; self.kappaCounts = kappaCounts; self.run = run
    }
}

/// Named trainer → coordinator: the job's training ended. On success the model is at the manifest's `output`
/// and `modelSHA256` is what the trainer says it hashed; the coordinator hashes the file itself and checks it
/// against what it relayed before committing. On failure `error` says why.
public struct JobTrained: WireBody, Equatable {
    public static let messageType = MessageType.jobTrained
    public var job: String
    /// The ``TrainJob/run`` this reports on.
    public var run: String
    public var modelSHA256: String?
    public var error: String?
    public var report: LBFGSReport?
    /// The calibration fits' reports, one per λ fitted (`l2: auto`), or the one calibration fit.
    public var calibrationReports: [LBFGSReport]
    /// The parts' global row ranges, `[first, end]` each.
    public var parts: [[Int]]
    public var openSeconds: Double
    public var resumedFromIteration: Int?
    public var calibrationResumedFromIteration: Int?
    public var checkpointSeconds: Double

    public init(job: String, run: String, modelSHA256: String? = nil, error: String? = nil, report: LBFGSReport? = nil, calibrationReports: [LBFGSReport] = [],
                parts: [[Int]] = [], openSeconds: Double = 0, resumedFromIteration: Int? = nil, calibrationResumedFromIteration: Int? = nil,
                checkpointSeconds: Double = 0) {
        self.job = job; self.run = run; self.modelSHA256 = modelSHA256; self.error = error; self.report = report; self.calibrationReports = calibrationReports
        self.parts = parts; self.openSeconds = openSeconds; self.resumedFromIteration = resumedFromIteration
        self.calibrationResumedFromIteration = calibrationResumedFromIteration; self.checkpointSeconds = checkpointSeconds
    }

    /// What the trainer reports of a successful run.
    init(job: String, run: String, outcome: JobTrainer.Outcome) {
        self.init(job: job, run: run, modelSHA256: outcome.modelSHA256, report: outcome.report, calibrationReports: outcome.calibrationReports,
                  parts: outcome.parts.map { [$0.lowerBound, $0.upperBound] }, openSeconds: outcome.openSeconds,
                  resumedFromIteration: outcome.resumedFromIteration, calibrationResumedFromIteration: outcome.calibrationResumedFromIteration,
                  checkpointSeconds: outcome.checkpointSeconds)
    }
}
