import Foundation
import Testing
import TailForgeStorage
@testable import TailForgeCluster

/// The messages the loopback probe of issue 10 crashed daemons with, sent to real processes: each is refused
/// (answered, logged, or dropped by libzmq) and the daemon keeps serving.
extension ClusterProcessTests {
@Suite struct LimitsProcessTests {
    typealias Peer = ConfinementProcessTests.Peer

    /// Frames of a message whose header is `json` as given (a hostile client's bytes, not our encoder's).
    func frames(type: MessageType, bodyJSON: String) -> [[UInt8]] {
        let good = WireMessage(StatusRequest(job: nil)).encode()
        return [good[0], [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF)], Array("{\"body\":\(bodyJSON),\"payloads\":[]}".utf8)]
    }

    @Test func theSixSubmitValuesThatCrashedTheCoordinatorAreRefusedAndItKeepsServing() async throws {
        let fixture = try await ClusterProcessTests.ProcessClusterTests.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        try await cluster.startCoordinator()
        let client = try Peer(cluster.endpoint, name: "hostile")
        for index in SubmitValueLimitTests.hostile.indices {
            let json = try SubmitValueLimitTests.hostileManifestJSON(fixture.manifest(output: "hostile-\(index).h5", shards: 1), index)
            try client.socket.send(frames(type: .submitJob, bodyJSON: "{\"manifest\":" + String(decoding: json, as: UTF8.self) + "}"))
            let reply = try #require(try await client.next(ErrorReply.self), "no answer to value \(index)")
            let error = try #require(reply.body(as: ErrorReply.self))
            #expect(error.code == "invalid-manifest", "\(error)")
            #expect(error.message.contains(SubmitValueLimitTests.hostile[index].key), "\(error.message)")
        }
        #expect(cluster.coordinator?.isRunning == true)
        #expect(try Journal.entries(directory: cluster.stateDirectory).isEmpty, "nothing refused is journaled, so a restart cannot loop on it")
        #expect(try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5).status().jobs.isEmpty)
    }

    /// Peak resident memory of a process (kB), from /proc.
    func peakResidentKilobytes(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
    }

    @Test func oversizedMessagesAreRefusedWithoutBeingBufferedAndTheCoordinatorKeepsServing() async throws {
        let fixture = try await ClusterProcessTests.ProcessClusterTests.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        let limit = WireLimits.minimumMaxMessageBytes  // 8 MiB messages, so 8 MiB frames
        cluster.coordinatorArguments = ["--max-message-bytes", "\(limit)"]
        try await cluster.startCoordinator()
        let pid = try #require(cluster.coordinator?.processIdentifier)
        let good = WireMessage(StatusRequest(job: nil)).encode()

        // Every frame under the frame limit, the whole message over the message limit: decoded, refused, logged.
        let sender = try Peer(cluster.endpoint, name: "many-frames")
        let twoMiB = [UInt8](repeating: 7, count: 2 << 20)
        try sender.socket.send(good + Array(repeating: twoMiB, count: 6))
        let refusal = try #require(try await sender.next(ErrorReply.self)?.body(as: ErrorReply.self))
        #expect(refusal.code == "oversized", "\(refusal)")

        // Frames over the frame limit (the probe's 6 × 200 MiB, scaled to the 8 MiB limit: 6 × 24 MiB): libzmq
        // drops the connection at the first frame's length, so the coordinator never holds the 144 MiB.
        let before = try #require(peakResidentKilobytes(pid))
        let flooder = try Peer(cluster.endpoint, name: "big-frames")
        let big = [UInt8](repeating: 9, count: 24 << 20)
        try flooder.socket.send(good + Array(repeating: big, count: 6), dontWait: true)
        #expect(try await flooder.next(ErrorReply.self, seconds: 2) == nil, "nothing is decoded, so nothing is answered")
        let after = try #require(peakResidentKilobytes(pid))
        // Bound: one 24 MiB frame; buffering the message would have cost 144 MiB.
        #expect(after - before < 24 << 10, "peak RSS grew by \(after - before) kB")

        #expect(cluster.coordinator?.isRunning == true)
        #expect(try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5).status().jobs.isEmpty)
        let log = try String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)
        #expect(log.contains("rejected a message from peer many-frames: message of \(6 * (2 << 20) + good.reduce(0) { $0 + $1.count }) bytes exceeds the limit of \(limit) bytes"), "the whole-message refusal is logged")
    }

    @Test func aClientsJobsBeyondItsRunningLimitQueueBeyondItsQueueAreRefusedAndARestartKeepsCountingThem() async throws {
        let fixture = try await ClusterProcessTests.ProcessClusterTests.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        cluster.secure = true
        cluster.coordinatorArguments = ["--max-jobs-per-client", "1", "--max-queued-jobs-per-client", "1"]
        try await cluster.startCoordinator()
        // No workers: the running job stays running.
        let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5, security: try cluster.clientSecurity)
        func refusal(_ name: String) throws -> String? {
            do { _ = try client.submit(fixture.manifest(output: name, shards: 1)) } catch {
                guard case .rejected(let code, let message) = error, code == "too-many-jobs" else { return "unexpected: \(error)" }
                return message
            }
            return nil
        }
        func states() throws -> [String: JobState] {
            Dictionary(uniqueKeysWithValues: try client.status().jobs.map { ($0.job, $0.state) })
        }
        let first = try client.submit(fixture.manifest(output: "first.h5", shards: 1))
        let second = try client.submit(fixture.manifest(output: "second.h5", shards: 1))
        let message = try #require(try refusal("third.h5"), "a third live job was accepted")
        #expect(message.contains("--max-jobs-per-client 1") && message.contains("--max-queued-jobs-per-client 1"), "\(message)")
        #expect(await eventually(seconds: 10) { (try? states()) == [first: .running, second: .queued] }, "\(String(describing: try? states()))")

        // The running job ends: the queued one starts, and the queue has room again.
        #expect(try client.cancel(job: first).cancelled)
        #expect(await eventually(seconds: 10) { (try? states())?[second] == .running }, "\(String(describing: try? states()))")
        let third = try client.submit(fixture.manifest(output: "third.h5", shards: 1))
        #expect(try states()[third] == .queued)

        // After a restart both are the same client's again: still one running, one queued, and no room.
        await cluster.crashCoordinator()
        try await cluster.startCoordinator()
        let again = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5, security: try cluster.clientSecurity)
        #expect(await eventually(seconds: 10) { (try? again.status().jobs.filter { !$0.state.isTerminal }.map { [$0.job: $0.state] }) == [[second: .running], [third: .queued]] },
                "\(String(describing: try? again.status().jobs))")
        do {
            _ = try again.submit(fixture.manifest(output: "fourth.h5", shards: 1))
            Issue.record("a restart reset the client's allowance")
        } catch {
            guard case .rejected(let code, _) = error else { Issue.record("\(error)"); return }
            #expect(code == "too-many-jobs")
        }
        #expect(try again.cancel(job: second).cancelled)
        #expect(await eventually(seconds: 10) { (try? again.status(job: third).jobs.first?.state) == .running })
        let log = try String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)
        #expect(log.contains("refused a job from key "), "the refusal names the key's fingerprint")
    }

    @Test func workersBeyondMaxWorkersAreRefusedAndExitNamingTheLimit() async throws {
        let fixture = try await ClusterProcessTests.ProcessClusterTests.shared()
        let cluster = fixture.cluster()
        defer { cluster.stop() }
        cluster.coordinatorArguments = ["--max-workers", "1"]
        try await cluster.startCoordinator()
        try cluster.startWorker()
        try await cluster.waitForWorkers(1)
        try cluster.startWorker()
        let second = cluster.workers[1]
        #expect(await eventually(seconds: 20) { !second.isRunning })
        #expect(!second.isRunning && second.terminationStatus != 0)
        let log = try String(contentsOfFile: cluster.logPath("worker1"), encoding: .utf8)
        #expect(log.contains("--max-workers 1"), "\(log)")
        #expect(cluster.workers[0].isRunning)
        #expect(try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5).status().workers.count == 1)
    }

    @Test func aWorkerSurvivesAHugeHeartbeatIntervalAndAGradientRequestFor2To62Classes() async throws {
        let fixture = try await ClusterProcessTests.ProcessClusterTests.shared()
        // A fake coordinator: the test binds the ROUTER and a real worker process connects to it.
        let router = try SocketFactory(context: ZMQContext()).makeRouter(binding: "tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint
        let directory = (fixture.directory as NSString).appendingPathComponent("fake-coordinator-\(UUID().uuidString)")
        let cluster = LocalCluster(executable: fixture.executable, directory: directory)
        defer { cluster.stop() }
        let worker = try cluster.spawn("worker", ["worker", "--connect", endpoint, "--work-dir", directory + "/work", "--threads", "1",
                                                  "--name", "probed", "--insecure"])
        func next<B: WireBody>(_: B.Type) async throws -> (identity: [UInt8], body: B)? {
            try await eventually(seconds: 10) { () throws -> (identity: [UInt8], body: B)? in
                while let frames = try router.receive(dontWait: true) {
                    if let body = try? WireMessage.decode(frames.dropFirst()).body(as: B.self) { return (frames[0], body) }
                }
                return nil
            }
        }
        let hello = try #require(try await next(Hello.self))
        try router.send([hello.identity] + WireMessage(Welcome(workerId: "probed", toolVersion: ToolVersion.current,
                                                               heartbeatIntervalMilliseconds: Int.max, livenessMilliseconds: Int.max)).encode())
        let weights = WireMessage.float32Payload([Float](repeating: 0, count: 8))
        let request = GradientRequest(session: "probe", iteration: 1, shards: [0], classCount: 1 << 62, dimension: 3,
                                      paths: [directory + "/none.h5"], firstGlobalRows: [0], blockRows: 1024)
        try router.send([hello.identity] + WireMessage(request, payloads: [weights]).encode())
        let failure = try #require(try await next(TrainingFailure.self), "the worker answers instead of dying")
        #expect(failure.body.message.contains("\(1 << 62) classes"), "\(failure.body.message)")
        // Still alive and heartbeating at its own pace after both.
        #expect(try await next(Heartbeat.self) != nil)
        #expect(worker.isRunning)
        let log = try String(contentsOfFile: cluster.logPath("worker"), encoding: .utf8)
        #expect(log.contains("keeping 500 ms"), "\(log)")
    }
}
}
