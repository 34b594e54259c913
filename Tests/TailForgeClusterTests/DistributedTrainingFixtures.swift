import Foundation
import TailForgeTestSupport
import Logging
import Synchronization
import TailForgeNumerics
import TailForgeStorage
import TailForgeTraining
@testable import TailForgeCluster

/// A backend for coordinators that only serve training sessions.
struct NoBalancingBackend: JobBackend {
    struct Unsupported: Error {}
    func prepare(_ manifest: JobManifest, shardCount: Int) throws -> PreparedJob { throw Unsupported() }
    func synthesisKappas(_ manifest: JobManifest, _ job: PreparedJob, stageOne: [[Float]]) throws -> (kappas: [[Float]], fallback: Float?) { throw Unsupported() }
    func gather(_ manifest: JobManifest, _ job: PreparedJob, shards: [ShardFile], kappas: [[Float]], fallback: Float?) throws -> GatherReport { throw Unsupported() }
}

/// A daemon loop (coordinator or worker runtime) on its own thread until its stop signal is set. Tests wait for
/// it by suspending, never by blocking a thread of the cooperative pool. Started inside `withTemporaryDirectory`,
/// it is stopped, and waited for, before that directory is removed.
final class TestDaemon: Sendable {
    let stop = StopSignal()
    /// How the loop ended (nil while it runs).
    let outcome = Mutex<Result<Void, any Error>?>(nil)

    init(name: String, _ body: @escaping @Sendable (StopSignal) throws -> Void) {
        ComputePool.startThread(named: name) { [self] in
            let result = Result { try body(stop) }
            outcome.withLock { $0 = result }
        }
        TemporaryDirectory.current?.beforeRemoval { [self] in await shutdown() }
    }

    var isRunning: Bool { outcome.withLock { $0 == nil } }

    /// How the loop ended; nil if it is still running after `seconds`.
    func finished(seconds: Double = 10) async -> Result<Void, any Error>? {
        await eventually(seconds: seconds, interval: .milliseconds(20)) { outcome.withLock { $0 } }
    }

    /// Sets the stop signal and waits for the loop to end.
    func shutdown(seconds: Double = 10) async {
        stop.stop()
        _ = await finished(seconds: seconds)
    }

    /// `runtime` on a daemon thread, once its endpoint file is written; the daemon and the endpoint.
    static func coordinator(_ runtime: CoordinatorRuntime) async throws -> (TestDaemon, String) {
        let daemon = TestDaemon(name: "coordinator") { stop in try runtime.run(until: stop) }
        guard let endpoint = await CoordinatorRuntime.waitForEndpoint(stateDirectory: runtime.configuration.stateDirectory, seconds: 10,
                                                                      gaveUp: { !daemon.isRunning }) else {
            let outcome = daemon.outcome.withLock { $0 }
            await daemon.shutdown()
            throw LocalCluster.StartError(description: "the in-process coordinator did not write its endpoint file within 10 s: "
                                          + (outcome.map { "\($0)" } ?? "still starting"))
        }
        return (daemon, endpoint)
    }
}

/// A coordinator and workers on loopback threads, plus balanced shard files of a small separable-ish problem.
struct TrainingCluster {
    static let heartbeat = HeartbeatSettings(intervalMilliseconds: 100, livenessMilliseconds: 600)
    let directory: String
    let endpoint: String
    let coordinator: TestDaemon
    var workers: [TestDaemon] = []

    /// A coordinator whose state directory is `directory` (a test's temporary directory).
    init(in directory: String) async throws {
        self.directory = directory
        var configuration = CoordinatorConfiguration(bind: "tcp://127.0.0.1:*", stateDirectory: directory, toolVersion: "9.9.9",
                                                     heartbeat: Self.heartbeat)
        configuration.dataRoots = try DataRoots([NSTemporaryDirectory()])
        let runtime = CoordinatorRuntime(configuration: configuration, backend: NoBalancingBackend(), logger: Logger(label: "test.coordinator"))
        (coordinator, endpoint) = try await TestDaemon.coordinator(runtime)
    }

    mutating func addWorkers(_ count: Int, threads: Int = 1) {
        for _ in 0 ..< count {
            let name = "worker\(workers.count + 1)"
            var configuration = WorkerConfiguration(coordinator: endpoint, workDirectory: directory, threads: threads, name: name,
                                                    toolVersion: "9.9.9")
            configuration.dataRoots = [NSTemporaryDirectory()]
            let runtime = WorkerRuntime(configuration: configuration, executor: NoShards(), logger: Logger(label: "test.\(name)"))
            workers.append(TestDaemon(name: name) { stop in try runtime.run(until: stop) })
        }
    }

    /// Signals every daemon to stop (they finish on their own threads; nothing waits for them).
    func stop() {
        for worker in workers { worker.stop.stop() }
        coordinator.stop.stop()
    }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    func writeShards(rowCounts: [Int]) throws -> [String] {
        try Self.writeShards(rowCounts: rowCounts, in: directory)
    }

    /// Shard files in a new temporary directory, which goes with the value.
    static func shardFiles(rowCounts: [Int]) throws -> (scratch: TemporaryDirectory, paths: [String]) {
        let scratch = TemporaryDirectory("distributed")
        return (scratch, try writeShards(rowCounts: rowCounts, in: scratch.path))
    }

    /// Writes `rowCounts.count` balanced-contract shard files of a 10-class, d = 32 problem (class means plus
    /// noise, unit-normalised rows) and returns their paths.
    static func writeShards(rowCounts: [Int], in directory: String, seed: UInt64 = 7, classes: Int = 10,
                            dimension: Int = 32) throws -> [String] {
        var rng = Xoshiro256PlusPlus(seed: seed, stream: 0)
        func uniform() -> Float { Float(Double(rng.next() >> 11) * 0x1p-53) * 2 - 1 }
        let means = (0 ..< classes).map { _ in (0 ..< dimension).map { _ in uniform() } }
        var paths: [String] = []
        for (index, rows) in rowCounts.enumerated() {
            var embeddings: [Float] = []
            var labels: [Int32] = []
            for _ in 0 ..< rows {
                let label = Int(rng.next() % UInt64(classes))
                var row = means[label].map { $0 + 0.9 * uniform() }
                let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
                row = row.map { $0 / norm }
                embeddings += row
                labels.append(Int32(label))
            }
            let path = (directory as NSString).appendingPathComponent("shard-\(index).h5")
            let writer = try BalancedDatasetWriter(path: path, dimension: dimension, totalRows: rows, attributes: [:],
                                                   classNames: (0 ..< classes).map { "class-\($0)" })
            try writer.append(embeddings: embeddings, labels: labels, isSynthetic: [UInt8](repeating: 0, count: rows),
                              sourceIndex: (0 ..< rows).map(Int64.init), kappa: [Float](repeating: 0, count: rows))
            try writer.commit()
            paths.append(path)
        }
        return paths
    }
}

/// Workers in these tests only train.
struct NoShards: ShardExecutor {
    struct Unsupported: Error {}
    func execute(_ task: ShardTask, context: ShardContext) throws -> ShardOutcome { throw Unsupported() }
}

/// A worker that registers and serves training like a real one (same ``TrainingShardServer``) until it
/// receives gradient request number `dieAtIteration`: then it falls silent at once — no reply, no heartbeat,
/// no goodbye — like a machine that lost power mid-iteration. Only the coordinator's liveness window notices.
final class DyingWorker: Sendable {
    /// Set once the worker has gone silent.
    let died = StopSignal()
    private let daemon: TestDaemon

    init(endpoint: String, name: String, dieAtIteration: Int) {
        let died = self.died
        daemon = TestDaemon(name: name) { stop in
            let factory = SocketFactory(context: try ZMQContext())
            let socket = try factory.makeDealer(connecting: endpoint, identity: Array(name.utf8))
            let server = TrainingShardServer(threads: 1, workerName: name, logger: Logger(label: "test.\(name)"),
                                             readableRoots: [NSTemporaryDirectory()])
            // Replies come back on server threads: the same hand-off as the real worker's.
            let (outbox, wake) = try SocketMailbox<WireMessage>.make(factory: factory)
            defer { outbox.close(); wake.close() }
            try socket.send(WireMessage(Hello(workerName: name, toolVersion: "9.9.9", host: "localhost", processId: 0, threads: 1)).encode())
            var lastBeat = ContinuousClock.now
            while !stop.isStopped {
                if try ZMQSocket.poll([socket, wake], timeoutMilliseconds: 50)[0], let frames = try socket.receive(dontWait: true) {
                    let message = try WireMessage.decode(frames)
                    if let request = message.body(as: GradientRequest.self), request.iteration >= dieAtIteration {
                        died.stop()
                        socket.close()
                        return
                    }
                    if TrainingShardServer.handles(message) {
                        server.submit(message) { reply in outbox.post(reply) }
                    }
                }
                for message in outbox.drain(wake) { try socket.send(message.encode()) }
                if ContinuousClock.now - lastBeat > .milliseconds(100) {
                    try socket.send(WireMessage(Heartbeat()).encode())
                    lastBeat = .now
                }
            }
        }
    }

    func stop() { daemon.stop.stop() }
}
