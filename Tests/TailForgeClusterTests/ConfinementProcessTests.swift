import Foundation
import TailForgeTestSupport
import Testing
import TailForgeStorage
@testable import TailForgeCluster

/// What the loopback probe of issue 10 found, against real coordinator and worker processes: job paths are
/// confined to `--data-root`s, workers write only inside their roots, and the input is streamed only to the
/// worker running a shard of its job.
@Suite(.serialized) struct ConfinementProcessTests {
    func journalSubmissions(_ cluster: LocalCluster) throws -> Int {
        (try? Journal.entries(directory: cluster.stateDirectory))?.filter { $0.event == .submitted }.count ?? 0
    }

    func rejection(_ client: ClusterClient, _ manifest: JobManifest) -> String? {
        do { _ = try client.submit(manifest) } catch {
            if case .rejected(let code, let message) = error, code == "invalid-manifest" { return message }
            return "unexpected: \(error)"
        }
        return nil
    }

    @Test func jobsNamingPathsOutsideEveryDataRootAreRefusedBeforeAnyWork() async throws {
        let fixture = try await ClusterProcessTests.ProcessClusterTests.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try await cluster.startCoordinator()
        let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5)
        var manifests: [(JobManifest, String)] = []
        var passwd = fixture.manifest(output: "passwd.h5", shards: 1)
        passwd.input.path = "/etc/passwd"
        manifests.append((passwd, "/etc/passwd"))
        var keys = fixture.manifest(output: "x.h5", shards: 1)
        keys.output = "/root/.ssh/authorized_keys"
        manifests.append((keys, "/root/.ssh/authorized_keys"))
        var climb = fixture.manifest(output: "x.h5", shards: 1)
        climb.output = fixture.directory + "/../../etc/cron.d/tailforge.h5"
        manifests.append((climb, climb.output))
        var shared = fixture.manifest(output: "x.h5", shards: 1)
        shared.transfer.sharedShardDirectory = "/var/tmp/anywhere"
        manifests.append((shared, "/var/tmp/anywhere"))
        for (manifest, path) in manifests {
            let message = try #require(rejection(client, manifest), "\(path) was accepted")
            #expect(message.contains(path) && message.contains("data roots (\(fixture.directory))"), "\(message)")
        }
        // The coordinator's own journal, inside the data root but in the state directory.
        var journal = fixture.manifest(output: "x.h5", shards: 1)
        journal.output = (cluster.stateDirectory as NSString).appendingPathComponent("journal.jsonl")
        journal.overwrite = true
        #expect(rejection(client, journal)?.contains("state directory") == true)
        var record = fixture.manifest(output: "x.h5", shards: 1)
        record.output = fixture.directory + "/other.manifest.json"
        #expect(rejection(client, record)?.contains("resolved manifest") == true)

        #expect(try journalSubmissions(cluster) == 0, "a refused job is never journaled")
        #expect(try client.status().jobs.isEmpty)
        #expect(cluster.coordinator?.isRunning == true)
        let log = try String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)
        #expect(log.contains("refused a job") && log.contains("/etc/passwd"), "each refusal is logged")
    }

    @Test func theCoordinatorRefusesToStartWithoutADataRoot() async throws {
        let fixture = try await ClusterProcessTests.ProcessClusterTests.shared()
        let state = (fixture.directory as NSString).appendingPathComponent("no-root-\(UUID().uuidString)")
        let (status, text) = try await fixture.runToExit(["coordinator", "--bind", "tcp://127.0.0.1:*", "--state-dir", state, "--insecure"])
        #expect(status != 0)
        #expect(text.contains("at least one --data-root DIR"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: CoordinatorRuntime.endpointFile(stateDirectory: state)))
    }

    @Test func aWorkerRefusesToWriteASharedShardDirectoryOutsideItsRoots() async throws {
        let fixture = try await ClusterProcessTests.ProcessClusterTests.shared()
        try await withTemporaryDirectory("elsewhere") { elsewhere in
            // The cluster stops before the directory goes.
            let cluster = fixture.cluster()
            defer { cluster.stop() }
            // The coordinator allows a second root the worker was not given.
            cluster.coordinatorArguments = ["--data-root", elsewhere]
            try await cluster.start(workers: 1)
            var manifest = fixture.manifest(output: "elsewhere.h5", shards: 1)
            manifest.transfer.sharedShardDirectory = elsewhere + "/shards"
            manifest.sharding.maxAttempts = 1
            let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5)
            let job = try client.submit(manifest)
            let status = try #require(try await ClusterProcessTests.ProcessClusterTests.waitForJob(job, on: cluster.endpoint))
            #expect(status.state == .failed)
            #expect(status.error?.contains("is outside worker local0's work directory and data roots") == true, "\(status.error ?? "")")
            #expect(!FileManager.default.fileExists(atPath: elsewhere + "/shards"), "the worker created nothing there")
            #expect(cluster.workers[0].isRunning)
        }
    }

    /// A raw DEALER on the coordinator, for messages no real peer would send.
    struct Peer {
        let socket: ZMQSocket
        init(_ endpoint: String, name: String, security: SocketSecurity = .plaintext) throws {
            socket = try SocketFactory(context: ZMQContext(), security: security).makeDealer(connecting: endpoint, identity: Array(name.utf8))
        }
        func send(_ body: some WireBody) throws { try socket.send(WireMessage(body).encode()) }
        /// The next message of type `B`, skipping others (heartbeats), within `seconds`.
        func next<B: WireBody>(_: B.Type, seconds: Double = 10) async throws -> WireMessage? {
            try await eventually(seconds: seconds, interval: .milliseconds(10)) { () throws -> WireMessage? in
                while let frames = try socket.receive(dontWait: true) {
                    let message = try WireMessage.decode(frames)
                    if message.body(as: B.self) != nil { return message }
                }
                return nil
            }
        }
    }

    @Test func theInputIsStreamedOnlyToTheWorkerRunningAShardOfItsJob() async throws {
        let fixture = try await ClusterProcessTests.ProcessClusterTests.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try await cluster.startCoordinator()
        var manifest = fixture.manifest(output: "streamed.h5", shards: 1)
        manifest.transfer.streamInput = true
        let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5)
        let job = try client.submit(manifest)
        let request = DataRequest(requestId: 1, resource: .input(job: job), offset: 0, length: 64)
        let refusal = "the coordinator serves a job's input only to the worker running a shard of it"

        // Anyone unregistered, for a real job and for one that does not exist: the same answer, no bytes.
        let prober = try Peer(cluster.endpoint, name: "prober")
        for resource in [DataResource.input(job: job), .input(job: "job-none")] {
            try prober.send(DataRequest(requestId: 1, resource: resource, offset: 0, length: 64))
            let reply = try #require(try await prober.next(ErrorReply.self))
            #expect(reply.body(as: ErrorReply.self) == ErrorReply(code: "not-registered", message: "say hello before dataRequest"))
            #expect(reply.payloads.isEmpty)
        }

        // A registered worker, before and after it is given a shard of the job.
        let worker = try Peer(cluster.endpoint, name: "fake-worker")
        try worker.send(Hello(workerName: "fake", toolVersion: ToolVersion.current, host: "localhost", processId: 1, threads: 1))
        #expect(try await worker.next(Welcome.self) != nil)
        let assignment = try #require(try await worker.next(AssignShard.self)?.body(as: AssignShard.self))
        #expect(assignment.shard.job == job)
        try worker.send(request)
        let served = try #require(try await worker.next(DataChunk.self))
        #expect(served.body(as: DataChunk.self)?.error == nil)
        let head = try #require(FileHandle(forReadingAtPath: fixture.input)?.readData(ofLength: 64))
        #expect(served.payloads == [[UInt8](head)])
        // The unregistered prober still gets nothing, and neither does the worker for another job's input.
        try prober.send(request)
        #expect(try await prober.next(ErrorReply.self)?.body(as: ErrorReply.self)?.code == "not-registered")
        try worker.send(DataRequest(requestId: 2, resource: .input(job: "job-none"), offset: 0, length: 64))
        #expect(try await worker.next(DataChunk.self)?.body(as: DataChunk.self)?.error == refusal)

        // A cancelled job's input is served to no one.
        _ = try client.cancel(job: job)
        try worker.send(request)
        #expect(try await worker.next(DataChunk.self)?.body(as: DataChunk.self)?.error == refusal)
        #expect(cluster.coordinator?.isRunning == true)
    }

    @Test func aTrainingSessionNamingAFileOutsideTheDataRootsIsRefusedBeforeAnyWorkerOpensIt() async throws {
        let fixture = try await ClusterProcessTests.ProcessClusterTests.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try await cluster.start(workers: 1)
        let trainer = try Peer(cluster.endpoint, name: "trainer")
        try trainer.send(TrainingOpen(session: "probe", shards: [TrainingShardSpec(path: fixture.input), TrainingShardSpec(path: "/etc/shadow")]))
        let failure = try #require(try await trainer.next(TrainingFailure.self)?.body(as: TrainingFailure.self))
        #expect(failure.message.contains("/etc/shadow is outside the coordinator's data roots"), "\(failure.message)")
        #expect(try await trainer.next(TrainingShardLoaded.self, seconds: 1) == nil, "no worker was asked to load anything")
        let workerLog = try String(contentsOfFile: cluster.logPath("worker0"), encoding: .utf8)
        #expect(!workerLog.contains("loaded training shard"))
        // The trainer says who refused: the coordinator (it said "a worker failed", and no worker had been asked).
        try await withTemporaryDirectory("outside-trainer") { directory in
            let run = try await Child.run(fixture.executable, ["train", "--distributed", "--coordinator", cluster.endpoint, fixture.input, "/etc/shadow",
                                                              "--output", directory + "/model.h5", "--cluster-timeout", "30"])
            #expect(run.status == 1)
            #expect(run.stderr.hasPrefix("Error: the coordinator refused the training session: /etc/shadow is outside the coordinator's data roots"), "\(run.stderr)")
        }
    }

    @Test func aPinnedDigestThatDiffersDoesNotEchoTheFilesDigest() async throws {
        let fixture = try await ClusterProcessTests.ProcessClusterTests.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try await cluster.startCoordinator()
        var manifest = fixture.manifest(output: "pinned.h5", shards: 1)
        manifest.input.sha256 = String(repeating: "0", count: 64)
        let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5)
        let job = try client.submit(manifest)
        let status = try #require(try await ClusterProcessTests.ProcessClusterTests.waitForJob(job, on: cluster.endpoint))
        #expect(status.state == .failed)
        let actual = try SHA256.hexDigest(ofFileAt: fixture.input)
        let error = status.error ?? ""
        #expect(error.contains("does not have the SHA-256 the manifest pins"), "\(error)")
        #expect(!error.contains(actual) && !error.contains(actual.prefix(16)), "\(error)")
    }
}
