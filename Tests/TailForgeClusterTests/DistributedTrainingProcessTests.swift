import Foundation
import Logging
import Testing
import TailForgeStorage
import TailForgeTraining
@testable import TailForgeCluster

/// Distributed training with the coordinator, the workers and the trainer as real `tailforge` processes on
/// loopback, killed with SIGKILL; every model is compared byte for byte with single-node `tailforge train`.
@Suite(.serialized) struct DistributedTrainingProcessTests {
    static let trainFlags = ["--l2", "1e-3", "--max-iter", "25", "--tol", "1e-6"]

    struct Fixture {
        let executable: String
        let directory: String
        let shards: [String]
        let referenceSHA256: String

        init() throws {
            executable = try #require(LocalCluster.siblingExecutable(), "build the tailforge executable (swift build --build-tests)")
            let files = try TrainingCluster.shardFiles(rowCounts: DistributedTrainingTests.rowCounts)
            directory = files.directory
            shards = files.paths
            let reference = (directory as NSString).appendingPathComponent("local.h5")
            let status = try Self.run(executable, ["train"] + shards + ["--output", reference, "--threads", "2"] + trainFlags)
            #expect(status == 0)
            referenceSHA256 = try SHA256.hexDigest(ofFileAt: reference)
        }

        static func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
            let process = try start(executable, arguments)
            process.waitUntilExit()
            return process.terminationStatus
        }

        static func start(_ executable: String, _ arguments: [String], log: String? = nil) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
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

        func cluster(delayMilliseconds: Int? = nil) -> LocalCluster {
            LocalCluster(executable: executable, directory: path("cluster"),
                         environment: delayMilliseconds.map { [TrainingShardServer.testDelayVariable: "\($0)"] } ?? [:],
                         heartbeatMilliseconds: 100, livenessMilliseconds: 1_000)
        }

        /// An in-process trainer with the command-line settings of `trainFlags`.
        func runner(_ cluster: LocalCluster, output: String) -> DistributedTrainingRunner {
            DistributedTrainingRunner(coordinator: cluster.endpoint, shards: shards.map { TrainingShardSpec(path: $0) }, output: output,
                                      settings: DistributedTrainingTests.settings, timeoutSeconds: 30, logger: Logger(label: "test.trainer"))
        }

        func distributedArguments(_ endpoint: String, output: String, extra: [String] = []) -> [String] {
            ["train", "--distributed", "--coordinator", endpoint] + shards + ["--output", output] + trainFlags + extra
        }

        /// Starts a coordinator and `count` workers and waits until all are registered, so every worker gets shards.
        func start(_ cluster: LocalCluster, workers count: Int) throws {
            try cluster.start(workers: count)
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if let status = try? ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 2).status(), status.workers.count == count { return }
                Thread.sleep(forTimeInterval: 0.02)
            }
            throw LocalCluster.StartError(description: "\(count) workers did not register")
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    @Test func threeWorkerProcessesGiveTheSingleNodeModelBytes() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try fixture.start(cluster, workers: 3)
        let output = fixture.path("distributed.h5")
        #expect(try Fixture.run(fixture.executable, fixture.distributedArguments(cluster.endpoint, output: output)) == 0)
        #expect(try SHA256.hexDigest(ofFileAt: output) == fixture.referenceSHA256)
    }

    @Test func aWorkerKilledMidTrainingLeavesTheModelUnchanged() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try fixture.start(cluster, workers: 3)
        let output = fixture.path("distributed.h5")
        let runner = fixture.runner(cluster, output: output)
        // Killed right after iteration 4: the next gradient request reaches a dead worker, whose shard is
        // recomputed elsewhere once the coordinator's liveness window expires.
        _ = try await runner.run { iteration in
            if iteration.iteration == 4 { cluster.crashWorker(1) }
        }
        #expect(cluster.workers[1].terminationReason == .uncaughtSignal)
        #expect(try SHA256.hexDigest(ofFileAt: output) == fixture.referenceSHA256)
        let log = try String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)
        #expect(log.contains("worker local1 lost"))
        #expect(log.contains("moves from lost worker"))
    }

    @Test func aCoordinatorKilledMidEvaluationAndRestartedLeavesTheModelUnchanged() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let cluster = fixture.cluster(delayMilliseconds: 100)
        defer { cluster.stop() }
        try fixture.start(cluster, workers: 2)
        let output = fixture.path("distributed.h5")
        let runner = fixture.runner(cluster, output: output)
        nonisolated(unsafe) let shared = cluster
        let restarted = StopSignal()
        _ = try await runner.run { iteration in
            guard iteration.iteration == 3 else { return }
            // While the next evaluation is in flight (each worker reply is delayed 100 ms).
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: 0.03)
                let endpoint = shared.endpoint
                shared.crashCoordinator()
                try? shared.startCoordinator(bind: endpoint)
                restarted.stop()
            }
        }
        #expect(restarted.isStopped)
        #expect(try SHA256.hexDigest(ofFileAt: output) == fixture.referenceSHA256)
        let log = try String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)
        #expect(log.contains("training session"))
    }

    @Test func aTrainerKilledWithSIGKILLResumesFromItsCheckpointToTheSameModel() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let cluster = fixture.cluster(delayMilliseconds: 20)
        defer { cluster.stop() }
        try fixture.start(cluster, workers: 3)
        let output = fixture.path("distributed.h5")
        let checkpoint = fixture.path("train.checkpoint")
        let arguments = fixture.distributedArguments(cluster.endpoint, output: output,
                                                     extra: ["--checkpoint", checkpoint, "--checkpoint-every", "2"])
        let trainer = try Fixture.start(fixture.executable, arguments, log: fixture.path("trainer-1.log"))
        var saved = 0
        let deadline = Date().addingTimeInterval(60)
        while saved < 4, trainer.isRunning, Date() < deadline {
            saved = (try? TrainingCheckpoint.read(path: checkpoint).state.iteration) ?? 0
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(trainer.isRunning, "the trainer finished before it could be killed")
        LocalCluster.signal(trainer, SIGKILL)
        trainer.waitUntilExit()
        #expect(trainer.terminationReason == .uncaughtSignal)
        #expect(!FileManager.default.fileExists(atPath: output))

        let resumed = try Fixture.start(fixture.executable, arguments, log: fixture.path("trainer-2.log"))
        resumed.waitUntilExit()
        #expect(resumed.terminationStatus == 0)
        #expect(try SHA256.hexDigest(ofFileAt: output) == fixture.referenceSHA256)
        let log = try String(contentsOfFile: fixture.path("trainer-2.log"), encoding: .utf8)
        #expect(log.contains("resuming from \(checkpoint) at iteration"))
    }
}
