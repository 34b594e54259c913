import Foundation
import Testing
import TailForgeEngine
import TailForgeStorage
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// A compact job against a real coordinator process: its stage-2 shards stay on the workers. The coordinator
    /// checks each shard's reported digests against its own derivation from the input and the κ and writes the
    /// compact file from the same, so a shard file may vanish once reported and a shard computed with another seed
    /// is caught without spot verification. (Two real workers fetching no shard byte: `ProcessClusterTests`.)
    @Suite struct CompactJobProcessTests {
        /// A compact shard file is gone once its worker reported it (this release's workers never write it, hashing
        /// its bytes in memory; this one also deletes any it still has): the job commits the single-node bytes, because nothing reads the
        /// file. (Before, the coordinator read the shard from the shared shard directory, refused it as unreadable and
        /// quarantined the worker: no commit.) The shared shard directory is left empty.
        @Test func aCompactJobCommitsWhenItsShardFilesAreGoneAfterTheReport() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster()
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            let worker = try FakeWorker(endpoint: cluster.endpoint, name: "forgetful") { _, outcome in
                if let path = outcome.path { try? FileManager.default.removeItem(atPath: path) }
                return outcome
            }
            try await worker.register()
            var manifest = try fixture.manifestWithSharedShards(output: "compact-forgetful.h5", shards: 3)
            manifest.layout = .compact
            let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5)
            let job = try client.submit(manifest)
            try await worker.serve(seconds: 60) { try client.status(job: job).jobs.first?.state.isTerminal == true }
            let final = try #require(try client.status(job: job).jobs.first)
            #expect(final.state == .committed, "\(final.error ?? "")")
            #expect(worker.assignments.filter { $0.stage == .synthesis }.count == 3, "each synthesis shard once: \(worker.assignments)")
            let single = (fixture.directory as NSString).appendingPathComponent("single-compact-forgetful.h5")
            let balance = try await Child.run(fixture.executable, ["balance", fixture.input, "--output", single, "--seed", "\(fixture.seed)", "--layout", "compact"])
            #expect(balance.status == 0, "\(balance.stderr)")
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == SHA256.hexDigest(ofFileAt: single))
            let shared = try #require(manifest.transfer.sharedShardDirectory)
            #expect(try FileManager.default.contentsOfDirectory(atPath: shared).isEmpty, "no compact shard file is left behind")
        }

        /// A worker that computes with another seed passes every plan check of a full shard; for a compact shard
        /// the coordinator's derivation refuses it at once (no spot verification asked for): it is quarantined,
        /// its shards are recomputed by an honest worker, and the job commits the single-node bytes.
        @Test func aCompactShardComputedWithAnotherSeedIsRefusedWithoutSpotVerification() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster()
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            let liar = try FakeWorker(endpoint: cluster.endpoint, name: "liar")
            liar.rewrite = { assignment in
                var other = assignment
                other.job.policy.seed &+= 1
                return other
            }
            try await liar.register()
            var manifest = try fixture.manifestWithSharedShards(output: "compact-liar.h5", shards: 3)
            manifest.layout = .compact
            // Every class subsampled to 5 of its 10 to 200 rows: the kept real rows of every shard depend on the seed.
            manifest.policy.subsample = true
            manifest.policy.target = .count(5)
            let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5)
            let job = try client.submit(manifest)
            try cluster.startWorker()
            try await liar.serve(seconds: 90) { try client.status(job: job).jobs.first?.state.isTerminal == true }
            let final = try #require(try client.status(job: job).jobs.first)
            #expect(final.state == .committed, "\(final.error ?? "")")
            #expect(!liar.assignments.filter { $0.stage == .synthesis }.isEmpty, "the liar computed a synthesis shard: \(liar.assignments)")
            #expect(try client.status().workers.first { $0.name == "liar" }?.quarantined != nil)
            let log = try String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)
            #expect(log.contains("but the job's input and κ give"), "the refusal names the derivation")

            let single = (fixture.directory as NSString).appendingPathComponent("single-compact-liar.h5")
            let balance = try await Child.run(fixture.executable, ["balance", fixture.input, "--output", single, "--seed", "\(fixture.seed)",
                                                                   "--layout", "compact", "--subsample", "--target", "5"])
            #expect(balance.status == 0, "\(balance.stderr)")
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == SHA256.hexDigest(ofFileAt: single))
        }
    }
}
