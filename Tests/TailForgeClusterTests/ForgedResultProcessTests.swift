import Foundation
import Testing
import TailForgeStorage
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// Results a worker key holder forges, against a real coordinator process: refused before they are accepted,
    /// the worker quarantined, the shard recomputed by an honest worker, the output the single-node bytes.
    @Suite struct ForgedResultProcessTests {
        @Test func anAllNaNShardWithTheRightLabelsIsRefusedAndRecomputedAndTheJobCommitsTheSingleNodeBytes() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster()
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            // The forger registers alone, so it gets the job's first shards: honest κ in stage 1, NaN rows in stage 2.
            let forger = try FakeWorker(endpoint: cluster.endpoint, name: "forger") { assignment, outcome in
                try FakeWorker.allNaN(assignment, outcome)
            }
            try await forger.register()
            let manifest = try fixture.manifestWithSharedShards(output: "forged.h5", shards: 2)
            let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5)
            let job = try client.submit(manifest)
            let refused = try await forger.serve(seconds: 60) {
                try client.status(job: job).workers.first { $0.name == "forger" }?.quarantined != nil
            }
            let state = try client.status(job: job).jobs.first
            #expect(refused, "the forged shard was not refused: \(state.map { "\($0.state) \($0.error ?? "")" } ?? "")")
            // Checked off the network thread, so it may have been handed the other shard before the first was refused.
            let forged = forger.assignments.filter { $0.stage == .synthesis }
            #expect((1...2).contains(forged.count), "\(forger.assignments)")
            #expect(try client.status(job: job).jobs.first?.state == .running, "a refused shard does not fail the job")

            try cluster.startWorker()
            let final = try #require(try await ProcessClusterTests.waitForJob(job, on: cluster.endpoint, seconds: 60))
            #expect(final.state == .committed, "\(final.error ?? "")")
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)
            // It kept heartbeating, but got nothing more once refused, and none of its shards was accepted.
            #expect(forger.assignments.filter { $0.stage == .synthesis } == forged)
            let log = try String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)
            for reference in forged { #expect(log.contains("refused \(reference) from forger") && log.contains("NaN"), "\(log)") }
            #expect(log.contains("worker forger (address "), "the quarantine names who the worker is")
        }
    }
}
