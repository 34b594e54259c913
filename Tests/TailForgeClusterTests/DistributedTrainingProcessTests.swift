import Foundation
import Logging
import TailForgeTestSupport
import Testing
import TailForgeNumerics
import TailForgeStorage
import TailForgeTraining
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// Distributed training with the coordinator, the workers and the trainer as real `tailforge` processes on
    /// loopback, killed with SIGKILL; every model is compared byte for byte with single-node `tailforge train`.
    @Suite struct DistributedTrainingProcessTests {
        static let trainFlags = ["--l2", "1e-3", "--max-iter", "25", "--tol", "1e-6"]

        struct Fixture {
            let executable: String
            let scratch: TemporaryDirectory
            var directory: String { scratch.path }
            let shards: [String]
            let referenceSHA256: String
            /// Every process runs this test process's OpenBLAS kernel family: the model records the trainer's family
            /// (`blas_core`), and some tests here train in process against a reference the executable trained.
            static let kernel = ["OPENBLAS_CORETYPE": BLAS.coreName]

            init() async throws {
                executable = try #require(LocalCluster.siblingExecutable(), "build the tailforge executable (swift build --build-tests)")
                let files = try TrainingCluster.shardFiles(rowCounts: ClusterThreadTests.DistributedTrainingTests.rowCounts)
                scratch = files.scratch
                shards = files.paths
                let reference = files.scratch.file("local.h5")
                let status = try await Self.run(executable, ["train"] + shards + ["--output", reference, "--threads", "2"] + trainFlags)
                #expect(status == 0)
                referenceSHA256 = try SHA256.hexDigest(ofFileAt: reference)
            }

            static func run(_ executable: String, _ arguments: [String]) async throws -> Int32 {
                try await Child.run(executable, arguments, environment: kernel).status
            }

            static func start(_ executable: String, _ arguments: [String], log: String? = nil) throws -> Process {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                process.environment = ProcessInfo.processInfo.environment.merging(kernel) { $1 }
                if let log {
                    _ = FileManager.default.createFile(atPath: log, contents: nil)
                    process.standardError = FileHandle(forWritingAtPath: log)
                } else {
                    process.standardError = FileHandle.nullDevice
                }
                process.standardOutput = FileHandle.nullDevice
                try process.run()
                return process
            }

            func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

            func cluster(environment: [String: String] = [:]) -> LocalCluster {
                let cluster = LocalCluster(executable: executable, directory: path("cluster"), environment: environment.merging(Self.kernel) { $1 },
                                           heartbeatMilliseconds: 100, livenessMilliseconds: 1_000)
                cluster.dataRoots = [directory]
                return cluster
            }

            /// An in-process trainer with the command-line settings of `trainFlags`.
            func runner(_ cluster: LocalCluster, output: String) -> DistributedTrainingRunner {
                DistributedTrainingRunner(coordinator: cluster.endpoint, shards: shards.map { TrainingShardSpec(path: $0) }, output: output,
                                          settings: ClusterThreadTests.DistributedTrainingTests.settings, timeoutSeconds: 30, logger: Logger(label: "test.trainer"))
            }

            func distributedArguments(_ endpoint: String, output: String, extra: [String] = []) -> [String] {
                ["train", "--distributed", "--coordinator", endpoint] + shards + ["--output", output] + trainFlags + extra
            }

            func remove() { scratch.remove() }
        }

        @Test func threeWorkerProcessesGiveTheSingleNodeModelBytes() async throws {
            let fixture = try await Fixture()
            defer { fixture.remove() }
            let cluster = fixture.cluster()
            defer { cluster.stop() }
            try await cluster.start(workers: 3)
            let output = fixture.path("distributed.h5")
            #expect(try await Fixture.run(fixture.executable, fixture.distributedArguments(cluster.endpoint, output: output)) == 0)
            #expect(try SHA256.hexDigest(ofFileAt: output) == fixture.referenceSHA256)
        }

        @Test func aWorkerKilledMidTrainingLeavesTheModelUnchanged() async throws {
            let fixture = try await Fixture()
            defer { fixture.remove() }
            let cluster = fixture.cluster()
            defer { cluster.stop() }
            try await cluster.start(workers: 3)
            let output = fixture.path("distributed.h5")
            let runner = fixture.runner(cluster, output: output)
            // Killed right after iteration 4: the next gradient request reaches a dead worker, whose shard is
            // recomputed elsewhere once the coordinator's liveness window expires.
            _ = try await runner.run { iteration in
                if iteration.iteration == 4 { LocalCluster.signal(cluster.workers[1], SIGKILL) }
            }
            #expect(cluster.workers[1].terminationReason == .uncaughtSignal)
            #expect(try SHA256.hexDigest(ofFileAt: output) == fixture.referenceSHA256)
            // The coordinator dropped the dead worker (training finished on the other two).
            let workers = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5).status().workers.map(\.name)
            #expect(workers.sorted() == ["local0", "local2"])
        }

        @Test func aCoordinatorKilledMidEvaluationAndRestartedLeavesTheModelUnchanged() async throws {
            let fixture = try await Fixture()
            defer { fixture.remove() }
            // The workers' test gate: while `gate/hold` exists they hold each gradient request unanswered and say so
            // with a `held-…` file, so the crash below lands while an evaluation is certainly in flight.
            let gate = fixture.path("gate"), hold = fixture.path("gate/hold")
            try FileManager.default.createDirectory(atPath: gate, withIntermediateDirectories: true)
            let cluster = fixture.cluster(environment: [TrainingShardServer.testGateVariable: gate])
            defer { cluster.stop() }
            try await cluster.start(workers: 2)
            let output = fixture.path("distributed.h5")
            let runner = fixture.runner(cluster, output: output)
            nonisolated(unsafe) let shared = cluster
            let heldAtCrash = ConcurrentResults<[String]>(count: 1)
            _ = try await runner.run { iteration in
                guard iteration.iteration == 3 else { return }
                // Iteration 4's requests are held from now on; once a worker holds one, crash and restart the coordinator.
                #expect(FileManager.default.createFile(atPath: hold, contents: nil))
                Task.detached {
                    let held = { (try? FileManager.default.contentsOfDirectory(atPath: gate).filter { $0.hasPrefix("held-") }) ?? [] }
                    _ = await eventually(seconds: 20) { !held().isEmpty }
                    let endpoint = shared.endpoint
                    await shared.crashCoordinator()
                    heldAtCrash.set(0, held())
                    try? await shared.startCoordinator(bind: endpoint)
                    try? FileManager.default.removeItem(atPath: hold)
                }
            }
            let held = try #require(heldAtCrash.values[0], "the coordinator was never crashed")
            #expect(!held.isEmpty, "no gradient request was in flight when the coordinator was killed")
            // All held requests belong to the one evaluation after iteration 3 (markers are held-PID-REQUEST-SHARDS).
            #expect(Set(held.map { $0.split(separator: "-")[2] }).count == 1, "\(held)")
            #expect(try SHA256.hexDigest(ofFileAt: output) == fixture.referenceSHA256)
        }

        @Test func aTrainerKilledWithSIGKILLResumesFromItsCheckpointToTheSameModel() async throws {
            let fixture = try await Fixture()
            defer { fixture.remove() }
            let cluster = fixture.cluster(environment: [TrainingShardServer.testDelayVariable: "20"])
            defer { cluster.stop() }
            try await cluster.start(workers: 3)
            let output = fixture.path("distributed.h5")
            let checkpoint = fixture.path("train.checkpoint")
            let arguments = fixture.distributedArguments(cluster.endpoint, output: output,
                                                         extra: ["--checkpoint", checkpoint, "--checkpoint-every", "2"])
            let trainer = try Fixture.start(fixture.executable, arguments, log: fixture.path("trainer-1.log"))
            let saved = { (try? TrainingCheckpoint.read(path: checkpoint).state.iteration) ?? 0 }
            _ = await eventually(seconds: 60) { saved() >= 4 || !trainer.isRunning }
            #expect(trainer.isRunning, "the trainer finished before it could be killed")
            LocalCluster.signal(trainer, SIGKILL)
            await LocalCluster.exited(trainer)
            #expect(trainer.terminationReason == .uncaughtSignal)
            #expect(!FileManager.default.fileExists(atPath: output))
            let killedAt = saved()

            // The same command again, in process so its summary says where it resumed.
            var resumed = fixture.runner(cluster, output: output)
            resumed.checkpointPath = checkpoint
            resumed.checkpointEvery = 2
            let summary = try await resumed.run()
            #expect(summary.resumedFromIteration == killedAt)
            #expect(killedAt >= 4)
            #expect(try SHA256.hexDigest(ofFileAt: output) == fixture.referenceSHA256)
        }
    }
}

extension ClusterProcessTests.DistributedTrainingProcessTests {
    /// Shards named relative to the trainer's directory (`train --distributed data/b.h5`, as a user types them on one
    /// machine) are the files there, and give the single-node model. The trainer sent them as typed, and the
    /// coordinator, which cannot know the trainer's directory, refused them as outside its data roots.
    @Test func shardsNamedRelativeToTheTrainersDirectoryAreItsFiles() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try await cluster.start(workers: 2)
        let relative = fixture.shards.map { String($0.dropFirst(fixture.directory.count + 1)) }
        #expect(relative.allSatisfy { !$0.hasPrefix("/") && FileManager.default.fileExists(atPath: fixture.path($0)) })
        let log = fixture.path("trainer.log")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let trainer = Process()
        trainer.executableURL = URL(fileURLWithPath: fixture.executable)
        trainer.arguments = ["train", "--distributed", "--coordinator", cluster.endpoint] + relative + ["--output", "relative.h5"] + Self.trainFlags
        trainer.currentDirectoryURL = URL(fileURLWithPath: fixture.directory)
        trainer.environment = ProcessInfo.processInfo.environment.merging(Fixture.kernel) { $1 }
        trainer.standardOutput = FileHandle.nullDevice
        trainer.standardError = FileHandle(forWritingAtPath: log)
        try trainer.run()
        await LocalCluster.exited(trainer)
        #expect(trainer.terminationStatus == 0, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        #expect(try SHA256.hexDigest(ofFileAt: fixture.path("relative.h5")) == fixture.referenceSHA256)
    }
}
