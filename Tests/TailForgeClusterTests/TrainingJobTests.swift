import Foundation
import Logging
import TailForgeTestSupport
import Testing
import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage
import TailForgeTraining
@testable import TailForgeCluster

/// Jobs with a `train:` section: the balanced set is cut into block-aligned parts that workers regenerate from
/// the input and κ, the coordinator's trainer drives L-BFGS, and the model is byte-identical to single-node
/// `balance` + `train`.
@Suite struct TrainingJobTests {
    @Test(arguments: [(1, 1), (5000, 1), (5000, 2), (5000, 3), (4096, 4), (1025, 8), (300, 3)])
    func partsAreBlockAlignedContiguousAndCoverEveryRow(rows: Int, count: Int) {
        let parts = TrainingPartition.parts(totalRows: rows, count: count)
        #expect(parts.first?.lowerBound == 0 && parts.last?.upperBound == rows)
        #expect(zip(parts, parts.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(parts.allSatisfy { !$0.isEmpty && $0.lowerBound % TrainingPartition.blockRows == 0 })
        #expect(parts.count == min(count, (rows + 1023) / 1024))
    }

    /// Any row range regenerated from the input and κ is the same bits `train` reads for those rows of the
    /// balanced file, whatever class boundaries it cuts.
    @Test(arguments: [BalanceSettings(seed: 5), BalanceSettings(target: .count(150), seed: 6, subsample: true),
                      BalanceSettings(kappa: .classwise, sampler: .gaussian, seed: 7), BalanceSettings(seed: 8, driftGuard: 0.5)])
    func aRegeneratedRowRangeIsTheRowsTrainReadsFromTheBalancedFile(settings: BalanceSettings) throws {
        try withTemporaryDirectory("trainjob") { directory in
            let input = try SyntheticPreset.small.write(to: directory, seed: 4, dimension: 16).train
            let full = (directory as NSString).appendingPathComponent("full.h5")
            _ = try BalanceRunner(input: InputSpec(path: input), outputPath: full, settings: settings, threads: 2).run()
            let expected = try TrainingInputFile(path: full).load().shard
            let data = try BalanceInput.load(InputSpec(path: input))
            let plan = try BalancePlan(classSizes: data.classSizes, settings: settings)
            var kappas = data.classMembers.indices.map { ConcentrationEstimator.concentrations(classRows: data.rows(ofClass: $0), settings: settings) }
            _ = try ConcentrationEstimator.applyFallback(&kappas, policy: settings.kappa, file: input)
            let byClass = Dictionary(uniqueKeysWithValues: kappas.enumerated().map { ($0.offset, $0.element) })
            let total = plan.totalRows, d = data.dimension
            for range in [0 ..< total, 0 ..< 100, 37 ..< 250, total - 50 ..< total, 1024 ..< min(total, 2048)] where !range.isEmpty {
                let part = try BalancedRowRange.regenerate(range, plan: plan, data: data, kappas: byClass, settings: settings,
                                                           driftGuard: DriftGuard(data: data, kappas: kappas, plan: plan, settings: settings), threads: 3)
                #expect(part.embeddings.storage == Array(expected.embeddings.storage[range.lowerBound * d ..< range.upperBound * d]), "\(range)")
                #expect(part.labels == Array(expected.labels[range]), "\(range)")
            }
        }
    }

    /// A recipe shard's κ travel with every load of it, so the worker that replaces a lost one regenerates the
    /// same rows; a recipe opened from the socket (not a job's own trainer) is refused.
    @Test func recipeShardsCarryTheirKappaOnEveryLoadAndReload() throws {
        let log = Logger(label: "test.recipes")
        let a = Array("a".utf8), b = Array("b".utf8)
        let workers: [[UInt8]: WorkerRecord] = [a: WorkerRecord(id: "a", name: "a", host: "h"), b: WorkerRecord(id: "b", name: "b", host: "h")]
        let trainer: [UInt8] = [0] + Array("tailforge-job-trainer/job-1".utf8)
        #expect(LocalTrainerLink.isLocal(trainer) && !LocalTrainerLink.isLocal(Array("trainer-1".utf8)))
        let manifest = JobManifest(input: .init(path: "/in.h5"), output: "/model.h5", train: .init())
        let recipes = [TrainingRecipe(job: "job-1", manifest: manifest, inputSHA256: String(repeating: "a", count: 64), firstRow: 0, endRow: 1024,
                                      classes: [0, 1], kappaCount: 3, identity: "id"),
                       TrainingRecipe(job: "job-1", manifest: manifest, inputSHA256: String(repeating: "a", count: 64), firstRow: 1024, endRow: 1500,
                                      classes: [1, 2], kappaCount: 2, identity: "id")]
        let kappas: [[Float]] = [[1, 2, 3], [4, 5]]
        var sessions = TrainingSessions()
        let open = WireMessage(TrainingOpen(session: "s", shards: recipes.map { TrainingShardSpec(path: $0.name, recipe: $0) }),
                               payloads: kappas.map(WireMessage.float32Payload))
        let handled = sessions.handle(open, frames: [], from: trainer, workers: workers, log: log)
        let loads = try #require(handled)
        var byWorker: [[UInt8]: WireMessage] = [:]
        for (to, frames) in loads { if case .message(let message) = frames { byWorker[to] = message } }
        #expect(byWorker.count == 2)
        for (_, message) in byWorker {
            let load = try #require(message.body(as: TrainingLoad.self))
            #expect(load.recipes?.count == 1)
            let index = load.shards[0]
            #expect(load.recipes?[0] == recipes[index] && load.paths == [recipes[index].name])
            #expect(message.payloads.count == 1 && WireMessage.float32Values(message.payloads[0]) == kappas[index])
            // The message survives the wire as it is.
            let decoded = try WireMessage.decode(message.encode())
            #expect(decoded.body(as: TrainingLoad.self) == load && decoded.payloads == message.payloads)
        }
        // a loads its part, then dies: the part moves to b with the same recipe and κ (a loaded part is reloaded
        // from its recipe, where a file shard would be read from its path).
        let lostShard = try #require(byWorker[a]?.body(as: TrainingLoad.self)?.shards.first)
        let loaded = WireMessage(TrainingShardLoaded(session: "s", shard: lostShard, rows: 1024, dimension: 4, labelCounts: [1], classNames: nil,
                                                     sha256: "id", worker: "a"))
        _ = sessions.handle(loaded, frames: loaded.encode(), from: a, workers: workers, log: log)
        let moved = sessions.tick(workers: [b: workers[b]!], log: log)
        #expect(moved.count == 1 && moved[0].to == b)
        guard case .message(let reload) = moved[0].frames else { Issue.record("not a message"); return }
        #expect(reload.body(as: TrainingLoad.self)?.recipes?[0] == recipes[lostShard])
        #expect(WireMessage.float32Values(reload.payloads[0]) == kappas[lostShard])
    }

    /// The status of `job` once it has ended (polled; nothing blocks a thread of the test's pool for long); `observe`
    /// sees each status polled before.
    static func finished(_ job: String, endpoint: String, seconds: Double = 120, observe: (JobStatus) -> Void = { _ in }) async throws -> JobStatus? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let status = try ClusterClient(coordinator: endpoint).status(job: job).jobs.first {
                if status.state.isTerminal { return status }
                observe(status)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    static func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// Runs blocking work (a replay waits for its job) on its own thread, so no thread of the test pool is held.
    static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            ComputePool.startThread(named: "test-replay") { continuation.resume(with: Result { try work() }) }
        }
    }

    /// A coordinator with the real backend and `count` real workers, in this process.
    static func cluster(_ directory: String, workers count: Int) async throws -> (coordinator: TestDaemon, workers: [TestDaemon], endpoint: String) {
        var configuration = CoordinatorConfiguration(bind: "tcp://127.0.0.1:*", stateDirectory: directory + "/state", toolVersion: "9.9.9",
                                                     heartbeat: HeartbeatSettings(intervalMilliseconds: 100, livenessMilliseconds: 1_000))
        configuration.dataRoots = try DataRoots([directory])
        let runtime = CoordinatorRuntime(configuration: configuration, backend: EngineJobBackend(), logger: Logger(label: "test.coordinator"))
        let (coordinator, endpoint) = try await TestDaemon.coordinator(runtime)
        var workers: [TestDaemon] = []
        for index in 0 ..< count {
            var worker = WorkerConfiguration(coordinator: endpoint, workDirectory: directory + "/worker\(index)", threads: 1, name: "w\(index)",
                                             toolVersion: "9.9.9")
            worker.dataRoots = [directory]
            try FileManager.default.createDirectory(atPath: worker.workDirectory, withIntermediateDirectories: true)
            let runtime = WorkerRuntime(configuration: worker, executor: EngineShardExecutor(), logger: Logger(label: "test.w\(index)"))
            workers.append(TestDaemon(name: "w\(index)") { stop in try runtime.run(until: stop) })
        }
        let registered = try await LocalCluster.waitForWorkers(count, coordinator: endpoint)
        try #require(registered, "\(count) worker(s) did not register")
        return (coordinator, workers, endpoint)
    }

    @Test func aJobThatTrainsWritesTheModelOfSingleNodeBalanceAndTrainByteForByte() async throws {
        try await withTemporaryDirectory("trainjob") { directory in
            let input = try SyntheticPreset.small.write(to: directory + "/data", seed: 8, dimension: 16).train
            let policy = BalanceSettings(seed: 3)
            let settings = TrainingSettings(l2: 1e-3, optimizer: LBFGSSettings(maxIterations: 25), classWeighting: .balanced)
            // Single node: balance (compact: the same set as full, and what the job publishes) then train.
            try FileManager.default.createDirectory(atPath: directory + "/single", withIntermediateDirectories: true)
            _ = try BalanceRunner(input: InputSpec(path: input), outputPath: directory + "/single/balanced.h5", settings: policy, threads: 2,
                                  layout: .compact).run()
            let single = try await TrainingRunner(inputs: [directory + "/single/balanced.h5"], output: directory + "/single/model.h5",
                                                  settings: settings, threads: 2).run()
            let reference = try #require(Self.bytes(directory + "/single/model.h5"))

            let (coordinator, workers, endpoint) = try await Self.cluster(directory, workers: 2)
            defer { for daemon in workers + [coordinator] { daemon.stop.stop() } }
            try FileManager.default.createDirectory(atPath: directory + "/job", withIntermediateDirectories: true)
            let manifest = JobManifest(input: .init(path: input), output: directory + "/job/model.h5", policy: policy, sharding: .init(shards: 5),
                                       train: .init(settings: settings, balancedOutput: directory + "/job/balanced.h5"))
            let job = try ClusterClient(coordinator: endpoint).submit(manifest)
            let status = try #require(try await Self.finished(job, endpoint: endpoint))
            #expect(status.state == .committed, "\(status.error ?? "")")
            #expect(status.training?.iteration ?? 0 > 0)
            #expect(Self.bytes(directory + "/job/model.h5") == reference, "the job's model differs from single-node balance + train")
            #expect(Self.bytes(directory + "/job/balanced.h5") == Self.bytes(directory + "/single/balanced.h5"), "the published recipe is the compact file")

            let resolved = try ResolvedManifest.read(from: directory + "/job/model.manifest.json")
            let training = try #require(resolved.training)
            #expect(resolved.outputSHA256 == SHA256.hexDigest(of: reference) && resolved.outputContentSHA256 == nil)
            #expect(training.parts.count == 2 && training.parts.first?.first == 0 && training.rows == training.parts.last?.last)
            #expect(training.balancedOutputSHA256 == (try SHA256.hexDigest(ofFileAt: directory + "/single/balanced.h5")))
            #expect(training.iterations > 0 && (training.networkBytes ?? 0) > 0)
            let model = try SoftmaxModelFile.read(path: directory + "/job/model.h5")
            #expect(model.attributes["input_sha256"]?.stringValue == training.balancedSHA256)
            #expect(model.blasCore == BLAS.coreName, "the model names the kernel of the trainer that ran the fit")

            // Replay reproduces the model bytes and verifies them: on this machine (balance + train) and on the cluster.
            let manifestPath = directory + "/job/model.manifest.json"
            let local = try await Self.onThread { try Replay.run(manifestPath: manifestPath, output: directory + "/job/local.h5", mode: .local(threads: 2), toolVersion: "9.9.9") }
            #expect(local.matches && local.expectedSHA256 == local.actualSHA256 && Self.bytes(directory + "/job/local.h5") == reference)
            #expect(Self.bytes(directory + "/job/local.balanced/balanced.h5") == Self.bytes(directory + "/single/balanced.h5"),
                    "the local rerun publishes its balanced set under the recorded name, beside its own output")
            let remote = try await Self.onThread {
                try Replay.run(manifestPath: manifestPath, output: directory + "/job/remote.h5", mode: .coordinator(endpoint, timeoutSeconds: 60), toolVersion: "9.9.9")
            }
            #expect(remote.matches && Self.bytes(directory + "/job/remote.h5") == reference)

            // A model recorded on another OpenBLAS kernel family: the replay differs and says the kernels differ, naming both.
            let other = BLAS.coreName.lowercased() == "haswell" ? "SkylakeX" : "Haswell"
            let metadata = SoftmaxModelFile.Metadata(
                settings: settings, report: single.report, trainingRows: 1, blockRows: 1, inputFiles: [], inputSHA256: [], classNames: nil, blasCore: other)
            try SoftmaxModelFile.write(model.model, metadata: metadata, to: directory + "/job/other-kernel.h5")
            var otherKernel = resolved
            otherKernel.manifest.output = directory + "/job/other-kernel.h5"
            otherKernel.outputSHA256 = try SHA256.hexDigest(ofFileAt: directory + "/job/other-kernel.h5")
            try otherKernel.write(to: directory + "/job/other-kernel.manifest.json")
            let differing = try await Self.onThread {
                try Replay.run(manifestPath: directory + "/job/other-kernel.manifest.json", mode: .local(threads: 2), toolVersion: "9.9.9")
            }
            #expect(!differing.matches && !differing.outputKept)
            // The record names every machine of the job, all on this process's family here (workers on threads).
            #expect(training.kernels == TrainingKernels(trainers: [BLAS.coreName: [TrainingKernels.coordinator]], workers: [BLAS.coreName: ["w0", "w1"]]))
            #expect(differing.kernelMismatch == BLASKernelMismatch(recorded: other, replayed: BLAS.coreName, recordedMachines: training.kernels))
            let message = differing.kernelMismatch?.description ?? ""
            #expect(message.contains("trained on OpenBLAS kernel \(other), this replay on \(BLAS.coreName)") && message.contains("sgemm rounding")
                    && message.contains("OPENBLAS_CORETYPE=\(other)"), "\(message)")
            #expect(Self.bytes(directory + "/job/remote.balanced/balanced.h5") == Self.bytes(directory + "/single/balanced.h5"),
                    "the cluster rerun publishes its balanced set under the recorded name, beside its own output")

            // The same job again: refused before any work, naming what exists.
            #expect(throws: ClusterClientError.self) { _ = try ClusterClient(coordinator: endpoint).submit(manifest) }
            do { _ = try ClusterClient(coordinator: endpoint).submit(manifest) } catch {
                #expect("\(error)".contains("exists; set `overwrite: true`"), "\(error)")
            }

            // Without a published balanced file: the recipe stays in the job's directory and the model is the same.
            var unpublished = manifest
            unpublished.output = directory + "/job/model2.h5"
            unpublished.train?.balancedOutput = nil
            let second = try ClusterClient(coordinator: endpoint).submit(unpublished)
            #expect(try await Self.finished(second, endpoint: endpoint)?.state == .committed)
            #expect(Self.bytes(directory + "/job/model2.h5") == reference)
            #expect(!FileManager.default.fileExists(atPath: directory + "/state/jobs/\(second)"), "the job's copy of the recipe is gone")
            let replayed = try await Self.onThread {
                try Replay.run(manifestPath: directory + "/job/model2.manifest.json", mode: .local(threads: 2), toolVersion: "9.9.9")
            }
            #expect(replayed.matches && replayed.output == directory + "/job/model2.replay.h5")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/job").filter { $0.contains(".balanced-") }.isEmpty,
                    "the local rerun's scratch balanced set is deleted")
        }
    }

    /// A drift-guarded set: each worker rebuilds the job's guard from every class's κ sent with its part.
    @Test func aDriftGuardedJobThatTrainsWritesTheSingleNodeModel() async throws {
        try await withTemporaryDirectory("trainjob") { directory in
            let input = try SyntheticPreset.small.write(to: directory + "/data", seed: 9, dimension: 16).train
            let policy = BalanceSettings(seed: 5, driftGuard: 0.5)
            let settings = TrainingSettings(l2: 1e-3, optimizer: LBFGSSettings(maxIterations: 15))
            try FileManager.default.createDirectory(atPath: directory + "/single", withIntermediateDirectories: true)
            _ = try BalanceRunner(input: InputSpec(path: input), outputPath: directory + "/single/balanced.h5", settings: policy, threads: 2).run()
            _ = try await TrainingRunner(inputs: [directory + "/single/balanced.h5"], output: directory + "/single/model.h5", settings: settings,
                                         threads: 2).run()
            let (coordinator, workers, endpoint) = try await Self.cluster(directory, workers: 2)
            defer { for daemon in workers + [coordinator] { daemon.stop.stop() } }
            let manifest = JobManifest(input: .init(path: input), output: directory + "/model.h5", policy: policy, sharding: .init(shards: 3),
                                       train: .init(settings: settings))
            let job = try ClusterClient(coordinator: endpoint).submit(manifest)
            let status = try #require(try await Self.finished(job, endpoint: endpoint))
            #expect(status.state == .committed, "\(status.error ?? "")")
            #expect(Self.bytes(directory + "/model.h5") == Self.bytes(directory + "/single/model.h5"))
        }
    }

    /// `calibrate: true`: the calibration fit and the held-out tally run on the workers' parts, and the model (τ, π
    /// and the record of how τ was chosen) is single-node `balance` + `train --calibrate`'s, byte for byte; replay
    /// reproduces it on this machine. Subsampled classes (fewer real rows kept than read) and class weights
    /// computed from the calibration fit's rows are the cases where a part's view could drift from the whole.
    @Test(arguments: [(BalanceSettings(seed: 3), ClassWeighting.balanced, 3),
                      (BalanceSettings(target: .count(150), seed: 6, subsample: true), ClassWeighting.none, 2)])
    func aCalibratedJobWritesTheModelOfSingleNodeTrainCalibrateByteForByte(policy: BalanceSettings, weighting: ClassWeighting, workers count: Int) async throws {
        try await withTemporaryDirectory("trainjob") { directory in
            let input = try SyntheticPreset.small.write(to: directory + "/data", seed: 8, dimension: 16).train
            let settings = TrainingSettings(l2: 1e-3, optimizer: LBFGSSettings(maxIterations: 20), classWeighting: weighting)
            let calibration = CalibrationSettings(holdOutFraction: 0.3, seed: 5)
            try FileManager.default.createDirectory(atPath: directory + "/single", withIntermediateDirectories: true)
            _ = try BalanceRunner(input: InputSpec(path: input), outputPath: directory + "/single/balanced.h5", settings: policy, threads: 2,
                                  layout: .compact).run()
            let single = try await TrainingRunner(inputs: [directory + "/single/balanced.h5"], output: directory + "/single/model.h5", settings: settings,
                                                  threads: 2, calibration: calibration).run()
            let reference = try #require(Self.bytes(directory + "/single/model.h5"))
            let record = try #require(single.calibration)

            let (coordinator, workers, endpoint) = try await Self.cluster(directory, workers: count)
            defer { for daemon in workers + [coordinator] { daemon.stop.stop() } }
            try FileManager.default.createDirectory(atPath: directory + "/job", withIntermediateDirectories: true)
            let manifest = JobManifest(input: .init(path: input), output: directory + "/job/model.h5", policy: policy, sharding: .init(shards: 4),
                                       train: .init(settings: settings, calibration: calibration))
            let job = try ClusterClient(coordinator: endpoint).submit(manifest)
            var fits: [TrainingProgress] = []
            let status = try #require(try await Self.finished(job, endpoint: endpoint) { status in
                if status.state == .training, let training = status.training, training.loss != nil { fits.append(training) }
            })
            #expect(status.state == .committed, "\(status.error ?? "")")
            #expect(Self.bytes(directory + "/job/model.h5") == reference, "the calibrated job's model differs from single-node balance + train --calibrate")
            let loaded = try SoftmaxModelFile.read(path: directory + "/job/model.h5")
            #expect(loaded.calibration == record)
            let resolved = try ResolvedManifest.read(from: directory + "/job/model.manifest.json")
            let training = try #require(resolved.training)
            #expect(training.parts.count == count)
            var expected = ResolvedManifest.Training.Calibration(
                tau: record.adjustment.tau, balancedAccuracy: record.balancedAccuracy, heldOutRows: record.heldOutRows, fitRows: record.fitRows,
                iterations: single.calibrationReports.first?.iterations ?? -1, seconds: training.calibration?.seconds ?? -1)
            // The calibration fit follows the final fit, from its weights, under its evaluation count.
            expected.evaluations = single.calibrationReports.first?.evaluations
            expected.start = "final-fit"
            expected.evaluationCap = single.report.evaluations
            expected.converged = single.calibrationReports.first?.converged
            expected.stopReason = single.calibrationReports.first?.reason.rawValue
            #expect(training.calibration == expected)
            #expect(training.evaluations == single.report.evaluations && (expected.evaluations ?? .max) <= training.evaluations)
            #expect(resolved.manifest.train?.calibration == calibration)
            // The calibration fit ran last, but the committed status says the final fit's figures (the model's), and the
            // calibration's in its own line.
            let committed = try #require(status.training)
            #expect(committed.iteration == training.iterations && committed.loss == training.finalLoss && committed.fit == .final,
                    "\(committed) against the final fit's \(training.iterations) iterations, loss \(training.finalLoss)")
            #expect(committed.calibration == TrainingCalibrationSummary(tau: record.adjustment.tau, evaluations: expected.evaluations ?? -1,
                                                                       evaluationCap: single.report.evaluations))
            // Each iteration seen while the fits ran says which fit it is of (how many a poll catches depends on timing).
            let warm = TrainingFit(.calibration, fromFinalFit: true)
            for seen in fits {
                #expect(seen.fit == .final || seen.fit == warm, "\(seen.summary)")
                #expect(seen.summary.hasPrefix(seen.fit == .final ? "final fit · L-BFGS iteration " : "calibration fit (from the final fit's weights) · L-BFGS iteration "))
            }

            let replayed = try await Self.onThread {
                try Replay.run(manifestPath: directory + "/job/model.manifest.json", mode: .local(threads: 2), toolVersion: "9.9.9")
            }
            #expect(replayed.matches && Self.bytes(replayed.output) == reference)
        }
    }

    /// `calibrate: true` on an input where no class has two real rows: nothing can be held out, so the job fails
    /// saying so and what to change in the manifest, and writes no model.
    @Test func aCalibratedJobWithNothingToHoldOutFailsSayingToRemoveCalibrate() async throws {
        try await withTemporaryDirectory("trainjob") { directory in
            let input = directory + "/one-row-per-class.h5"
            let writer = try AtomicHDF5Writer(path: input)
            try writer.writeDataset("embeddings", values: (0..<32).map { Float(($0 * 7) % 11) - 5 }, shape: [4, 8])
            try writer.writeDataset("labels", values: [Int32(0), 1, 2, 3], shape: [4])
            try writer.commit()
            let (coordinator, workers, endpoint) = try await Self.cluster(directory, workers: 1)
            defer { for daemon in workers + [coordinator] { daemon.stop.stop() } }
            let manifest = JobManifest(input: .init(path: input), output: directory + "/model.h5", policy: BalanceSettings(kappa: .fixed(20), seed: 1),
                                       train: .init(settings: TrainingSettings(optimizer: LBFGSSettings(maxIterations: 5)), calibration: CalibrationSettings()))
            let job = try ClusterClient(coordinator: endpoint).submit(manifest)
            let status = try #require(try await Self.finished(job, endpoint: endpoint))
            #expect(status.state == .failed)
            #expect(status.error?.contains("no class of job \(job)'s input has at least two real rows") == true
                    && status.error?.contains("remove `calibrate` from the `train:` section") == true, "\(status.error ?? "")")
            #expect(!FileManager.default.fileExists(atPath: directory + "/model.h5"))

            // Without a fixed κ the same input has no κ at all: the error names the manifest's key, not only the flag.
            var local = manifest
            local.policy = BalanceSettings(seed: 1)
            let refused = try #require(try await Self.finished(try ClusterClient(coordinator: endpoint).submit(local), endpoint: endpoint))
            #expect(refused.state == .failed && refused.error?.contains("`kappa: fixed:VALUE` under `policy:`") == true, "\(refused.error ?? "")")
        }
    }
}
