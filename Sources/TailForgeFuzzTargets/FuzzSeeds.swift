import Foundation
import TailForgeCluster
import TailForgeEngine
import TailForgeStorage
import TailForgeTraining

/// Small valid inputs for every fuzz target: one message of every type, manifests in YAML and JSON, a sealed
/// resolved manifest, gradient payloads. `tailforge-fuzz seeds DIR` writes them as the checked-in corpus
/// (`Fuzz/corpus/TARGET/`), and the test suite checks the checked-in files still decode, so the corpus cannot
/// silently go stale when the protocol changes.
public enum FuzzSeeds {
    static let shard = ShardReference(job: "job-1", shard: 3, stage: .synthesis, attempt: 2)

    static let manifest = JobManifest(
        name: "demo", input: .init(path: "/data/train.h5", sha256: String(repeating: "ab", count: 32), classes: 10),
        output: "/data/out.h5", overwrite: true,
        policy: BalanceSettings(target: .medianMultiple(2), kappa: .fixed(50), sampler: .smote, seed: 7, smoteNeighbours: 3),
        sharding: .init(shards: 4, maxAttempts: 3, shardTimeoutSeconds: 600),
        transfer: .init(streamInput: true, sharedShardDirectory: "/shared/shards"))

    static let status = JobStatus(job: "job-1", name: "demo", state: .running, stage: .concentrations, shardsDone: 1, shardCount: 4,
                                  classesDone: 3, classCount: 10, rowsWritten: 0, totalRows: 100, workers: 2,
                                  elapsedSeconds: 1.5, output: "/data/out.h5", error: nil)

    static let trainingStatus = JobStatus(job: "job-1", name: "demo", state: .training, stage: .synthesis, shardsDone: 4, shardCount: 4,
                                          classesDone: 10, classCount: 10, rowsWritten: 100, totalRows: 100, workers: 0,
                                          elapsedSeconds: 3, output: "/data/model.h5", error: nil,
                                          training: TrainingProgress(iteration: 2, maxIterations: 30, loss: 1.5, parts: 2),
                                          kernels: TrainingKernels(trainers: ["SkylakeX": ["coordinator"]], workers: ["Haswell": ["w"], "SkylakeX": ["v"]]))

    /// One valid message of every `MessageType` (several for types whose bodies have variants).
    public static var messages: [WireMessage] {
        let kappa = WireMessage.float32Payload([1.5, 2, 40, 1e6])
        let gradient = LossAndGradient(classCount: 2, dimension: 2, rows: 5, status: .exact, fixedPointLoss: 1 << 40,
                                       fixedPointGradient: [1, -2, 3, -4, 5, -6]).serialized()
        return [
            WireMessage(Hello(workerName: "w", toolVersion: ToolVersion.current, host: "h", processId: 42, threads: 2, busyWith: shard)),
            WireMessage(Welcome(workerId: "w", toolVersion: ToolVersion.current, heartbeatIntervalMilliseconds: 500, livenessMilliseconds: 3000)),
            WireMessage(Refuse(reason: "tool version 0.1.0 differs from 0.2.0")),
            WireMessage(Heartbeat(busyWith: shard)),
            WireMessage(AssignShard(shard: shard, job: manifest, input: InputLocation(path: "/data/train.h5", sha256: "00", byteCount: 10, streamed: true),
                                    classes: [ClassTask(classId: 4, realCount: 2, keptCount: 2, syntheticCount: 2)], sharedShardDirectory: nil),
                        payloads: [kappa]),
            WireMessage(ShardProgress(shard: shard, classesDone: 1, rowsDone: 9)),
            WireMessage(ShardResult(shard: shard, rowsPerClass: [7, 3], sha256: "ff", byteCount: 99, path: "/s.h5", seconds: 0.25), payloads: [kappa]),
            WireMessage(ShardFailure(shard: shard, reason: .busy(with: shard))),
            WireMessage(ShardFailure(shard: shard, reason: .timedOut(seconds: 12))),
            WireMessage(DataRequest(requestId: 7, resource: .input(job: "job-1"), offset: 0, length: 4096)),
            WireMessage(DataRequest(requestId: 8, resource: .shardFile(job: "job-1", shard: 2, path: "/work/s.h5"), offset: 64, length: 16)),
            WireMessage(DataChunk(requestId: 7, resource: .input(job: "job-1"), offset: 0, totalBytes: 5), payloads: [[1, 2, 3, 4, 5]]),
            WireMessage(CancelShard(job: "job-1", purge: true)),
            WireMessage(ErrorReply(code: "malformed-header", message: "missing key")),
            WireMessage(Goodbye(returning: [shard])),
            WireMessage(DiscardShardFile(shard: shard, path: "/work/s.h5")),
            WireMessage(SubmitJob(manifest: manifest)),
            WireMessage(JobAccepted(job: "job-1")),
            WireMessage(StatusRequest(job: nil)),
            WireMessage(StatusReply(jobs: [status], workers: [WorkerStatus(workerId: "w", name: "w", host: "h", busyWith: shard,
                                                                           secondsSinceHeartbeat: 0.5, quarantined: "3 failures", consecutiveFailures: 3)])),
            WireMessage(CancelJob(job: "job-1")),
            WireMessage(CancelReply(job: "job-1", cancelled: true, message: "cancelled")),
            WireMessage(WatchJob(job: "job-1")),
            WireMessage(JobProgress(status: status)),
            WireMessage(GradientRequest(session: "s", iteration: 3, shards: [0, 1], classCount: 2, dimension: 2, paths: ["/a.h5", "/b.h5"],
                                        firstGlobalRows: [0, 5], blockRows: 4096),
                        payloads: [WireMessage.float32Payload([0.5, -0.5, 0, 1, 0.25, 0])]),
            WireMessage(GradientReply(session: "s", iteration: 3, shard: 0, lossSum: 3.5, rows: 5, seconds: 0.01), payloads: [gradient]),
            WireMessage(TrainingOpen(session: "s", shards: [TrainingShardSpec(path: "/a.h5", holder: "w"), TrainingShardSpec(path: "/b.h5")])),
            WireMessage(TrainingLoad(session: "s", shards: [0], paths: ["/a.h5"])),
            WireMessage(TrainingShardLoaded(session: "s", shard: 0, rows: 5, dimension: 2, labelCounts: [3, 2], classNames: ["a", "b"],
                                            sha256: "ee", worker: "w")),
            WireMessage(TrainingFailure(session: "s", shard: nil, message: "no training session", code: TrainingFailure.unknownSession)),
            WireMessage(TrainingClose(session: "s", paths: ["/a.h5"])),
            WireMessage(TrainingPing(session: "s")),
            WireMessage(TrainerProgress(session: "s", iteration: 2, loss: 1.5, gradientNorm: 0.25, evaluations: 3, seconds: 0.5)),
            WireMessage(HeldOutTallyReply(session: "s", iteration: 4, shard: 0, rows: 3), payloads: [HeldOutTally(classCount: 2, gridCount: 1).serialized()]),
            WireMessage(TrainJob(job: "job-1", manifest: manifest, prepared: PreparedJob(inputSHA256: "ab", inputBytes: 10, classCount: 2, dimension: 2,
                                                                                          totalRows: 8, shards: [], shardCosts: []),
                                 identity: "cd", partCount: 2, checkpointDirectory: "/out/model.h5.checkpoints", kappaCounts: [2], run: "r1"),
                        payloads: [WireMessage.float32Payload([1.5, 2])]),
            WireMessage(JobTrained(job: "job-1", run: "r1", modelSHA256: "ef", parts: [[0, 4], [4, 8]], openSeconds: 0.5, checkpointSeconds: 0.25)),
            // Fields added later, as new seeds at the end so the checked-in files keep their numbers (and the older
            // bodies above stay in the corpus): a worker naming its OpenBLAS kernel, a training job's kernel families.
            WireMessage(Hello(workerName: "w", toolVersion: ToolVersion.current, host: "h", processId: 42, threads: 2, blasCore: "Haswell")),
            WireMessage(StatusReply(jobs: [trainingStatus], workers: [WorkerStatus(workerId: "w", name: "w", host: "h", busyWith: nil,
                                                                                   secondsSinceHeartbeat: 0.5, blasCore: "Haswell")],
                                    toolVersion: ToolVersion.current, blasCore: "SkylakeX")),
        ]
    }

    /// Manifest files as users write them.
    public static let manifests: [String] = [
        "input: {path: in.h5}\noutput: out.h5\n",
        """
        # yaml-language-server: $schema=manifest.schema.json
        name: demo
        input: {path: ../data/train.h5, embeddings: embeddings, labels: labels, class_names: class_names, classes: 10}
        output: ../data/out.h5
        overwrite: false
        policy: {target: median*2, kappa: local, sampler: vmf, seed: 1, kappa_min: 1, kappa_max: 1000000, smote_k: 5, subsample: false}
        sharding: {shards: 8, max_attempts: 3, shard_timeout_seconds: 600}
        transfer: {stream_input: true, shared_shard_directory: /shared/shards}

        """,
        """
        {"$schema": "manifest.schema.json", "input": {"path": "/d/in.h5", "sha256": "\(String(repeating: "0", count: 64))"},
         "output": "/d/out.h5", "policy": {"target": "1000", "kappa": "fixed:50", "sampler": "gaussian"}}

        """,
    ]

    /// A sealed resolved manifest, as a coordinator writes it (signed when a key is given).
    public static func resolvedManifest() -> ResolvedManifest {
        ResolvedManifest(
            job: "job-1", toolVersion: ToolVersion.current, manifest: manifest,
            inputSHA256: String(repeating: "1", count: 64), outputSHA256: String(repeating: "2", count: 64),
            outputContentSHA256: nil, fallbackKappa: 12.5,
            shards: [ResolvedManifest.Shard(index: 0, classes: [0, 2], rows: 40, estimatedCost: 1.5, sha256: String(repeating: "3", count: 64),
                                            seconds: 0.5, bytes: 4096),
                     ResolvedManifest.Shard(index: 1, classes: [1], rows: 20, estimatedCost: 0.5, sha256: String(repeating: "4", count: 64),
                                            seconds: 0.25, bytes: nil)],
            stageSeconds: ["concentrations": 0.5, "synthesis": 1], totalSeconds: 2, submitted: Date(timeIntervalSince1970: 1_780_000_000),
            manifestSHA256: nil)
    }

    /// The seed inputs of one target, each in that target's input form, with a file name saying what it is.
    public static func namedInputs(for target: FuzzTarget) throws -> [(name: String, bytes: [UInt8])] {
        func numbered(_ index: Int, _ type: MessageType) -> String { (index < 10 ? "0" : "") + "\(index)-\(type)" }
        switch target {
        case .frame:
            return messages.enumerated().map { (numbered($0.offset, $0.element.type), FuzzFrames.join($0.element.encode())) }
        case .body:
            return messages.enumerated().map { index, message in
                (numbered(index, message.type), FuzzFrames.bodyInput(type: message.type, header: message.encode()[2]))
            }
        case .manifest:
            return zip(["minimal.yaml", "full.yaml", "schema.json"], manifests).map { ($0, Array($1.utf8)) }
        case .resolvedManifest:
            return [("sealed.manifest.json", Array(try resolvedManifest().sealedJSON())),
                    ("signed.manifest.json", Array(try resolvedManifest().sealedJSON(signingKey: FuzzTarget.signingKey)))]
        case .gradientPayload:
            return [
                ("exact-2x2", LossAndGradient(classCount: 2, dimension: 2, rows: 5, status: .exact, fixedPointLoss: 1 << 40,
                                              fixedPointGradient: [1, -2, 3, -4, 5, -6]).serialized()),
                ("non-finite-1x1", LossAndGradient(classCount: 1, dimension: 1, rows: 0, status: .nonFinite, fixedPointLoss: 0,
                                                   fixedPointGradient: [0, 0]).serialized()),
            ]
        }
    }

    /// The seed inputs of one target.
    public static func inputs(for target: FuzzTarget) throws -> [[UInt8]] { try namedInputs(for: target).map(\.bytes) }

    /// Writes every target's seeds to `directory/TARGET/NAME`.
    public static func write(to directory: String) throws {
        for target in FuzzTarget.allCases {
            let folder = (directory as NSString).appendingPathComponent(target.rawValue)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (name, input) in try namedInputs(for: target) {
                try Data(input).write(to: URL(fileURLWithPath: folder + "/" + name))
            }
        }
    }
}
