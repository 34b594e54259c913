import Foundation
import Testing
import TailForgeEngine
import TailForgeStorage
@testable import TailForgeCluster

/// The daemons as real processes on loopback: the `tailforge` executable built beside this test bundle runs the
/// coordinator and workers; tests crash them with SIGKILL and check the output bytes and the journal.
///
/// Shards are slowed with `EngineShardExecutor.testDelayVariable` (100 ms per class) so a worker or the
/// coordinator can be killed while a shard is in flight.
@Suite(.serialized) struct ProcessClusterTests {
    static let slowShards = [EngineShardExecutor.testDelayVariable: "100"]

    /// One input and reference for the whole suite: generating and balancing it is most of a test's time.
    static let shared = Result { try Fixture() }

    /// A generated `small` input, its single-node `tailforge balance` output digest, and a scratch directory.
    struct Fixture {
        let directory: String
        let executable: String
        let input: String
        let referenceSHA256: String
        let seed: UInt64 = 11

        init() throws {
            directory = NSTemporaryDirectory() + "tailforge-process-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            executable = try #require(LocalCluster.siblingExecutable(), "build the tailforge executable (swift build --build-tests)")
            input = try SyntheticPreset.small.write(to: (directory as NSString).appendingPathComponent("data"), seed: 5).train
            let reference = (directory as NSString).appendingPathComponent("single.h5")
            let balance = Process()
            balance.executableURL = URL(fileURLWithPath: executable)
            balance.arguments = ["balance", input, "--output", reference, "--seed", "\(seed)", "--threads", "2"]
            balance.standardOutput = FileHandle.nullDevice
            balance.standardError = FileHandle.nullDevice
            try balance.run()
            balance.waitUntilExit()
            #expect(balance.terminationStatus == 0)
            referenceSHA256 = try SHA256.hexDigest(ofFileAt: reference)
        }

        func manifest(output name: String, shards: Int) -> JobManifest {
            JobManifest(name: name, input: .init(path: input), output: (directory as NSString).appendingPathComponent(name),
                        policy: BalanceSettings(seed: seed), sharding: .init(shards: shards))
        }

        func cluster(environment: [String: String] = [:]) -> LocalCluster {
            let cluster = LocalCluster(executable: executable, directory: (directory as NSString).appendingPathComponent("cluster-\(UUID().uuidString)"),
                                       environment: environment, heartbeatMilliseconds: 100, livenessMilliseconds: 1_000)
            cluster.dataRoots = [directory]
            return cluster
        }

        /// Runs `tailforge ARGUMENTS` to its end; its exit status and standard error.
        func runToExit(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let errors = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, text)
        }

        func journal(_ cluster: LocalCluster) throws -> [JournalEntry] {
            try Journal.entries(directory: cluster.stateDirectory)
        }
    }

    /// Polls the coordinator until the job ends.
    func waitForJob(_ id: String, on endpoint: String, seconds: Double = 40) throws -> JobStatus? {
        let deadline = Date().addingTimeInterval(seconds)
        var last: JobStatus?
        while Date() < deadline {
            if let reply = try? ClusterClient(coordinator: endpoint, timeoutSeconds: 2).status(job: id) {
                last = reply.jobs.first
                if last?.state.isTerminal == true { return last }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return last
    }

    @Test func threeWorkersWriteTheSameBytesAsSingleNodeBalanceAndReplayLocally() throws {
        let fixture = try Self.shared.get()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try cluster.start(workers: 3)
        var manifest = fixture.manifest(output: "three.h5", shards: 7)
        manifest.transfer.streamInput = true  // workers fetch the input in checksummed chunks; shards come back the same way
        let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)
        let final = try #require(try waitForJob(job, on: cluster.endpoint))
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
        #expect(ClusterFaultTests.waitForNoLeftovers(cluster).isEmpty, "\(ClusterFaultTests.leftovers(cluster))")

        for (mode, name) in [(["--local", "--threads", "2"], "local.h5"), (["--coordinator", cluster.endpoint], "cluster.h5")] {
            let replayed = (fixture.directory as NSString).appendingPathComponent("replay-" + name)
            let replay = Process()
            replay.executableURL = URL(fileURLWithPath: fixture.executable)
            replay.arguments = ["replay", resolvedPath, "--output", replayed] + mode
            let stdout = Pipe()
            replay.standardOutput = stdout
            replay.standardError = FileHandle.nullDevice
            try replay.run()
            let printed = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            replay.waitUntilExit()
            #expect(replay.terminationStatus == 0, "replay \(mode)")
            #expect(printed.contains("content SHA-256 of every dataset matches"), "\(printed)")
            #expect(try SHA256.hexDigest(ofFileAt: replayed) == fixture.referenceSHA256)
        }
    }

    /// `layout: compact` in a manifest: two worker processes, the committed file is single-node
    /// `balance --layout compact`'s bytes, and `replay --local` reruns it compact and verifies both digests.
    @Test func aCompactJobWritesTheSingleNodeCompactBytesAndReplays() throws {
        let fixture = try Self.shared.get()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try cluster.start(workers: 2)
        var manifest = fixture.manifest(output: "compact-job.h5", shards: 5)
        manifest.layout = .compact
        let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)
        let final = try #require(try waitForJob(job, on: cluster.endpoint))
        #expect(final.state == .committed, "\(final.error ?? "")")
        let single = (fixture.directory as NSString).appendingPathComponent("single-compact.h5")
        let balance = Process()
        balance.executableURL = URL(fileURLWithPath: fixture.executable)
        balance.arguments = ["balance", fixture.input, "--output", single, "--seed", "\(fixture.seed)", "--layout", "compact"]
        balance.standardOutput = FileHandle.nullDevice
        balance.standardError = FileHandle.nullDevice
        try balance.run()
        balance.waitUntilExit()
        #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == SHA256.hexDigest(ofFileAt: single))
        let resolvedPath = ResolvedManifest.path(forOutput: manifest.output)
        #expect(try ResolvedManifest.read(from: resolvedPath).manifest.layout == .compact)

        let replayed = (fixture.directory as NSString).appendingPathComponent("replay-compact.h5")
        let replay = Process()
        replay.executableURL = URL(fileURLWithPath: fixture.executable)
        replay.arguments = ["replay", resolvedPath, "--output", replayed, "--local", "--threads", "2"]
        let stdout = Pipe()
        replay.standardOutput = stdout
        replay.standardError = FileHandle.nullDevice
        try replay.run()
        let printed = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        replay.waitUntilExit()
        #expect(replay.terminationStatus == 0 && printed.contains("content SHA-256 of every dataset matches"), "\(printed)")
        #expect(try SHA256.hexDigest(ofFileAt: replayed) == SHA256.hexDigest(ofFileAt: single))
    }

    @Test func workerKilledMidShardStillGivesTheSameBytes() throws {
        let fixture = try Self.shared.get()
        let cluster = fixture.cluster(environment: Self.slowShards)
        defer { cluster.stop() }
        try cluster.start(workers: 2)
        var manifest = fixture.manifest(output: "killed-worker.h5", shards: 4)
        manifest.transfer.sharedShardDirectory = (cluster.directory as NSString).appendingPathComponent("shared-shards")
        let client = try ClusterClient(coordinator: cluster.endpoint)
        let job = try client.submit(manifest)

        var victim: Int?
        let deadline = Date().addingTimeInterval(30)
        while victim == nil, Date() < deadline {
            let busy = try client.status(job: job).workers.first { $0.busyWith?.stage == .synthesis }
            victim = busy.flatMap { Int($0.name.dropFirst("local".count)) }
            if victim == nil { Thread.sleep(forTimeInterval: 0.02) }
        }
        let index = try #require(victim, "no worker was seen computing a synthesis shard")
        cluster.crashWorker(index)

        let final = try #require(try waitForJob(job, on: cluster.endpoint))
        #expect(final.state == .committed, "\(final.error ?? "")")
        #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)
        let log = try String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)
        #expect(log.contains("worker local\(index) lost"))
    }

    @Test func workerStoppedWithSIGTERMHandsItsShardBackAndExitsCleanly() throws {
        let fixture = try Self.shared.get()
        let cluster = fixture.cluster(environment: Self.slowShards)
        defer { cluster.stop() }
        try cluster.start(workers: 2)
        let manifest = fixture.manifest(output: "sigterm-worker.h5", shards: 4)
        let client = try ClusterClient(coordinator: cluster.endpoint)
        let job = try client.submit(manifest)
        var busy: Int?
        let deadline = Date().addingTimeInterval(30)
        while busy == nil, Date() < deadline {
            busy = try client.status(job: job).workers.first { $0.busyWith != nil }.flatMap { Int($0.name.dropFirst("local".count)) }
            if busy == nil { Thread.sleep(forTimeInterval: 0.02) }
        }
        let index = try #require(busy)
        LocalCluster.signal(cluster.workers[index], SIGTERM)
        cluster.workers[index].waitUntilExit()
        #expect(cluster.workers[index].terminationReason == .exit && cluster.workers[index].terminationStatus == 0)

        let final = try #require(try waitForJob(job, on: cluster.endpoint))
        #expect(final.state == .committed, "\(final.error ?? "")")
        #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)
        let log = try String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)
        #expect(log.contains("worker local\(index) shut down gracefully, handing back 1 shard(s)"))
        #expect(!log.contains("worker local\(index) lost"))
    }

    @Test func coordinatorKilledAndRestartedResumesWithoutRedoingCommittedShards() throws {
        let fixture = try Self.shared.get()
        let cluster = fixture.cluster(environment: Self.slowShards)
        defer { cluster.stop() }
        try cluster.start(workers: 2)
        let manifest = fixture.manifest(output: "restarted.h5", shards: 8)
        let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)

        var committedBefore: Set<Int> = []
        let deadline = Date().addingTimeInterval(30)
        while committedBefore.count < 2, Date() < deadline {
            committedBefore = Set(try fixture.journal(cluster).filter { $0.event == .shard }.compactMap(\.shard))
            Thread.sleep(forTimeInterval: 0.01)
        }
        cluster.crashCoordinator()
        let entries = try fixture.journal(cluster)
        committedBefore = Set(entries.filter { $0.event == .shard }.compactMap(\.shard))
        try #require(committedBefore.count >= 2 && committedBefore.count < 8, "killed too late: \(committedBefore.sorted())")
        #expect(!entries.contains { $0.event == .committed })

        let endpoint = cluster.endpoint
        try cluster.startCoordinator(bind: endpoint)
        let final = try #require(try waitForJob(job, on: cluster.endpoint))
        #expect(final.state == .committed, "\(final.error ?? "")\n\((try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? "")")
        #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)

        let shardEvents = try fixture.journal(cluster).filter { $0.event == .shard }.compactMap(\.shard)
        // Each shard committed exactly once: those committed before the crash were not recomputed.
        #expect(shardEvents.sorted() == Array(0..<8))
        let log = try String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)
        #expect(log.contains("resuming job \(job): synthesis, \(committedBefore.count) of 8 shards committed"))
    }

    @Test func workerOfAnotherToolVersionIsRefusedAndExitsWithBothVersions() throws {
        let fixture = try Self.shared.get()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try cluster.startCoordinator()
        let index = try cluster.startWorker(environment: [ToolVersionOverride.variable: "0.0.0-old"])
        let worker = cluster.workers[index]
        let deadline = Date().addingTimeInterval(15)
        while worker.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(!worker.isRunning)
        #expect(worker.terminationStatus != 0)
        let log = try String(contentsOfFile: cluster.logPath("worker\(index)"), encoding: .utf8)
        #expect(log.contains("runs TailForge 0.0.0-old but the coordinator runs \(ToolVersion.current)"), "\(log)")
    }

    @Test func coordinatorProcessAnswersBadFramesAndKeepsServing() throws {
        let fixture = try Self.shared.get()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try cluster.startCoordinator()
        let socket = try SocketFactory(context: ZMQContext()).makeDealer(connecting: cluster.endpoint, identity: Array("prober".utf8))
        let good = WireMessage(StatusRequest(job: nil)).encode()
        let oversizedHeader = [UInt8](repeating: UInt8(ascii: " "), count: WireLimits().maxHeaderBytes + 1)
        let cases: [([[UInt8]], String)] = [
            ([[0x54]], "truncated"),
            ([good[0]], "truncated"),
            ([Array("GARBAGE".utf8), good[1], good[2]], "bad-magic"),
            ([Array("TFRG".utf8) + [0, 99], good[1], good[2]], "unsupported-version"),
            ([good[0], [0xFF, 0xFF], good[2]], "unknown-type"),
            ([good[0], good[1], Array(good[2].prefix(good[2].count / 2))], "malformed-header"),
            ([good[0], good[1], oversizedHeader], "oversized"),
        ]
        for (frames, code) in cases {
            try socket.send(frames)
            #expect(try socket.waitForInput(timeoutMilliseconds: 5_000), "no answer to \(code)")
            let reply = try WireMessage.decode(try #require(try socket.receive()))
            #expect(reply.body(as: ErrorReply.self)?.code == code)
        }
        try socket.send(good)
        #expect(try socket.waitForInput(timeoutMilliseconds: 5_000))
        #expect(try WireMessage.decode(try #require(try socket.receive())).body(as: StatusReply.self) != nil)
        #expect(cluster.coordinator?.isRunning == true)
    }
}
