import Foundation

/// A job and everything the coordinator knows about it; owned by the coordinator's network thread.
struct JobRecord {
    var id: String
    var manifest: JobManifest
    /// Who submitted it (`key FINGERPRINT`, or `address IP` without keys), for per-client limits; journaled with
    /// the submission, so nil only for a job journaled by a release before the limits.
    var owner: String?
    /// False while the job waits in its client's queue (``ClientJobLimits``): it is journaled but not planned.
    var admitted = false
    var state: JobState = .queued
    var prepared: PreparedJob?
    var stage: ShardStage = .concentrations
    /// The shards of the current stage (nil until planned).
    var board: ShardBoard?
    var stageOneKappas: [Int: [Float]] = [:]
    /// Stage two's κ per shard (stage one's with the job-wide fallback substituted), nil until computed.
    var synthesisKappas: [[Float]]?
    var fallback: Float?
    var error: String?
    var started = Date()
    /// When the job reached its terminal state (the retention period runs from here).
    var finished: Date?
    var stageSeconds: [String: Double] = [:]
    var stageStarted = Date()
    var outputSHA256: String?
    /// The output's per-dataset content digests (nil for a job committed before a coordinator restart).
    var outputContentSHA256: [String: String]?
    /// The job's directory in the coordinator's state directory (κ files, fetched shards).
    var directory: String
    /// Workers caught returning a result no honest worker returns, by name and by principal (a worker key's
    /// fingerprint): they get no more shards of this job, even after registering again under another name.
    var excluded: Set<String> = []
    /// Spot verification (`verify: spot`), nil when the job does not ask for it.
    var spot: SpotCheck?
    /// Workers caught lying by spot verification or the plan checks, with their principal, for the resolved manifest.
    var liars: [String] = []
    /// Since when each shard held for spot verification has had no worker left to recompute it.
    var spotAlone: [Int: ContinuousClock.Instant] = [:]

    /// True when `worker` may not take shards of this job. Without keys every loopback worker shares one
    /// address, so only the name counts then.
    func excludes(_ worker: WorkerRegistry.Worker) -> Bool {
        excluded.contains(worker.name) || (worker.principal.hasPrefix("key ") && excluded.contains(worker.principal))
    }

    /// A training job's gathered balanced set: its identity, and the file digests when it was published.
    var balanced: GatherReport?
    /// A training job's optimiser progress, then what its training did (for the resolved manifest).
    var training: TrainingProgress?
    var trainingRecord: ResolvedManifest.Training?
    /// The job's trainer from its training stage on: run by the coordinator, or handed to the worker `train.trainer`
    /// names (and run by the coordinator from its checkpoint if that worker is lost).
    var trainer: JobTrainer?
    /// ``TrainingSessions/workerBytes`` when the job's training started.
    var trainingBytesAtStart: Int64?
    /// From its training stage on: the kernel families of the job's trainer(s) and of the workers whose replies its fit used.
    var kernels: TrainingKernels?

    /// Where the gather writes: the balanced output, or (a training job that publishes no balanced file) a file
    /// in the job's directory that lives until the job ends.
    var balancedPath: String {
        manifest.balancedOutput ?? (directory as NSString).appendingPathComponent("balanced.h5")
    }

    /// A new board for `stage` over the prepared shards; spot verification picks that stage's shards to check.
    mutating func makeBoard(_ stage: ShardStage, maxAttempts: Int) -> ShardBoard? {
        guard let prepared else { return nil }
        spot?.select(stage, count: prepared.shards.count)
        spotAlone = [:]
        return ShardBoard(job: id, stage: stage, classes: prepared.shards.map { $0.map(\.classId) }, maxAttempts: maxAttempts)
    }
}
