import Foundation
import Logging
import Synchronization
import TailForgeTestSupport
import Testing
@testable import TailForgeCluster

/// The toy method of ``ToyBackend`` with other synthetic rows in stage 2 (honest κ): what a worker that lies
/// returns. Counts the shards it computed.
private struct LyingToyExecutor: ShardExecutor {
    final class Counter: Sendable { let value = Atomic<Int>(0) }
    let computed: Counter

    func execute(_ task: ShardTask, context: ShardContext) throws -> ShardOutcome {
        computed.value.add(1, ordering: .relaxed)
        let honest = try SlowToyExecutor(seconds: 0).execute(task, context: context)
        guard task.assignment.shard.stage == .synthesis, let path = honest.path else { return honest }
        let text = Array("forged shard \(task.assignment.shard.shard)\n".utf8)
        try Data(text).write(to: URL(fileURLWithPath: path))
        return ShardOutcome(rowsPerClass: honest.rowsPerClass, sha256: FileDigest.sha256(of: text), byteCount: Int64(text.count),
                            path: path, payload: nil)
    }
}

extension ClusterThreadTests {
    /// A `verify: spot` job resumed by a restarted coordinator from what its earlier life journaled: that life's
    /// spot state has to hold in the new one. The journal is written by the test (as the earlier life leaves it,
    /// stage 1 done), so the test decides which shards are checked and which worker computes what; coordinator
    /// and workers run on threads with ``ToyBackend``.
    @Suite struct SpotRestartTests {
        static let job = "job-spot-restart"
        static let shards = 3
        /// The toy output: shard s holds classes c ≡ s (mod 3), gathered in shard order.
        static let honestOutput = [0, 3, 1, 4, 2, 5].map { "class \($0): 6 rows\n" }.joined()

        struct Setup {
            let state: String
            let manifest: JobManifest
            let prepared: PreparedJob
            let journal: Journal
        }

        /// A state directory whose journal holds the job submitted with a seed that checks synthesis shard 0 only,
        /// planned, with every shard's κ committed (files included).
        func journaledJob(in scratch: String) throws -> Setup {
            let state = (scratch as NSString).appendingPathComponent("state")
            let data = state + "-data"  // job paths may not lie inside the state directory
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            let input = (data as NSString).appendingPathComponent("toy-input")
            #expect(FileManager.default.createFile(atPath: input, contents: Data()))
            let manifest = JobManifest(input: .init(path: input), output: (data as NSString).appendingPathComponent("out.txt"),
                                       sharding: .init(shards: Self.shards), verify: .spot)
            let seed = try #require((UInt64(0)..<1_000).first { seed in
                var spot = SpotCheck(fraction: 0.3, seed: seed)
                spot.select(.synthesis, count: Self.shards)
                return spot.selected[.synthesis] == [0]
            })
            let prepared = try ToyBackend().prepare(manifest, shardCount: Self.shards)
            let journal = try Journal(directory: state)
            try journal.append(JournalEntry(event: .submitted, job: Self.job, manifest: manifest, verification: .init(fraction: 0.3, seed: seed)))
            try journal.append(JournalEntry(event: .prepared, job: Self.job, prepared: prepared))
            let directory = (state as NSString).appendingPathComponent("jobs/\(Self.job)")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for (shard, classes) in prepared.shards.enumerated() {
                let payload = WireMessage.float32Payload(classes.flatMap { Array(repeating: Float($0.classId), count: $0.realCount) })
                let path = (directory as NSString).appendingPathComponent("kappa-\(shard).f32")
                try Data(payload).write(to: URL(fileURLWithPath: path))
                try journal.append(JournalEntry(event: .kappas, job: Self.job, shard: shard, sha256: FileDigest.sha256(of: payload), path: path))
            }
            return Setup(state: state, manifest: manifest, prepared: prepared, journal: journal)
        }

        func startCoordinator(state: String) async throws -> (TestDaemon, String) {
            var configuration = CoordinatorConfiguration(bind: "tcp://127.0.0.1:*", stateDirectory: state, toolVersion: "9.9.9",
                                                         heartbeat: HeartbeatSettings(intervalMilliseconds: 100, livenessMilliseconds: 600))
            configuration.dataRoots = try DataRoots([NSTemporaryDirectory()])
            let runtime = CoordinatorRuntime(configuration: configuration, backend: ToyBackend(), logger: Logger(label: "test.coordinator"))
            return try await TestDaemon.coordinator(runtime)
        }

        func startWorker(_ name: String, endpoint: String, state: String, executor: any ShardExecutor) throws -> TestDaemon {
            let work = (state as NSString).appendingPathComponent("worker-\(name)")
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            let configuration = WorkerConfiguration(coordinator: endpoint, workDirectory: work, threads: 1, name: name, toolVersion: "9.9.9")
            let runtime = WorkerRuntime(configuration: configuration, executor: executor, logger: Logger(label: "test.\(name)"))
            return TestDaemon(name: name) { stop in try runtime.run(until: stop) }
        }

        func status(_ endpoint: String) -> JobStatus? {
            try? ClusterClient(coordinator: endpoint, timeoutSeconds: 2).status(job: Self.job).jobs.first
        }

        /// The earlier life accepted the liar's synthesis shard 2 unconfirmed (not a checked shard). In this life the
        /// liar computes the checked shard 0 first and two honest workers contradict it: shard 2 is withdrawn too,
        /// and the output is the honest one.
        @Test func aLiarCaughtAfterTheRestartLosesTheResultItReturnedBefore() async throws {
            try await withTemporaryDirectory("spot-restart") { scratch in
                let setup = try journaledJob(in: scratch)
                let directory = (setup.state as NSString).appendingPathComponent("jobs/\(Self.job)")
                let forged = Array("forged shard 2\n".utf8)
                let forgedPath = (directory as NSString).appendingPathComponent("shard-2-liar.txt")
                try Data(forged).write(to: URL(fileURLWithPath: forgedPath))
                try setup.journal.append(JournalEntry(event: .shard, job: Self.job, shard: 2, sha256: FileDigest.sha256(of: forged), path: forgedPath,
                                                      producer: "liar"))

                let (coordinator, endpoint) = try await startCoordinator(state: setup.state)
                defer { coordinator.stop.stop() }
                let lies = LyingToyExecutor.Counter()
                var workers = [try startWorker("liar", endpoint: endpoint, state: setup.state, executor: LyingToyExecutor(computed: lies))]
                defer { for worker in workers { worker.stop.stop() } }
                // Alone, the liar is given the lowest pending shard: the checked shard 0.
                try #require(await eventually(seconds: 10) { lies.value.load(ordering: .relaxed) > 0 }, "the liar computed nothing")
                for name in ["a", "b"] {
                    workers.append(try startWorker(name, endpoint: endpoint, state: setup.state, executor: SlowToyExecutor(seconds: 0)))
                }
                let final = await eventually(seconds: 30, interval: .milliseconds(50)) { status(endpoint).flatMap { $0.state.isTerminal ? $0 : nil } }
                #expect(final?.state == .committed, "\(String(describing: final))")
                #expect(try String(contentsOfFile: setup.manifest.output, encoding: .utf8) == Self.honestOutput)

                let entries = try Journal.entries(directory: setup.state)
                #expect(entries.contains { $0.event == .rejected && $0.shard == 2 && $0.message == "synthesis" },
                        "the result of the earlier life was withdrawn: \(entries.map(\.event))")
                let verification = try #require(try ResolvedManifest.read(from: ResolvedManifest.path(forOutput: setup.manifest.output)).verification)
                #expect(verification.excluded.count == 1 && verification.excluded[0].hasPrefix("liar ("), "\(verification.excluded)")
                #expect(verification.checks.contains { $0.stage == "synthesis" && $0.shard == 0 && $0.outcome == "liar: liar" }, "\(verification.checks)")
                #expect(final?.verification?.excluded == verification.excluded, "status names the excluded worker too")
            }
        }

        /// Without a restart: the liar computes every shard first (the checked shard 0 is held, shards 1 and 2 are
        /// accepted unconfirmed), so the check that catches it completes the stage. Its results are withdrawn before
        /// the winner is committed, so the gather never starts with them.
        @Test func aLiarCaughtByTheLastCheckOfAStageHasItsResultsWithdrawnBeforeTheGather() async throws {
            try await withTemporaryDirectory("spot-restart") { scratch in
                let setup = try journaledJob(in: scratch)
                let (coordinator, endpoint) = try await startCoordinator(state: setup.state)
                defer { coordinator.stop.stop() }
                let lies = LyingToyExecutor.Counter()
                var workers = [try startWorker("liar", endpoint: endpoint, state: setup.state, executor: LyingToyExecutor(computed: lies))]
                defer { for worker in workers { worker.stop.stop() } }
                // Shards 1 and 2 committed (journaled), shard 0 held: only then may the honest workers come.
                let committed = { (try? Journal.entries(directory: setup.state).filter { $0.event == .shard }.compactMap(\.shard)) ?? [] }
                try #require(await eventually(seconds: 10) { committed().sorted() == [1, 2] }, "the liar committed \(committed()) (computed \(lies.value.load(ordering: .relaxed)))")
                for name in ["a", "b"] {
                    workers.append(try startWorker(name, endpoint: endpoint, state: setup.state, executor: SlowToyExecutor(seconds: 0)))
                }
                let final = await eventually(seconds: 30, interval: .milliseconds(50)) { status(endpoint).flatMap { $0.state.isTerminal ? $0 : nil } }
                #expect(final?.state == .committed, "\(String(describing: final))")
                #expect(try String(contentsOfFile: setup.manifest.output, encoding: .utf8) == Self.honestOutput)
                let withdrawn = try Journal.entries(directory: setup.state).filter { $0.event == .rejected }.compactMap(\.shard)
                #expect(withdrawn.sorted() == [1, 2])
            }
        }

        /// The earlier life excluded the liar. Registering again, it says it is still computing shard 0 (as a worker
        /// does across a coordinator restart): that is not adopted, it is given nothing, and the resolved manifest
        /// still names it.
        @Test func aWorkerExcludedBeforeTheRestartGetsNoShardOfTheJob() async throws {
            try await withTemporaryDirectory("spot-restart") { scratch in
                let setup = try journaledJob(in: scratch)
                try setup.journal.append(JournalEntry(event: .excluded, job: Self.job, message: "liar (address 127.0.0.1)",
                                                      excluded: ["liar", "address 127.0.0.1"]))
                let (coordinator, endpoint) = try await startCoordinator(state: setup.state)
                defer { coordinator.stop.stop() }
                let liar = try ConfinementProcessTests.Peer(endpoint, name: "liar")
                let held = ShardReference(job: Self.job, shard: 0, stage: .synthesis, attempt: 0)
                try liar.send(Hello(workerName: "liar", toolVersion: "9.9.9", host: "localhost", processId: 1, threads: 1, busyWith: held))
                _ = try #require(try await liar.next(Welcome.self), "the liar was not welcomed")
                // Two honest workers, so the checked shard 0 is verified without waiting for a worker that never comes.
                let honest = try ["a", "b"].map { try startWorker($0, endpoint: endpoint, state: setup.state, executor: SlowToyExecutor(seconds: 0)) }
                defer { for worker in honest { worker.stop.stop() } }

                var assigned: [ShardReference] = []
                var heartbeats = 0
                let final = try await eventually(seconds: 30, interval: .milliseconds(50)) { () throws -> JobStatus? in
                    while let frames = try liar.socket.receive(dontWait: true) {
                        if let assignment = try WireMessage.decode(frames).body(as: AssignShard.self) { assigned.append(assignment.shard) }
                    }
                    // Still busy with shard 0 for a while (each heartbeat offers it again), then idle.
                    heartbeats += 1
                    try liar.send(Heartbeat(busyWith: heartbeats < 10 ? held : nil))
                    return status(endpoint).flatMap { $0.state.isTerminal ? $0 : nil }
                }
                #expect(final?.state == .committed, "\(String(describing: final))")
                #expect(assigned.isEmpty, "\(assigned)")
                #expect(try String(contentsOfFile: setup.manifest.output, encoding: .utf8) == Self.honestOutput)
                let verification = try #require(try ResolvedManifest.read(from: ResolvedManifest.path(forOutput: setup.manifest.output)).verification)
                #expect(verification.excluded == ["liar (address 127.0.0.1)"])
                #expect(final?.verification == SpotSummary(confirmed: 1, unverified: 0, excluded: ["liar (address 127.0.0.1)"]))
            }
        }
    }
}
