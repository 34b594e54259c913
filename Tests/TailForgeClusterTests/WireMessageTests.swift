import Foundation
import Testing
@testable import TailForgeCluster
import TailForgeEngine

@Suite struct WireMessageTests {
    private static let manifest = JobManifest(
        name: "demo", input: .init(path: "/data/train.h5", sha256: "ab"), output: "/data/out.h5",
        policy: .init(target: .max, kappa: .local, sampler: .vmf, seed: 7))

    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // The 8-byte fast path and the byte tail must agree with a byte-at-a-time reference.
        let bytes = (0..<1_037).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var reference: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            reference ^= UInt32(byte)
            for _ in 0..<8 { reference = (reference & 1) != 0 ? (reference >> 1) ^ 0x82F6_3B78 : reference >> 1 }
        }
        #expect(CRC32C.checksum(bytes) == reference ^ 0xFFFF_FFFF)
    }

    @Test func everyMessageTypeRoundTrips() throws {
        let shard = ShardReference(job: "j1", shard: 3, stage: .synthesis, attempt: 2)
        let status = JobStatus(job: "j1", name: "demo", state: .running, stage: .concentrations, shardsDone: 1, shardCount: 4,
                               classesDone: 3, classCount: 10, rowsWritten: 0, totalRows: 100, workers: 2,
                               elapsedSeconds: 1.5, output: "/o.h5", error: nil)
        let bodies: [any WireBody] = [
            Hello(workerName: "w", toolVersion: "1.0", host: "h", processId: 42, threads: 2),
            Welcome(workerId: "w-1", toolVersion: "1.0", heartbeatIntervalMilliseconds: 500, livenessMilliseconds: 3000),
            Refuse(reason: "version"),
            Heartbeat(busyWith: shard),
            AssignShard(shard: shard, job: Self.manifest,
                        input: InputLocation(path: "/p", sha256: "00", byteCount: 10, streamed: true),
                        classes: [ClassTask(classId: 4, realCount: 2, keptCount: 2, syntheticCount: 5)], sharedShardDirectory: nil),
            ShardProgress(shard: shard, classesDone: 1, rowsDone: 9),
            ShardResult(shard: shard, rowsPerClass: [7], sha256: "ff", byteCount: 99, path: "/s.h5", seconds: 0.25),
            ShardFailure(shard: shard, reason: .executionFailed("disk full")),
            ShardFailure(shard: shard, reason: .busy(with: shard)),
            DataRequest(requestId: 1, resource: .shardFile(job: "j1", shard: 3, path: "/s.h5"), offset: 8, length: 16),
            DataChunk(requestId: 1, resource: .input(job: "j1"), offset: 8, totalBytes: 100),
            CancelShard(job: "j1"),
            CancelShard(job: "j1", purge: true),
            DiscardShardFile(shard: shard, path: "/w/j1-shard-3-attempt-2.h5"),
            ErrorReply(code: "x", message: "y"),
            Goodbye(returning: [shard]),
            SubmitJob(manifest: Self.manifest),
            JobAccepted(job: "j1"),
            StatusRequest(job: nil),
            StatusReply(jobs: [status], workers: [WorkerStatus(workerId: "w-1", name: "w", host: "h", busyWith: nil, secondsSinceHeartbeat: 0.1,
                                                                   quarantined: "3 shards failed in a row", consecutiveFailures: 3)]),
            CancelJob(job: "j1"),
            CancelReply(job: "j1", cancelled: true, message: "ok"),
            WatchJob(job: "j1"),
            JobProgress(status: status),
            GradientRequest(session: "j1", iteration: 3, shards: [0, 2], classCount: 10, dimension: 4),
            GradientReply(session: "j1", iteration: 3, shard: 2, lossSum: 1.25, rows: 17),
            TrainingOpen(session: "t1", shards: [TrainingShardSpec(path: "/data/a.h5", holder: "node2")]),
            TrainingLoad(session: "t1", shards: [0], paths: ["/data/a.h5"]),
            TrainingShardLoaded(session: "t1", shard: 0, rows: 5, dimension: 4, labelCounts: [2, 3], classNames: nil, sha256: "ab", worker: "w"),
            TrainingFailure(session: "t1", shard: 0, message: "no such file"),
            TrainingClose(session: "t1", paths: ["/data/a.h5"]),
            TrainingPing(session: "t1"),
            TrainerProgress(session: "t1", iteration: 4, loss: 0.75, gradientNorm: 0.125, evaluations: 5, seconds: 1.5),
            HeldOutTallyReply(session: "t1", iteration: 6, shard: 1, rows: 40),
            TrainJob(job: "j1", manifest: Self.manifest, prepared: PreparedJob(inputSHA256: "ab", inputBytes: 10, classCount: 2, dimension: 4, totalRows: 8,
                                                                                shards: [], shardCosts: []),
                     identity: "cd", partCount: 2, checkpointDirectory: "/data/model.h5.checkpoints", kappaCounts: [3, 0], run: "r1"),
            JobTrained(job: "j1", run: "r1", modelSHA256: "ef", parts: [[0, 4], [4, 8]], openSeconds: 0.5, checkpointSeconds: 0.25),
        ]
        #expect(Set(bodies.map { type(of: $0).messageType }) == Set(MessageType.allCases))
        for body in bodies {
            let payload = WireMessage.float32Payload([1, -2.5, .infinity])
            let frames = WireMessage(body, payloads: [payload, []]).encode()
            let decoded = try WireMessage.decode(frames)
            #expect(decoded.type == type(of: body).messageType)
            #expect(decoded.payloads == [payload, []])
            // Re-encoding the decoded body reproduces the bytes: nothing was lost or reordered.
            #expect(decoded.encode() == frames)
        }
    }

    @Test func gradientMessagesCarryTheSessionUnderTheDocumentedJobKey() throws {
        // PROTOCOL.md names the key `job`; the Swift name is `session`, which is what the value is.
        for body in [WireMessage(GradientRequest(session: "t7", iteration: 1, shards: [0], classCount: 2, dimension: 3)),
                     WireMessage(GradientReply(session: "t7", iteration: 1, shard: 0, lossSum: 0, rows: 1))] {
            let header = try #require(try JSONSerialization.jsonObject(with: Data(body.encode()[2])) as? [String: Any])
            let fields = try #require(header["body"] as? [String: Any])
            #expect(fields["job"] as? String == "t7" && fields["session"] == nil)
        }
    }

    @Test func float32PayloadIsLittleEndianAndRoundTrips() {
        let values: [Float] = [1, -0.0, .nan, 3.25e-8]
        let bytes = WireMessage.float32Payload(values)
        #expect(Array(bytes.prefix(4)) == [0x00, 0x00, 0x80, 0x3F])
        let back = WireMessage.float32Values(bytes)!
        #expect(back.map(\.bitPattern) == values.map(\.bitPattern))
        #expect(WireMessage.float32Values([1, 2, 3]) == nil)
    }

    private static let good = WireMessage(JobAccepted(job: "j"), payloads: [[1, 2, 3]]).encode()

    private static func replacing(_ index: Int, with frame: [UInt8]) -> [[UInt8]] {
        var frames = good
        frames[index] = frame
        return frames
    }

    private static func header(_ json: String) -> [[UInt8]] { replacing(2, with: Array(json.utf8)) }

    static let malformed: [(String, [[UInt8]], String)] = [
        ("no frames", [], "truncated"),
        ("two frames", Array(good.prefix(2)), "truncated"),
        ("bad magic", replacing(0, with: Array("XFRG".utf8) + [0, 1]), "bad-magic"),
        ("short magic", replacing(0, with: Array("TFR".utf8)), "bad-magic"),
        ("wrong version", replacing(0, with: Array("TFRG".utf8) + [0, 2]), "unsupported-version"),
        ("unknown type", replacing(1, with: [0x7F, 0xFF]), "unknown-type"),
        ("one-byte type", replacing(1, with: [33]), "unknown-type"),
        ("header not JSON", replacing(2, with: [0xFF, 0x00, 0x7B]), "malformed-header"),
        ("header truncated", replacing(2, with: Array(good[2].prefix(good[2].count / 2))), "malformed-header"),
        ("header without body", header(#"{"payloads":[{"bytes":3,"crc32c":1}]}"#), "malformed-header"),
        ("body of wrong shape", header(#"{"body":{"job":5},"payloads":[{"bytes":3,"crc32c":1}]}"#), "malformed-header"),
        ("payload missing", Array(good.prefix(3)), "payload-count"),
        ("extra payload", good + [[9]], "payload-count"),
        ("payload truncated", replacing(3, with: [1, 2]), "payload-size"),
        ("payload corrupted", replacing(3, with: [1, 2, 4]), "checksum"),
        ("too many payloads", WireMessage(JobAccepted(job: "j"), payloads: Array(repeating: [], count: 17)).encode(), "oversized"),
    ]

    @Test(arguments: malformed)
    func malformedMessagesAreRejectedWithAnError(_ name: String, _ frames: [[UInt8]], _ code: String) {
        do {
            _ = try WireMessage.decode(frames)
            Issue.record("\(name) was accepted")
        } catch {
            #expect(error.code == code, "\(name): \(error)")
            #expect(!error.description.isEmpty)
        }
    }

    @Test func oversizedMessagesAndHeadersAreRejected() {
        var limits = WireLimits()
        limits.maxMessageBytes = 1_000
        let big = WireMessage(JobAccepted(job: "j"), payloads: [Array(repeating: 7, count: 2_000)]).encode()
        #expect(throws: ProtocolError.oversized(bytes: big.reduce(0) { $0 + $1.count }, limit: 1_000, part: "message")) {
            try WireMessage.decode(big, limits: limits)
        }
        limits = WireLimits()
        limits.maxHeaderBytes = 10
        #expect(throws: ProtocolError.self) { try WireMessage.decode(Self.good, limits: limits) }
    }

    @Test func wrongVersionErrorTellsTheUserWhatToDo() {
        let error = ProtocolError.unsupportedVersion(received: 2, supported: 1)
        #expect(error.description.contains("version 2"))
        #expect(error.description.contains("same TailForge release"))
    }
}

@Suite struct FileDigestTests {
    @Test func sha256MatchesFIPSTestVectors() {
        #expect(FileDigest.sha256(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(FileDigest.sha256(of: []) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(FileDigest.sha256(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
