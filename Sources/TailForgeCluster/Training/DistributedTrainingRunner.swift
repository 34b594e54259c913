import Foundation
import Logging
import TailForgeStorage
import TailForgeTraining

/// `tailforge train --distributed`: the trainer node. Opens a training session on the cluster
/// (``RemoteGradientSource``), runs the same L-BFGS driver as the local trainer (``SoftmaxTrainer``),
/// checkpoints the optimiser every K iterations, and writes the same model file the local trainer would.
public struct DistributedTrainingRunner: Sendable {
    public var coordinator: String
    public var shards: [TrainingShardSpec]
    public var output: String
    public var settings: TrainingSettings
    /// Must equal the local trainer's to get the same bits (1024 there too).
    public var blockRows: Int
    /// Where to save the optimiser state; when the file exists at start, training resumes from it.
    public var checkpointPath: String?
    public var checkpointEvery: Int
    /// An explicit checkpoint to resume from (`--resume`).
    public var resumePath: String?
    /// Give up when the cluster makes no progress for this long.
    public var timeoutSeconds: Double
    public var logger: Logger
    /// CURVE client keys for the connection to the coordinator, or `.plaintext`.
    public var security: SocketSecurity = .plaintext

    public init(coordinator: String, shards: [TrainingShardSpec], output: String, settings: TrainingSettings,
                blockRows: Int = 1024, checkpointPath: String? = nil, checkpointEvery: Int = 10, resumePath: String? = nil,
                timeoutSeconds: Double = 600, logger: Logger) {
        self.coordinator = coordinator; self.shards = shards; self.output = output; self.settings = settings
        self.blockRows = blockRows; self.checkpointPath = checkpointPath; self.checkpointEvery = checkpointEvery
        self.resumePath = resumePath; self.timeoutSeconds = timeoutSeconds; self.logger = logger
    }

    /// What a run did.
    public struct Summary: Sendable {
        public var report: LBFGSReport
        public var classCount: Int
        public var dimension: Int
        public var rows: Int
        /// The iteration the run resumed from, nil for a fresh start.
        public var resumedFromIteration: Int?
        /// Opening the session (placing and loading the shards on the workers).
        public var openSeconds: Double
        public var trainSeconds: Double
        public var evaluationTimings: [RemoteGradientSource.EvaluationTiming]
    }

    /// Runs the job; `onIteration` receives every iteration after its checkpoint (if due) is on disk.
    public func run(onIteration: @escaping (LBFGSIteration) async throws -> Void = { _ in }) async throws -> Summary {
        try settings.optimizer.validate()
        guard checkpointEvery >= 1 else {
            throw TrainingError.invalidSetting(name: "checkpoint interval", value: "\(checkpointEvery)", expected: "at least 1 iteration")
        }
        let shards = self.shards.map(\.withAbsolutePath)
        // The model must not replace a training file or the optimiser state it could resume from.
        try AtomicHDF5Writer.checkWritable(path: output, distinctFrom: shards.map(\.path) + [checkpointPath, resumePath].compactMap { $0 })
        let clock = ContinuousClock()
        let openStart = clock.now
        let source = try await RemoteGradientSource.open(coordinator: coordinator, shards: shards, classWeighting: settings.classWeighting,
                                                         blockRows: blockRows, timeoutSeconds: timeoutSeconds, security: security,
                                                         logger: logger)
        defer { source.close() }
        let openSeconds = (clock.now - openStart).seconds
        let fingerprint = TrainingCheckpoint.Fingerprint(
            shardSHA256: source.shardSHA256, rows: source.rowCount, classCount: source.classCount, dimension: source.dimension,
            l2: settings.l2, classWeighting: settings.classWeighting.name, blockRows: blockRows,
            historySize: settings.optimizer.historySize)
        // What a trainer killed while writing a checkpoint left (the checkpoint itself is the previous one).
        if let checkpointPath { Housekeeping.removeDeadTemporaries(of: checkpointPath) }
        var resume: TrainingCheckpoint?
        if let path = resumePath ?? checkpointPath.flatMap({ FileManager.default.fileExists(atPath: $0) ? $0 : nil }) {
            let checkpoint = try TrainingCheckpoint.read(path: path)
            if let difference = checkpoint.fingerprint.difference(from: fingerprint) {
                throw DistributedTrainingError.checkpoint(path: path, reason: "it belongs to another run: \(difference); delete it or use another --checkpoint path")
            }
            logger.info("resuming from \(path) at iteration \(checkpoint.state.iteration)")
            resume = checkpoint
        }
        let checkpointPath = self.checkpointPath, every = checkpointEvery, logger = self.logger
        let result = try await SoftmaxTrainer.train(source: source, settings: settings, checkpoint: resume?.state) { iteration, state in
            if let checkpointPath, iteration.iteration % every == 0 {
                try TrainingCheckpoint(fingerprint: fingerprint, state: state).write(to: checkpointPath)
                logger.debug("checkpoint at iteration \(iteration.iteration) written to \(checkpointPath)")
            }
            source.reportProgress(iteration)
            try await onIteration(iteration)
        }
        let metadata = SoftmaxModelFile.Metadata(
            settings: settings, report: result.report, trainingRows: source.rowCount, blockRows: blockRows,
            inputFiles: shards.map { ($0.path as NSString).lastPathComponent }, inputSHA256: source.shardSHA256,
            classNames: source.classNames)
        try SoftmaxModelFile.write(result.model, metadata: metadata, to: output)
        return Summary(report: result.report, classCount: source.classCount, dimension: source.dimension, rows: source.rowCount,
                       resumedFromIteration: resume?.state.iteration, openSeconds: openSeconds,
                       trainSeconds: result.report.seconds, evaluationTimings: source.evaluationTimings)
    }
}
