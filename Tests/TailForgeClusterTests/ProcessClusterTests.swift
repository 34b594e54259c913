import Foundation
import TailForgeTestSupport
import Testing
import TailForgeEngine
import TailForgeStorage
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// The daemons as real processes on loopback: the `tailforge` executable built beside this test bundle runs the
    /// coordinator and workers; tests crash them with SIGKILL and check the output bytes and the journal.
    ///
    /// Shards are slowed with `EngineShardExecutor.testDelayVariable` (100 ms per class) so a worker or the
    /// coordinator can be killed while a shard is in flight.
    @Suite struct ProcessClusterTests {
        static let slowShards = [EngineShardExecutor.testDelayVariable: "100"]

        /// One input and reference for the whole suite: generating and balancing it is most of a test's time.
        static let sharedFixture = Task { try await Fixture() }
        static func shared() async throws -> Fixture { try await sharedFixture.value }

        /// A generated `small` input, its single-node `tailforge balance` output digest, and a scratch directory.
        struct Fixture: Sendable {
            /// Shared by the suite's tests through a `static`: removed when the test process exits.
            let scratch = TemporaryDirectory.removedAtExit("process")
            var directory: String { scratch.path }
            let executable: String
            let input: String
            let referenceSHA256: String
            let seed: UInt64 = 11

            init() async throws {
                executable = try #require(LocalCluster.siblingExecutable(), "build the tailforge executable (swift build --build-tests)")
                input = try SyntheticPreset.small.write(to: (scratch.path as NSString).appendingPathComponent("data"), seed: 5).train
                let reference = (scratch.path as NSString).appendingPathComponent("single.h5")
                let balance = try await Child.run(executable, ["balance", input, "--output", reference, "--seed", "\(seed)", "--threads", "2"])
                #expect(balance.status == 0, "\(balance.stderr)")
                referenceSHA256 = try SHA256.hexDigest(ofFileAt: reference)
            }

            func manifest(output name: String, shards: Int) -> JobManifest {
                JobManifest(name: name, input: .init(path: input), output: (directory as NSString).appendingPathComponent(name),
                            policy: BalanceSettings(seed: seed), sharding: .init(shards: shards))
            }

            /// `manifest(output:shards:)` whose workers write their shards into a new shared shard directory, where
            /// the coordinator reads (and checks) them in place instead of fetching copies.
            func manifestWithSharedShards(output name: String, shards: Int) throws -> JobManifest {
                var manifest = manifest(output: name, shards: shards)
                let shared = (directory as NSString).appendingPathComponent("shared-\(UUID().uuidString)")
                try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
                manifest.transfer.sharedShardDirectory = shared
                return manifest
            }

            func cluster(environment: [String: String] = [:]) -> LocalCluster {
                let cluster = LocalCluster(executable: executable, directory: (directory as NSString).appendingPathComponent("cluster-\(UUID().uuidString)"),
                                           environment: environment, heartbeatMilliseconds: 100, livenessMilliseconds: 1_000)
                cluster.dataRoots = [directory]
                return cluster
            }

            /// Runs `tailforge ARGUMENTS` to its end; its exit status and standard error.
            func runToExit(_ arguments: [String]) async throws -> (status: Int32, stderr: String) {
                let run = try await Child.run(executable, arguments)
                return (run.status, run.stderr)
            }

            func journal(_ cluster: LocalCluster) throws -> [JournalEntry] {
                try Journal.entries(directory: cluster.stateDirectory)
            }
        }

        /// Polls the coordinator until the job ends.
        static func waitForJob(_ id: String, on endpoint: String, security: SocketSecurity = .plaintext, seconds: Double = 40) async throws -> JobStatus? {
            var last: JobStatus?
            _ = await eventually(seconds: seconds, interval: .milliseconds(50)) {
                if let reply = try? ClusterClient(coordinator: endpoint, timeoutSeconds: 2, security: security).status(job: id) { last = reply.jobs.first }
                return last?.state.isTerminal == true
            }
            return last
        }

        /// The index of a worker the coordinator lists as computing a shard (of `stage`, if given).
        static func busyWorker(_ client: ClusterClient, job: String, stage: ShardStage? = nil) async throws -> Int? {
            try await eventually(seconds: 30, interval: .milliseconds(20)) {
                try client.status(job: job).workers.first { $0.busyWith != nil && (stage == nil || $0.busyWith?.stage == stage) }
                    .flatMap { Int($0.name.dropFirst("local".count)) }
            }
        }

        @Test func threeWorkersWriteTheSameBytesAsSingleNodeBalanceAndReplayLocally() async throws {
            let fixture = try await Self.shared()
            let cluster = fixture.cluster()
            defer { cluster.stop() }
            try await cluster.start(workers: 3)
            var manifest = fixture.manifest(output: "three.h5", shards: 7)
            manifest.transfer.streamInput = true  // workers fetch the input in checksummed chunks; shards come back the same way
            let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)
            let final = try #require(try await Self.waitForJob(job, on: cluster.endpoint))
            #expect(final.state == .committed, "\(final.error ?? "")")
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)

            let resolvedPath = ResolvedManifest.path(forOutput: manifest.output)
            let resolved = try ResolvedManifest.read(from: resolvedPath)
            #expect(resolved.outputSHA256 == fixture.referenceSHA256)
            // The content digests the gather took while writing are those of the single-node output read back.
            let singleNode = (fixture.directory as NSString).appendingPathComponent("single.h5")
            #expect(resolved.outputContentSHA256 == (try BalancedContentDigest.compute(ofFileAt: singleNode)))
            #expect(resolved.shards.count == 7 && Set(resolved.shards.flatMap(\.classes)) == Set(0..<20))
            // Fetched shard copies and κ files are gone from the coordinator, served shards from the workers; the
            // streamed input stays in each worker's cache.
            #expect(await ClusterFaultTests.waitForNoLeftovers(cluster).isEmpty, "\(ClusterFaultTests.leftovers(cluster))")

            for (mode, name) in [(["--local", "--threads", "2"], "local.h5"), (["--coordinator", cluster.endpoint], "cluster.h5")] {
                let replayed = (fixture.directory as NSString).appendingPathComponent("replay-" + name)
                let replay = try await Child.run(fixture.executable, ["replay", resolvedPath, "--output", replayed] + mode)
                #expect(replay.status == 0, "replay \(mode): \(replay.stderr)")
                #expect(try SHA256.hexDigest(ofFileAt: replayed) == fixture.referenceSHA256)
            }
        }

        /// `layout: compact` in a manifest: two worker processes with their own work directories, the committed file
        /// (and the set's identity) is single-node `balance --layout compact`'s bytes, no shard byte crossed the
        /// network (the coordinator's `received/shard` counter and the workers' `sent/shard` stay 0: the coordinator
        /// derives the file from the input and the κ), and `replay --local` reruns it compact and verifies both digests.
        @Test func aCompactJobWritesTheSingleNodeCompactBytesFetchesNoShardAndReplays() async throws {
            let fixture = try await Self.shared()
            let cluster = fixture.cluster()
            cluster.coordinatorArguments = ["--metrics-bind", "127.0.0.1:0"]
            cluster.workerArguments = ["--metrics-bind", "127.0.0.1:0"]
            defer { cluster.stop() }
            try await cluster.start(workers: 2)
            let metricsFile = { (directory: String) in HTTPListener.endpointFile(directory: directory, flag: "--metrics-bind") }
            let coordinatorMetrics = try #require(await ObservabilityProcessTests.endpoint(metricsFile(cluster.stateDirectory)))
            var workerMetrics: [String] = []
            for index in 0..<2 { workerMetrics.append(try #require(await ObservabilityProcessTests.endpoint(metricsFile(cluster.workDirectory(index))))) }
            var manifest = fixture.manifest(output: "compact-job.h5", shards: 5)
            manifest.layout = .compact
            let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)
            let final = try #require(try await Self.waitForJob(job, on: cluster.endpoint))
            #expect(final.state == .committed, "\(final.error ?? "")")
            let single = (fixture.directory as NSString).appendingPathComponent("single-compact.h5")
            let balance = try await Child.run(fixture.executable, ["balance", fixture.input, "--output", single, "--seed", "\(fixture.seed)", "--layout", "compact"])
            #expect(balance.status == 0, "\(balance.stderr)")
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == SHA256.hexDigest(ofFileAt: single))
            let identity = { (path: String) in try HDF5File.open(path: path).rootAttributes()[BalancedSetIdentity.attributeName]?.stringValue }
            #expect(try identity(manifest.output) != nil && identity(manifest.output) == identity(single))
            let resolvedPath = ResolvedManifest.path(forOutput: manifest.output)
            let resolved = try ResolvedManifest.read(from: resolvedPath)
            #expect(resolved.manifest.layout == .compact)
            #expect(resolved.outputContentSHA256 == (try BalancedContentDigest.compute(ofFileAt: single)))
            #expect(resolved.shards.count == 5 && resolved.shards.allSatisfy { $0.sha256.count == 64 && ($0.bytes ?? 0) > 0 },
                    "the workers' shard digests are recorded as before: \(resolved.shards)")
            let scraped = try await ObservabilityProcessTests.scrape(coordinatorMetrics)
            #expect((scraped.value("tailforge_bytes_moved_total", ["direction": "received", "what": "shard"]) ?? 0) == 0,
                    "the coordinator fetched shard bytes of a compact job")
            for worker in workerMetrics {
                let sent = try await ObservabilityProcessTests.scrape(worker)
                #expect((sent.value("tailforge_bytes_moved_total", ["direction": "sent", "what": "shard"]) ?? 0) == 0)
            }

            // Replay exits 0 only when the file and every dataset's content digest match.
            let replayed = (fixture.directory as NSString).appendingPathComponent("replay-compact.h5")
            let replay = try await Child.run(fixture.executable, ["replay", resolvedPath, "--output", replayed, "--local", "--threads", "2"])
            #expect(replay.status == 0, "\(replay.stdout)\(replay.stderr)")
            #expect(try SHA256.hexDigest(ofFileAt: replayed) == SHA256.hexDigest(ofFileAt: single))
        }

        @Test func workerKilledMidShardStillGivesTheSameBytes() async throws {
            let fixture = try await Self.shared()
            let cluster = fixture.cluster(environment: Self.slowShards)
            defer { cluster.stop() }
            try await cluster.start(workers: 2)
            var manifest = fixture.manifest(output: "killed-worker.h5", shards: 4)
            manifest.transfer.sharedShardDirectory = (cluster.directory as NSString).appendingPathComponent("shared-shards")
            let client = try ClusterClient(coordinator: cluster.endpoint)
            let job = try client.submit(manifest)

            let index = try #require(try await Self.busyWorker(client, job: job, stage: .synthesis), "no worker was seen computing a synthesis shard")
            await cluster.crashWorker(index)

            let final = try #require(try await Self.waitForJob(job, on: cluster.endpoint))
            #expect(final.state == .committed, "\(final.error ?? "")")
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)
            // The coordinator dropped the dead worker (its shard went to the other one).
            #expect(try client.status().workers.map(\.name) == ["local\(1 - index)"])
        }

        @Test func workerStoppedWithSIGTERMHandsItsShardBackAndExitsCleanly() async throws {
            let fixture = try await Self.shared()
            let cluster = fixture.cluster(environment: Self.slowShards)
            defer { cluster.stop() }
            try await cluster.start(workers: 2)
            let manifest = fixture.manifest(output: "sigterm-worker.h5", shards: 4)
            let client = try ClusterClient(coordinator: cluster.endpoint)
            let job = try client.submit(manifest)
            let index = try #require(try await Self.busyWorker(client, job: job))
            LocalCluster.signal(cluster.workers[index], SIGTERM)
            await LocalCluster.exited(cluster.workers[index])
            #expect(cluster.workers[index].terminationReason == .exit && cluster.workers[index].terminationStatus == 0)

            let final = try #require(try await Self.waitForJob(job, on: cluster.endpoint))
            #expect(final.state == .committed, "\(final.error ?? "")")
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)
            #expect(try client.status().workers.map(\.name) == ["local\(1 - index)"])
        }

        @Test func coordinatorKilledAndRestartedResumesWithoutRedoingCommittedShards() async throws {
            let fixture = try await Self.shared()
            let cluster = fixture.cluster(environment: Self.slowShards)
            defer { cluster.stop() }
            try await cluster.start(workers: 2)
            let manifest = fixture.manifest(output: "restarted.h5", shards: 8)
            let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)

            _ = try await eventually(seconds: 30) { try fixture.journal(cluster).filter { $0.event == .shard }.count >= 2 }
            await cluster.crashCoordinator()
            let entries = try fixture.journal(cluster)
            let committedBefore = Set(entries.filter { $0.event == .shard }.compactMap(\.shard))
            try #require(committedBefore.count >= 2 && committedBefore.count < 8, "killed too late: \(committedBefore.sorted())")
            #expect(!entries.contains { $0.event == .committed })

            let endpoint = cluster.endpoint
            try await cluster.startCoordinator(bind: endpoint)
            let final = try #require(try await Self.waitForJob(job, on: cluster.endpoint))
            #expect(final.state == .committed, "\(final.error ?? "")\n\((try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? "")")
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)

            let shardEvents = try fixture.journal(cluster).filter { $0.event == .shard }.compactMap(\.shard)
            // Each shard committed exactly once: those committed before the crash were not recomputed.
            #expect(shardEvents.sorted() == Array(0..<8))
        }
    }
}
