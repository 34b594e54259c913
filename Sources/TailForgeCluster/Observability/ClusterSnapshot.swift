import Foundation

/// What the coordinator's status page, `/api/status` and its gauges show: a copy of the coordinator's state made
/// by its network thread (which owns that state) and handed to the HTTP server's threads whole, under a mutex
/// (``SnapshotBox``), so a page never sees a job half-updated and never touches the loop's data.
public struct ClusterSnapshot: Codable, Sendable, Equatable {
    /// Seconds since 1970 when the network thread made it.
    public var time: Double
    public var version: String
    /// The coordinator's ZeroMQ endpoint.
    public var endpoint: String
    /// The live jobs and the most recent finished ones, oldest first.
    public var jobs: [Job]
    /// Every job the coordinator knows, by state (including those not in `jobs`).
    public var jobCounts: [String: Int]
    public var workers: [Worker]
    /// Open training sessions, then the few most recently closed ones.
    public var training: [Training]
    /// The OpenBLAS kernel family of the coordinator's process, which trains jobs without `train.trainer`.
    public var blasCore: String? = nil
    /// Jobs whose training machines mix OpenBLAS kernel families (``TrainingKernels/isMixed``), by state, counted over
    /// every job the coordinator knows (as `jobCounts`), not only those in `jobs`.
    public var mixedKernelJobs: [String: Int] = [:]

    public struct Job: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var state: String
        /// `concentrations` or `synthesis` once planned.
        public var stage: String?
        public var isTerminal: Bool
        public var shardsDone: Int
        public var shardCount: Int
        /// Shards of the current stage by state (`pending`, `running`, `fetching`, `storing`, `checking`, `done`).
        public var shardStates: [String: Int]
        /// Shards done over both stages, 0…1 (1 once committed); a job that trains spends the second half training.
        public var progress: Double
        public var rowsWritten: Int
        public var totalRows: Int
        public var classCount: Int
        public var elapsedSeconds: Double
        /// Finished stages with their seconds, then the running one with its seconds so far.
        public var stages: [Stage]
        public var output: String
        public var error: String?
        /// Rows per class before and after balancing (nil before planning, or for more than
        /// ``ClusterSnapshot/maximumChartClasses`` classes).
        public var classCounts: ClassCounts?
        /// From its training stage on: the kernel families of its trainer(s) and of the workers whose replies its fit used.
        public var kernels: TrainingKernels? = nil
        /// ``TrainingKernels/warning``: set when those machines mix kernel families (the text `status` and `wait` print).
        public var kernelWarning: String? = nil
    }

    public struct Stage: Codable, Sendable, Equatable {
        public var name: String
        public var seconds: Double
        public var running: Bool
    }

    public struct ClassCounts: Codable, Sendable, Equatable {
        /// Real rows of class i in the input.
        public var before: [Int]
        /// Rows of class i in the balanced output.
        public var after: [Int]
    }

    public struct Worker: Codable, Sendable, Equatable {
        public var name: String
        public var host: String
        public var threads: Int
        /// `job/shard/stage` it computes, nil when idle.
        public var busyWith: String?
        public var heartbeatAgeSeconds: Double
        public var quarantined: String?
        public var consecutiveFailures: Int
        /// The OpenBLAS kernel family it runs (`hello.blasCore`), ``TrainingKernels/unknown`` when it does not say.
        public var blasCore: String? = nil
        /// The distributed-training parts it serves (``WorkerTrainingParts``, joined), nil when none: such a worker
        /// computes no shard yet is not idle.
        public var training: String? = nil
    }

    public struct Training: Codable, Sendable, Equatable {
        public var session: String
        public var open: Bool
        public var shards: Int
        public var loadedShards: Int
        /// Gradient requests relayed so far.
        public var evaluations: Int
        /// One point per L-BFGS iteration the trainer reported (the last ``ClusterSnapshot/maximumLossPoints``).
        public var losses: [LossPoint]
        /// The job's fit the last iteration reported is of (``TrainingFit``'s description: `final fit`, `calibration fit 2 of 5,
        /// λ = 1e-05`, …); nil outside jobs and from trainers that do not say.
        public var fit: String? = nil
    }

    public struct LossPoint: Codable, Sendable, Equatable {
        public var iteration: Int
        public var loss: Double
        public var gradientNorm: Double
    }

    /// Jobs with more classes show no chart (a bar per class would not be readable, and the snapshot stays small).
    public static let maximumChartClasses = 2_000
    public static let maximumLossPoints = 1_000
    /// Finished jobs listed besides the live ones.
    public static let recentFinishedJobs = 20

    public static func empty(version: String, endpoint: String) -> ClusterSnapshot {
        ClusterSnapshot(time: Date().timeIntervalSince1970, version: version, endpoint: endpoint, jobs: [], jobCounts: [:], workers: [], training: [])
    }
}
