import CZeroMQ
import Foundation
import Testing
import TailForgeFuzzTargets
import TailForgeStorage
@testable import TailForgeCluster

extension ClusterProcessTests {
/// Thousands of malformed messages at a real worker and a real coordinator (CURVE, real keys), after which both
/// still serve a normal job with the single-node bytes, without their memory or open files having grown.
@Suite struct ProcessFuzzTests {
    /// Malformed messages per target process and role.
    static let messagesPerSocket = 2_500
    /// Growth allowed from after a warm-up of the same traffic to the end: measured +8 to +25 MiB in five runs (glibc
    /// keeps some freed multi-MiB frames of the oversized messages in its arenas), and +40.8 and +47 MiB in two
    /// full suites at load 20–30 (more threads were busy, so more arenas kept frames), while keeping every oversized
    /// message would add 16 × 4 MiB = 64 MiB per socket (the coordinator has two) on top of that 8 MiB-or-more
    /// floor, i.e. at least 72 MiB; no descriptor may leak beyond a transient one or two.
    static let rssGrowthBound = 60 << 20
    static let fdGrowthBound = 4
    /// Messages with a header just over `maxHeaderBytes` (4 MiB), after the warm-up.
    static let oversizedMessages = 16

    /// Resident memory and open file descriptors of a live process, from /proc.
    struct Usage: CustomStringConvertible {
        var rssBytes: Int
        var fds: Int
        init(_ pid: Int32) throws {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
            rssBytes = try #require(Int(line.split(separator: " ")[1])) * 1024
            fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
        }
        var description: String { "RSS \(rssBytes >> 10) KiB, \(fds) fds" }
    }

    /// `count` messages none of which decodes, from the valid ones, plus every valid message of a type the
    /// receiver must refuse (`wrongTypes`) and a few multi-MiB frames.
    static func malformed(_ count: Int, seed: UInt64, wrongTypes: [WireMessage]) -> [[[UInt8]]] {
        let valid = FuzzSeeds.messages.map { $0.encode() }
        var mutator = Mutator(seed: seed)
        var messages: [[[UInt8]]] = []
        while messages.count < count {
            let frames = mutator.malformedFrames(from: valid)
            // A mutant that still decodes could be a real request (a job, a registration): only refusals are sent.
            if (try? WireMessage.decode(frames)) == nil { messages.append(frames) }
        }
        let big = [UInt8](repeating: UInt8(ascii: " "), count: WireLimits().maxHeaderBytes + 1)
        let header = valid[0]
        for index in 0..<Self.oversizedMessages { messages.insert([header[0], header[1], big], at: 300 + index * (count - 300) / Self.oversizedMessages) }
        for (index, message) in wrongTypes.enumerated() { messages.insert(message.encode(), at: (index * 97) % messages.count) }
        return messages
    }

    /// Receives what is waiting on `socket` until it has been quiet for `quietMilliseconds` (at most 10 s: a peer
    /// that never stops talking cannot hang the test); suspends, never blocks, while it waits.
    static func drain(_ socket: ZMQSocket, quietMilliseconds: Int = 0) async throws -> [[[UInt8]]] {
        var received: [[[UInt8]]] = []
        let deadline = ContinuousClock.now + .seconds(10)
        var quietSince = ContinuousClock.now
        while ContinuousClock.now < deadline {
            if let frames = try socket.receive(dontWait: true) {
                received.append(frames)
                quietSince = .now
            } else if ContinuousClock.now - quietSince >= .milliseconds(quietMilliseconds) {
                break
            } else {
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        return received
    }

    /// How many of `replies` (with or without a ROUTER identity frame) are `error` messages.
    static func errorReplies(_ replies: [[[UInt8]]]) -> Int {
        replies.filter { frames in
            [frames, Array(frames.dropFirst())].contains { (try? WireMessage.decode($0))?.type == .error }
        }.count
    }

    @Test func aWorkerAndACoordinatorSurviveThousandsOfMalformedMessagesAndStillServeAJob() async throws {
        let fixture = try await ProcessClusterTests.shared()
        let cluster = fixture.cluster()
        cluster.secure = true
        defer { cluster.stop() }
        try cluster.ensureKeys()
        let keys = cluster.keyDirectory
        let coordinatorKeys = try CurveKeyPair.load(secretKeyFile: keys + "/coordinator.key")
        let manifest = fixture.manifest(output: "after-fuzz.h5", shards: 2)
        // Valid messages of a type the receiver must refuse: coordinator-bound ones for the worker; for each key,
        // what only the other role may send.
        let coordinatorBound = FuzzSeeds.messages.filter { [.submitJob, .hello, .statusRequest, .shardResult, .gradientReply].contains($0.type) }
        let workerOnly = FuzzSeeds.messages.filter { [.hello, .shardResult, .gradientReply, .dataChunk].contains($0.type) }
        let clientOnly = FuzzSeeds.messages.filter { [.submitJob, .statusRequest, .cancelJob, .gradientRequest].contains($0.type) }

        // 1. The worker, against a stand-in coordinator (the coordinator's keys) that welcomes it, then sends garbage.
        let workerMessages = Self.malformed(Self.messagesPerSocket, seed: 1, wrongTypes: coordinatorBound)
        let endpoint: String
        var spawned: Process?
        defer { LocalCluster.signal(spawned, SIGKILL) }
        do {
            let router = try ZMQSocket(context: try ZMQContext(), type: .router)
            try router.setOption(ZMQ_LINGER, Int32(0))
            try router.setOption(ZMQ_CURVE_SERVER, Int32(1))
            try router.setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(coordinatorKeys.secretKey.utf8))
            try router.bind("tcp://127.0.0.1:*")
            endpoint = try router.lastEndpoint
            let worker = try cluster.spawn("fuzzed-worker", ["worker", "--connect", endpoint, "--work-dir", cluster.directory + "/fuzzed-work",
                                                         "--threads", "1", "--name", "fuzzed", "--key", keys + "/worker.key",
                                                         "--coordinator-key", keys + "/coordinator.pub"])
            spawned = worker
            let hello = try #require(await eventually(seconds: 20) { try router.receive(dontWait: true) }, "the worker never said hello")
            let identity = hello[0]
            #expect(try WireMessage.decode(hello.dropFirst()).body(as: Hello.self)?.workerName == "fuzzed")
            let welcome = WireMessage(Welcome(workerId: "fuzzed", toolVersion: ToolVersion.current, heartbeatIntervalMilliseconds: 100,
                                              livenessMilliseconds: 5_000)).encode()
            let heartbeat = WireMessage(Heartbeat()).encode()
            try router.send([identity] + welcome)
            var errors = 0, hellos = 0
            /// Sends `slice`, then waits until every message was answered (or nothing came for 3 s).
            func blast(_ slice: ArraySlice<[[UInt8]]>) async throws {
                let expected = errors + slice.count
                func collect(_ replies: [[[UInt8]]]) {
                    errors += Self.errorReplies(replies)
                    hellos += replies.filter { (try? WireMessage.decode($0.dropFirst()))?.type == .hello }.count
                }
                let start = errors
                for (index, message) in slice.enumerated() {
                    try router.send([identity] + message)
                    // A heartbeat keeps the worker from taking the stand-in for dead (a reconnect would change its
                    // identity and lose what follows); at most 200 unanswered messages stay far below the ROUTER's
                    // high-water mark (1,000), past which it would drop them silently.
                    guard index % 25 == 0 else { continue }
                    try router.send([identity] + heartbeat)
                    collect(try await Self.drain(router, quietMilliseconds: 1))
                    let deadline = Date().addingTimeInterval(5)
                    while index - (errors - start) > 200, Date() < deadline { collect(try await Self.drain(router, quietMilliseconds: 20)) }
                }
                var lastProgress = Date()
                while errors < expected, Date().timeIntervalSince(lastProgress) < 3 {
                    try router.send([identity] + heartbeat)
                    let before = errors
                    collect(try await Self.drain(router, quietMilliseconds: 100))
                    if errors > before { lastProgress = Date() }
                }
            }
            try await blast(workerMessages.prefix(300))  // warm-up: allocator pools, log buffers
            let before = try Usage(worker.processIdentifier)
            try await blast(workerMessages.dropFirst(300))
            let after = try Usage(worker.processIdentifier)
            print("fuzzed worker: \(workerMessages.count) malformed messages, \(errors) error replies; before \(before), after \(after)")
            #expect(worker.isRunning)
            // Every message reached the worker and was refused (the worker answers each with `error`), none made it reconnect.
            #expect(errors == workerMessages.count && hellos == 0, "\(errors) error replies to \(workerMessages.count) messages, \(hellos) hello")
            #expect(after.rssBytes - before.rssBytes <= Self.rssGrowthBound, "worker \(before) → \(after)")
            #expect(after.fds - before.fds <= Self.fdGrowthBound, "worker \(before) → \(after)")
            // A short liveness window from here: the worker notices the stand-in is gone and finds the real coordinator sooner.
            try router.send([identity] + WireMessage(Welcome(workerId: "fuzzed", toolVersion: ToolVersion.current,
                                                              heartbeatIntervalMilliseconds: 100, livenessMilliseconds: 500)).encode())
            _ = try await Self.drain(router, quietMilliseconds: 50)
        }  // the stand-in's socket and context are gone: its port is free for the real coordinator

        // 2. The real coordinator on the same port; the fuzzed worker reconnects to it.
        try await cluster.startCoordinator(bind: endpoint)
        let coordinator = try #require(cluster.coordinator)
        let factory = { (key: String) in
            SocketFactory(context: try ZMQContext(), security: .curveClient(try CurveKeyPair.load(secretKeyFile: keys + "/\(key).key"),
                                                                            serverPublicKey: coordinatorKeys.publicKey))
        }
        let sockets = [
            (try factory("client").makeDealer(connecting: endpoint, identity: Array("fuzz-client".utf8)),
             Self.malformed(Self.messagesPerSocket, seed: 2, wrongTypes: workerOnly)),
            (try factory("worker").makeDealer(connecting: endpoint, identity: Array("fuzz-worker".utf8)),
             Self.malformed(Self.messagesPerSocket, seed: 3, wrongTypes: clientOnly)),
        ]
        var errors = 0
        func blast(_ range: Range<Int>) async throws {
            let errorsBefore = errors
            for (socket, messages) in sockets {
                for index in range.clamped(to: 0..<messages.count) {
                    try socket.send(messages[index])
                    if index % 25 == 0 { errors += Self.errorReplies(try await Self.drain(socket, quietMilliseconds: 1)) }
                }
            }
            let expected = sockets.map { range.clamped(to: 0..<$0.1.count).count }.reduce(errorsBefore, +)
            var lastProgress = Date()
            while errors < expected, Date().timeIntervalSince(lastProgress) < 3 {
                let before = errors
                for (socket, _) in sockets { errors += Self.errorReplies(try await Self.drain(socket, quietMilliseconds: 100)) }
                if errors > before { lastProgress = Date() }
            }
        }
        try await blast(0..<300)
        let before = try Usage(coordinator.processIdentifier)
        try await blast(300..<Int.max)
        let after = try Usage(coordinator.processIdentifier)
        let sent = sockets.map(\.1.count).reduce(0, +)
        print("fuzzed coordinator: \(sent) malformed messages, \(errors) error replies; before \(before), after \(after)")
        #expect(errors == sent, "\(errors) error replies to \(sent) messages")
        #expect(coordinator.isRunning)
        #expect(after.rssBytes - before.rssBytes <= Self.rssGrowthBound, "coordinator \(before) → \(after)")
        #expect(after.fds - before.fds <= Self.fdGrowthBound, "coordinator \(before) → \(after)")

        // 3. Both still serve: the fuzzed worker runs a normal job on the fuzzed coordinator, with the single-node bytes.
        try await cluster.waitForWorkers(1)
        let client = try ClusterClient(coordinator: endpoint, timeoutSeconds: 5, security: try cluster.clientSecurity)
        let job = try client.submit(manifest)
        let final = try await ProcessClusterTests.waitForJob(job, on: endpoint, security: try cluster.clientSecurity, seconds: 60)
        #expect(final?.state == .committed, "\(final?.error ?? "no final state")")
        #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)
        #expect(try client.status().workers.map(\.name) == ["fuzzed"])
        #expect(spawned?.isRunning == true)
    }
}
}
