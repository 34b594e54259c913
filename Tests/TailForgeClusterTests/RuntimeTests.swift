import Foundation
import Logging
import Synchronization
import TailForgeNumerics
import TailForgeTestSupport
import Testing
@testable import TailForgeCluster

/// A backend with a toy method: class c has c + 1 real rows, κ = c, and a shard file lists its classes.
struct ToyBackend: JobBackend {
    func prepare(_ manifest: JobManifest, shardCount: Int) throws -> PreparedJob {
        let classes = (0..<6).map { ClassTask(classId: $0, realCount: $0 + 1, keptCount: $0 + 1, syntheticCount: 6 - ($0 + 1)) }
        let shards = (0..<shardCount).map { s in classes.filter { $0.classId % shardCount == s } }
        return PreparedJob(inputSHA256: "toy", inputBytes: 0, classCount: 6, dimension: 1, totalRows: 36,
                           shards: shards, shardCosts: shards.map { Double($0.count) })
    }

    func synthesisKappas(_ manifest: JobManifest, _ job: PreparedJob, stageOne: [[Float]]) throws -> (kappas: [[Float]], fallback: Float?) {
        (stageOne, 1)
    }

    func gather(_ manifest: JobManifest, _ job: PreparedJob, shards: [ShardFile], kappas: [[Float]], fallback: Float?) throws -> GatherReport {
        var bytes = [UInt8]()
        for shard in shards {
            let data = try Data(contentsOf: URL(fileURLWithPath: shard.path))
            bytes += data
        }
        try Data(bytes).write(to: URL(fileURLWithPath: manifest.output))
        return GatherReport(outputSHA256: FileDigest.sha256(of: bytes), rows: job.totalRows, fallbackKappa: fallback)
    }
}

/// Computes the toy method slowly, to prove heartbeats do not wait for compute.
struct SlowToyExecutor: ShardExecutor {
    var seconds: Double

    func execute(_ task: ShardTask, context: ShardContext) throws -> ShardOutcome {
        Thread.sleep(forTimeInterval: seconds)
        let classes = task.assignment.classes
        switch task.assignment.shard.stage {
        case .concentrations:
            let payload = WireMessage.float32Payload(classes.flatMap { Array(repeating: Float($0.classId), count: $0.realCount) })
            return ShardOutcome(rowsPerClass: classes.map(\.realCount), sha256: FileDigest.sha256(of: payload),
                                byteCount: Int64(payload.count), path: nil, payload: payload)
        case .synthesis:
            #expect(task.kappas == classes.flatMap { Array(repeating: Float($0.classId), count: $0.realCount) })
            let text = classes.map { "class \($0.classId): \($0.outputCount) rows\n" }.joined()
            let path = (task.outputDirectory as NSString).appendingPathComponent("shard-\(task.assignment.shard.shard).txt")
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return ShardOutcome(rowsPerClass: classes.map(\.outputCount), sha256: FileDigest.sha256(of: Array(text.utf8)),
                                byteCount: Int64(text.utf8.count), path: path, payload: nil)
        }
    }
}

/// Fast in stage 1; in stage 2 computes `seconds` without looking at cancellation, then writes its shard file
/// (counted in `finished`), like a worker whose class is one long uninterruptible step.
private struct LateSynthesisExecutor: ShardExecutor {
    final class Counter: Sendable { let value = Atomic<Int>(0) }
    var seconds: Double
    let finished: Counter

    func execute(_ task: ShardTask, context: ShardContext) throws -> ShardOutcome {
        if task.assignment.shard.stage == .synthesis { Thread.sleep(forTimeInterval: seconds) }
        let outcome = try SlowToyExecutor(seconds: 0).execute(task, context: context)
        if task.assignment.shard.stage == .synthesis, seconds > 0 { finished.value.add(1, ordering: .relaxed) }
        return outcome
    }
}

extension ClusterThreadTests {
    @Suite struct RuntimeTests {
        /// A coordinator's state directory inside a test's temporary directory, whose jobs' files go beside it.
        private func stateDirectory(in scratch: String) throws -> String {
            let path = (scratch as NSString).appendingPathComponent("state")
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }

        private func startCoordinator(state: String, heartbeat: HeartbeatSettings = HeartbeatSettings(intervalMilliseconds: 100, livenessMilliseconds: 600)) async throws -> (TestDaemon, String) {
            var configuration = CoordinatorConfiguration(bind: "tcp://127.0.0.1:*", stateDirectory: state, toolVersion: "9.9.9",
                                                         heartbeat: heartbeat)
            configuration.dataRoots = try DataRoots([NSTemporaryDirectory()])
            let runtime = CoordinatorRuntime(configuration: configuration, backend: ToyBackend(), logger: Logger(label: "test.coordinator"))
            return try await TestDaemon.coordinator(runtime)
        }

        /// A waiter that first runs again after its deadline (a starved task on a busy machine) still sees an endpoint
        /// written meanwhile: a zero wait is the extreme case, and gave up without looking.
        @Test func waitingForAnEndpointLooksOnceMoreAtTheDeadline() async throws {
            try await withTemporaryDirectory("cluster") { scratch in
                let state = try stateDirectory(in: scratch)
                #expect(await CoordinatorRuntime.waitForEndpoint(stateDirectory: state, seconds: 0) == nil)
                try Data("tcp://127.0.0.1:5555\n".utf8).write(to: URL(fileURLWithPath: CoordinatorRuntime.endpointFile(stateDirectory: state)))
                #expect(await CoordinatorRuntime.waitForEndpoint(stateDirectory: state, seconds: 0) == "tcp://127.0.0.1:5555")
            }
        }

        /// Sends `frames` and waits (suspending) for the one reply.
        private func request(_ socket: ZMQSocket, _ frames: [[UInt8]]) async throws -> WireMessage {
            try socket.send(frames)
            let reply = try await eventually(seconds: 5) { try socket.receive(dontWait: true) }
            return try WireMessage.decode(try #require(reply, "no reply"))
        }

        /// Polls the coordinator's status of `job` until it ends.
        private func waitForJob(_ job: String, client: ZMQSocket, seconds: Double = 30) async throws -> JobStatus? {
            let deadline = ContinuousClock.now + .seconds(seconds)
            var last: JobStatus?
            while ContinuousClock.now < deadline {
                last = try await request(client, WireMessage(StatusRequest(job: job)).encode()).body(as: StatusReply.self)?.jobs.first
                if last?.state.isTerminal == true { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            return last
        }

        /// The one bad-frames test: every malformed envelope of `WireMessageTests.malformed` (that a DEALER can send)
        /// and two messages wrong for their sender each get an `ErrorReply` with the decoder's code, and the
        /// coordinator keeps serving.
        @Test func coordinatorAnswersMalformedFramesWithErrorsAndKeepsServing() async throws {
            try await withTemporaryDirectory("cluster") { scratch in
                let state = try stateDirectory(in: scratch)
                let (coordinator, endpoint) = try await startCoordinator(state: state)
                defer { coordinator.stop.stop() }
                let client = try SocketFactory(context: ZMQContext()).makeDealer(connecting: endpoint, identity: Array("client".utf8))
                let oversizedHeader = [UInt8](repeating: UInt8(ascii: " "), count: WireLimits().maxHeaderBytes + 1)
                let good = WireMessage(StatusRequest(job: nil)).encode()
                let cases: [(String, [[UInt8]], String)] = WireMessageTests.malformed.filter { !$0.1.isEmpty } + [
                    ("oversized header", [good[0], good[1], oversizedHeader], "oversized"),
                    ("heartbeat before hello", WireMessage(Heartbeat()).encode(), "not-registered"),
                    ("a coordinator's message", WireMessage(Welcome(workerId: "x", toolVersion: "1", heartbeatIntervalMilliseconds: 1, livenessMilliseconds: 1)).encode(), "unexpected-message"),
                ]
                for (name, frames, code) in cases {
                    let reply = try await request(client, frames)
                    #expect(reply.body(as: ErrorReply.self)?.code == code, "\(name)")
                }
                let status = try await request(client, good)
                #expect(status.body(as: StatusReply.self) == StatusReply(jobs: [], workers: [], toolVersion: "9.9.9", blasCore: BLAS.coreName),
                        "the status names the coordinator's version and OpenBLAS kernel family")
                #expect(coordinator.isRunning)
            }
        }

        /// The one tool-version test: the refusal is the worker's typed outcome and names both releases.
        @Test func workerWithAnotherToolVersionIsRefusedWithBothVersions() async throws {
            try await withTemporaryDirectory("cluster") { scratch in
                let state = try stateDirectory(in: scratch)
                let (coordinator, endpoint) = try await startCoordinator(state: state)
                defer { coordinator.stop.stop() }
                let configuration = WorkerConfiguration(coordinator: endpoint, workDirectory: state, threads: 1, name: "old", toolVersion: "0.0.1")
                let worker = WorkerRuntime(configuration: configuration, executor: SlowToyExecutor(seconds: 0), logger: Logger(label: "test.worker"))
                let daemon = TestDaemon(name: "worker") { stop in try worker.run(until: stop) }
                defer { daemon.stop.stop() }
                let outcome = try #require(await daemon.finished(), "the refused worker kept running")
                guard case .failure(WorkerError.refused(let reason)) = outcome else { Issue.record("not refused: \(outcome)"); return }
                #expect(reason.contains("0.0.1") && reason.contains("9.9.9"), "\(reason)")
            }
        }

        @Test func busyWorkersStayAliveAndATwoStageJobCommitsInShardOrder() async throws {
            try await withTemporaryDirectory("cluster") { scratch in
                let state = try stateDirectory(in: scratch)
                // Each shard computes for 1 s, longer than the 600 ms liveness window: only heartbeats from the network
                // thread keep the workers registered.
                let (coordinator, endpoint) = try await startCoordinator(state: state)
                defer { coordinator.stop.stop() }
                var workers: [TestDaemon] = []
                for index in 0..<2 {
                    let work = (state as NSString).appendingPathComponent("worker\(index)")
                    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
                    let configuration = WorkerConfiguration(coordinator: endpoint, workDirectory: work, threads: 1, name: "w\(index)", toolVersion: "9.9.9")
                    let runtime = WorkerRuntime(configuration: configuration, executor: SlowToyExecutor(seconds: 1), logger: Logger(label: "test.worker"))
                    workers.append(TestDaemon(name: "worker") { stop in try runtime.run(until: stop) })
                }
                defer { for worker in workers { worker.stop.stop() } }
                let client = try SocketFactory(context: ZMQContext()).makeDealer(connecting: endpoint, identity: Array("client".utf8))
                // Job files live beside the state directory: paths inside it are refused.
                let data = state + "-data"
                try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
                let output = (data as NSString).appendingPathComponent("out.txt")
                // The toy backend never opens the input, but the coordinator checks at submit that it is a readable file.
                let input = (data as NSString).appendingPathComponent("toy-input")
                #expect(FileManager.default.createFile(atPath: input, contents: Data()))
                let manifest = JobManifest(input: .init(path: input), output: output, sharding: .init(shards: 3))
                let accepted = try #require(try await request(client, WireMessage(SubmitJob(manifest: manifest)).encode()).body(as: JobAccepted.self))
                let last = try await waitForJob(accepted.job, client: client)
                #expect(last?.state == .committed, "\(String(describing: last))")
                let text = try String(contentsOfFile: output, encoding: .utf8)
                // Shard s holds classes c ≡ s (mod 3); the gather concatenates shards in shard order.
                #expect(text == [0, 3, 1, 4, 2, 5].map { "class \($0): 6 rows\n" }.joined())
                let resolved = try ResolvedManifest.read(from: ResolvedManifest.path(forOutput: output))
                #expect(resolved.shards.map(\.classes) == [[0, 3], [1, 4], [2, 5]])
                #expect(resolved.outputSHA256 == FileDigest.sha256(of: Array(text.utf8)))
                let journal = try Journal.entries(directory: state).map(\.event)
                #expect(journal.first == .submitted && journal.last == .committed)
                #expect(journal.filter { $0 == .kappas }.count == 3 && journal.filter { $0 == .shard }.count == 3)
            }
        }

        @Test func aTimedOutAttemptThatFinishesAnywayLeavesNoFileOnItsWorker() async throws {
            try await withTemporaryDirectory("cluster") { scratch in
                let state = try stateDirectory(in: scratch)
                let (coordinator, endpoint) = try await startCoordinator(state: state)
                defer { coordinator.stop.stop() }
                // "a-slow" is picked first and synthesises 2 s without looking at cancellation, past the 1 s timeout.
                var workers: [TestDaemon] = []
                let slowFinished = LateSynthesisExecutor.Counter()
                for (name, seconds) in [("a-slow", 2.0), ("b-fast", 0.0)] {
                    let work = (state as NSString).appendingPathComponent(name)
                    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
                    let configuration = WorkerConfiguration(coordinator: endpoint, workDirectory: work, threads: 1, name: name, toolVersion: "9.9.9")
                    let runtime = WorkerRuntime(configuration: configuration, executor: LateSynthesisExecutor(seconds: seconds, finished: slowFinished),
                                                logger: Logger(label: "test.\(name)"))
                    workers.append(TestDaemon(name: name) { stop in try runtime.run(until: stop) })
                }
                defer { for worker in workers { worker.stop.stop() } }
                let client = try SocketFactory(context: ZMQContext()).makeDealer(connecting: endpoint, identity: Array("client".utf8))
                try #require(try await LocalCluster.waitForWorkers(2, coordinator: endpoint, seconds: 10))
                let data = state + "-data"  // outside the state directory, where job paths are refused
                try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
                let output = (data as NSString).appendingPathComponent("out.txt")
                let input = (data as NSString).appendingPathComponent("toy-input")
                #expect(FileManager.default.createFile(atPath: input, contents: Data()))
                let manifest = JobManifest(input: .init(path: input), output: output, sharding: .init(shards: 3, shardTimeoutSeconds: 1))
                let accepted = try #require(try await request(client, WireMessage(SubmitJob(manifest: manifest)).encode()).body(as: JobAccepted.self))
                let last = try await waitForJob(accepted.job, client: client)
                #expect(last?.state == .committed, "\(String(describing: last))")
                #expect(try String(contentsOfFile: output, encoding: .utf8) == [0, 3, 1, 4, 2, 5].map { "class \($0): 6 rows\n" }.joined())
                // The slow worker's late shard file was written after its attempt timed out, then deleted where it landed.
                _ = await eventually(seconds: 10) { slowFinished.value.load(ordering: .relaxed) > 0 }
                try #require(slowFinished.value.load(ordering: .relaxed) > 0, "the slow worker never finished a synthesis shard")
                let slow = (state as NSString).appendingPathComponent("a-slow")
                _ = try await eventually(seconds: 5) { try FileManager.default.contentsOfDirectory(atPath: slow).isEmpty }
                let left = try FileManager.default.contentsOfDirectory(atPath: slow)
                #expect(left.isEmpty, "\(left)")
            }
        }
    }
}
