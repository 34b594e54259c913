import Foundation
import Testing
import TailForgeStorage
@testable import TailForgeCluster

/// A worker inside the test process, speaking the wire protocol on its own DEALER: it computes every assignment
/// with the real executor and then lets the test alter the result before reporting it — the worker key holder
/// issue 10's probe played, who hands back forged or merely different shards. Shard files go to the job's shared
/// shard directory (the coordinator reads them there). Everything runs on the test's task: `serve` polls.
final class FakeWorker {
    let peer: ConfinementProcessTests.Peer
    let name: String
    let executor = EngineShardExecutor(environment: [:])
    /// Turns the honest outcome of an assignment into the one reported (identity by default).
    var alter: (AssignShard, ShardOutcome) throws -> ShardOutcome
    /// Turns an assignment into the one computed (identity by default): a liar computes with another seed, so its
    /// synthesis shards pass every plan check (unit rows, labels, provenance, κ) with other synthetic rows.
    var rewrite: (AssignShard) -> AssignShard = { $0 }
    /// Every assignment received, in order.
    private(set) var assignments: [ShardReference] = []
    private var lastHeartbeat = ContinuousClock.now

    init(endpoint: String, name: String, security: SocketSecurity = .plaintext,
         alter: @escaping (AssignShard, ShardOutcome) throws -> ShardOutcome = { $1 }) throws {
        peer = try ConfinementProcessTests.Peer(endpoint, name: name, security: security)
        self.name = name
        self.alter = alter
    }

    /// Says hello and waits for the welcome.
    func register() async throws {
        try peer.send(Hello(workerName: name, toolVersion: ToolVersion.current, host: "localhost", processId: 1, threads: 1))
        _ = try #require(try await peer.next(Welcome.self), "\(name) was not welcomed")
    }

    /// Serves assignments (and heartbeats) until `done()` or `seconds` pass; true when `done()` became true.
    @discardableResult
    func serve(seconds: Double, until done: () throws -> Bool) async throws -> Bool {
        var lastCheck = ContinuousClock.now - .seconds(1)
        return try await eventually(seconds: seconds, interval: .milliseconds(10)) {
            while let frames = try peer.socket.receive(dontWait: true) {
                let message = try WireMessage.decode(frames)
                if let assignment = message.body(as: AssignShard.self) { try handle(assignment, payloads: message.payloads) }
            }
            if ContinuousClock.now - lastHeartbeat > .milliseconds(100) {
                lastHeartbeat = .now
                try peer.send(Heartbeat())
            }
            guard ContinuousClock.now - lastCheck > .milliseconds(200) else { return false }
            lastCheck = .now
            return try done()
        }
    }

    func handle(_ assignment: AssignShard, payloads: [[UInt8]]) throws {
        assignments.append(assignment.shard)
        let directory = try #require(assignment.sharedShardDirectory, "the fake worker writes to the shared shard directory")
        let kappas = payloads.first.flatMap(WireMessage.float32Values) ?? []
        let task = ShardTask(assignment: rewrite(assignment), kappas: kappas, inputPath: assignment.input.path, outputDirectory: directory)
        let context = ShardContext(threads: 1, isCancelled: { false }, progress: { _, _ in })
        let outcome = try alter(assignment, try executor.execute(task, context: context))
        let result = ShardResult(shard: assignment.shard, rowsPerClass: outcome.rowsPerClass, sha256: outcome.sha256,
                                 byteCount: outcome.byteCount, path: outcome.path, seconds: 0.01,
                                 contentSHA256: outcome.contentSHA256, syntheticProbeSHA256: outcome.syntheticProbeSHA256)
        try peer.socket.send(WireMessage(result, payloads: outcome.payload.map { [$0] } ?? []).encode())
    }

    /// `outcome`'s shard file with every embedding replaced by NaN (labels and every other column unchanged),
    /// reported with its own correct digest and size: the forgery of issue 10.
    static func allNaN(_ assignment: AssignShard, _ outcome: ShardOutcome) throws -> ShardOutcome {
        guard let path = outcome.path else { return outcome }
        let file = try ShardResultValidatorTests.forge(path, layout: assignment.job.outputLayout, directory: (path as NSString).deletingLastPathComponent)
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: file.path, toPath: path)
        let bytes = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        return ShardOutcome(rowsPerClass: outcome.rowsPerClass, sha256: file.sha256, byteCount: bytes, path: path, payload: nil)
    }
}
