import Foundation
import Logging
import TailForgeTestSupport
import Testing
import TailForgeNumerics
import TailForgeStorage
import TailForgeTraining
@testable import TailForgeCluster

extension ClusterThreadTests {
    /// Distributed L-BFGS against the local trainer on the same shard files. Every comparison is exact: the
    /// design promises the same bits (same blocks, exact fixed-point reduction), not merely close numbers.
    @Suite struct DistributedTrainingTests {
        /// Shard sizes that are not multiples of the block size, so blocks straddle nothing by accident.
        static let rowCounts = [1_100, 1_300, 900]
        static let blockRows = 256
        static let settings = TrainingSettings(l2: 1e-3, optimizer: LBFGSSettings(maxIterations: 25, gradientTolerance: 1e-6))

        private func localModel(_ cluster: TrainingCluster, _ shards: [String]) async throws -> (SoftmaxModelFile.Loaded, String) {
            let output = cluster.path("local.h5")
            _ = try await TrainingRunner(inputs: shards, output: output, settings: Self.settings, threads: 2, blockRows: Self.blockRows).run()
            return (try SoftmaxModelFile.read(path: output), try SHA256.hexDigest(ofFileAt: output))
        }

        private func runner(_ cluster: TrainingCluster, _ shards: [String], output: String, checkpoint: String? = nil) -> DistributedTrainingRunner {
            DistributedTrainingRunner(coordinator: cluster.endpoint, shards: shards.map { TrainingShardSpec(path: $0) }, output: output,
                                      settings: Self.settings, blockRows: Self.blockRows, checkpointPath: checkpoint, checkpointEvery: 2,
                                      timeoutSeconds: 20, logger: Logger(label: "test.trainer"))
        }

        @Test func threeWorkersGiveTheLocalModelBytes() async throws {
            try await withTemporaryDirectory("distributed") { directory in
                var cluster = try await TrainingCluster(in: directory)
                defer { cluster.stop() }
                let shards = try cluster.writeShards(rowCounts: Self.rowCounts)
                cluster.addWorkers(3)
                let (local, localDigest) = try await localModel(cluster, shards)
                let output = cluster.path("distributed.h5")
                let summary = try await runner(cluster, shards, output: output).run()
                let remote = try SoftmaxModelFile.read(path: output)
                #expect(summary.rows == Self.rowCounts.reduce(0, +))
                #expect(summary.report.iterations > 5)
                #expect(remote.model.weights == local.model.weights)
                #expect(remote.model.bias == local.model.bias)
                #expect(try SHA256.hexDigest(ofFileAt: output) == localDigest)
            }
        }

        @Test func balancedClassWeightsTravelWithTheWeightsAndGiveTheLocalModel() async throws {
            try await withTemporaryDirectory("distributed") { directory in
                var cluster = try await TrainingCluster(in: directory)
                defer { cluster.stop() }
                // Random labels: class counts differ by sampling noise, so the "balanced" weights are not all 1.
                let shards = try cluster.writeShards(rowCounts: [700, 300])
                cluster.addWorkers(2)
                var settings = Self.settings
                settings.classWeighting = .balanced
                settings.optimizer.maxIterations = 10
                let local = cluster.path("local.h5"), remote = cluster.path("distributed.h5")
                _ = try await TrainingRunner(inputs: shards, output: local, settings: settings, threads: 2, blockRows: Self.blockRows).run()
                var runner = runner(cluster, shards, output: remote)
                runner.settings = settings
                _ = try await runner.run()
                #expect(try SHA256.hexDigest(ofFileAt: remote) == SHA256.hexDigest(ofFileAt: local))
                let unweighted = cluster.path("unweighted.h5")
                var plain = settings
                plain.classWeighting = .none
                _ = try await TrainingRunner(inputs: shards, output: unweighted, settings: plain, threads: 2, blockRows: Self.blockRows).run()
                #expect(try SoftmaxModelFile.read(path: unweighted).model.weights != SoftmaxModelFile.read(path: remote).model.weights,
                        "the weighting must matter for this check to mean anything")
            }
        }

        @Test func aWorkerDyingMidIterationDoesNotChangeTheModel() async throws {
            try await withTemporaryDirectory("distributed") { directory in
                var cluster = try await TrainingCluster(in: directory)
                defer { cluster.stop() }
                let shards = try cluster.writeShards(rowCounts: Self.rowCounts)
                cluster.addWorkers(2)
                // The coordinator spreads the three shards over the three workers, so one of them lands on the dying one.
                let dying = DyingWorker(endpoint: cluster.endpoint, name: "doomed", dieAtIteration: 6)
                defer { dying.stop() }
                try await Task.sleep(for: .milliseconds(300))
                let (local, _) = try await localModel(cluster, shards)
                let output = cluster.path("distributed.h5")
                _ = try await runner(cluster, shards, output: output).run()
                #expect(dying.died.isStopped)
                let remote = try SoftmaxModelFile.read(path: output)
                #expect(remote.model.weights == local.model.weights)
                #expect(remote.model.bias == local.model.bias)
            }
        }

        struct SimulatedCrash: Error {}

        @Test func aKilledTrainerResumesFromItsCheckpointToTheSameModel() async throws {
            try await withTemporaryDirectory("distributed") { directory in
                var cluster = try await TrainingCluster(in: directory)
                defer { cluster.stop() }
                let shards = try cluster.writeShards(rowCounts: Self.rowCounts)
                cluster.addWorkers(3)
                let (local, _) = try await localModel(cluster, shards)
                let output = cluster.path("distributed.h5")
                let checkpoint = cluster.path("train.checkpoint")
                await #expect(throws: SimulatedCrash.self) {
                    _ = try await runner(cluster, shards, output: output, checkpoint: checkpoint).run { iteration in
                        if iteration.iteration == 7 { throw SimulatedCrash() }
                    }
                }
                #expect(!FileManager.default.fileExists(atPath: output))
                #expect(try TrainingCheckpoint.read(path: checkpoint).state.iteration == 6)
                let summary = try await runner(cluster, shards, output: output, checkpoint: checkpoint).run()
                #expect(summary.resumedFromIteration == 6)
                let remote = try SoftmaxModelFile.read(path: output)
                #expect(remote.model.weights == local.model.weights)
                #expect(remote.model.bias == local.model.bias)
            }
        }

        @Test func aCheckpointFromAnotherRunIsRefused() async throws {
            try await withTemporaryDirectory("distributed") { directory in
                var cluster = try await TrainingCluster(in: directory)
                defer { cluster.stop() }
                let shards = try cluster.writeShards(rowCounts: [300, 200])
                cluster.addWorkers(1)
                let checkpoint = cluster.path("other.checkpoint")
                let state = LBFGSState(iteration: 1, evaluations: 2, x: [0], loss: 1, previousLoss: nil, gradient: [0],
                                       initialGradientNorm: 1, history: [], seconds: 0)
                let fingerprint = TrainingCheckpoint.Fingerprint(shardSHA256: ["x"], rows: 1, classCount: 1, dimension: 1, l2: 0,
                                                                 classWeighting: "none", blockRows: 1, historySize: 10)
                try TrainingCheckpoint(fingerprint: fingerprint, state: state).write(to: checkpoint)
                await #expect(throws: DistributedTrainingError.self) {
                    _ = try await runner(cluster, shards, output: cluster.path("m.h5"), checkpoint: checkpoint).run()
                }
            }
        }

        @Test func aMissingShardFileIsReportedWithItsPath() async throws {
            try await withTemporaryDirectory("distributed") { directory in
                var cluster = try await TrainingCluster(in: directory)
                defer { cluster.stop() }
                cluster.addWorkers(1)
                let missing = cluster.path("no-such-shard.h5")
                do {
                    _ = try await runner(cluster, [missing], output: cluster.path("m.h5")).run()
                    Issue.record("training on a missing file succeeded")
                } catch let error as DistributedTrainingError {
                    #expect("\(error)".contains(missing))
                }
            }
        }
    }
}

@Suite struct DistributedTrainingFormatTests {
    @Test func checkpointsRoundTripEveryBit() throws {
        var rng = Xoshiro256PlusPlus(seed: 3, stream: 0)
        func values(_ n: Int) -> [Double] { (0 ..< n).map { _ in Double(bitPattern: rng.next() >> 2) } }
        let state = LBFGSState(iteration: 12, evaluations: 15, x: values(7), loss: 0.1 + 0.2, previousLoss: .pi, gradient: values(7),
                               initialGradientNorm: 1e-300, history: [.init(s: values(7), y: values(7), rho: -0.0),
                                                                      .init(s: values(7), y: values(7), rho: 3)],
                               seconds: 1.5)
        let checkpoint = TrainingCheckpoint(
            fingerprint: .init(shardSHA256: ["a", "b"], rows: 9, classCount: 3, dimension: 1, l2: 1e-4, classWeighting: "balanced",
                               blockRows: 1024, historySize: 10),
            state: state)
        let bytes = checkpoint.encoded()
        let back = try TrainingCheckpoint.decode(bytes, path: "memory")
        #expect(back == checkpoint)
        #expect(back.state.history[0].rho.sign == .minus)
        var damaged = bytes
        damaged[damaged.count / 2] ^= 1
        #expect(throws: DistributedTrainingError.self) { try TrainingCheckpoint.decode(damaged, path: "memory") }
        #expect(throws: DistributedTrainingError.self) { try TrainingCheckpoint.decode(Array(bytes.dropLast(9)), path: "memory") }
    }

    @Test func gradientRepliesCarryTheExactSums() throws {
        var rng = Xoshiro256PlusPlus(seed: 5, stream: 0)
        let gradient = (0 ..< 2 * 4).map { _ in Int128(Int64(bitPattern: rng.next())) << 40 }
        let sums = LossAndGradient(classCount: 2, dimension: 3, rows: 17, isFinite: true, fixedPointLoss: .max >> 3,
                                   fixedPointGradient: gradient)
        let message = GradientReply.message(session: "s", iteration: 4, shard: 1, sums: sums, seconds: 0.5)
        let decoded = try WireMessage.decode(message.encode())
        let reply = try #require(decoded.body(as: GradientReply.self))
        #expect(reply.sums(payloads: decoded.payloads, classCount: 2, dimension: 3) == sums)
        #expect(reply.sums(payloads: decoded.payloads, classCount: 2, dimension: 4) == nil)
    }

    @Test func gradientPayloadLayoutIsLittleEndianFixedPoint() throws {
        let sums = LossAndGradient(classCount: 1, dimension: 1, rows: 3, isFinite: true, fixedPointLoss: -2,
                                   fixedPointGradient: [Int128(1) << 64, -1])
        let le64 = { (v: Int64) in withUnsafeBytes(of: v.littleEndian, Array.init) }
        let expected = le64(1) + le64(1) + le64(3) + [1]
            + [0xFE] + [UInt8](repeating: 0xFF, count: 15)
            + [UInt8](repeating: 0, count: 8) + [1] + [UInt8](repeating: 0, count: 7)
            + [UInt8](repeating: 0xFF, count: 16)
        #expect(sums.serialized() == expected)
        #expect(LossAndGradient(serialized: expected) == sums)
    }

    @Test(arguments: [
        ("/data/shard-0.h5", "/data/shard-0.h5", nil),
        ("/data/shard-0.h5@node7", "/data/shard-0.h5", "node7"),
        ("/data/me@home/shard.h5", "/data/me@home/shard.h5", nil),
    ] as [(String, String, String?)])
    func shardArgumentsNameAnOptionalHolder(argument: String, path: String, holder: String?) {
        let spec = TrainingShardSpec(argument: argument)
        #expect(spec.path == path)
        #expect(spec.holder == holder)
    }
}
