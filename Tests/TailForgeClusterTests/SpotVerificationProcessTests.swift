import Foundation
import Testing
import TailForgeEngine
import TailForgeStorage
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// `verify: spot` against a real coordinator process, with a worker (its own allowed key) that returns
    /// shards computed with another seed: they pass every plan check, only a second computation shows the lie.
    @Suite struct SpotVerificationProcessTests {
        @Test func aLyingWorkerIsCaughtQuarantinedByKeyAndItsShardsRecomputedToTheSingleNodeBytes() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster()
            defer { cluster.stop() }
            cluster.secure = true
            // Every shard checked, so the test does not depend on which shards the seed picks.
            cluster.coordinatorArguments = ["--verify-fraction", "1"]
            try cluster.ensureKeys()
            _ = try KeyGenerator.generate(directory: cluster.keyDirectory, name: "liar")
            try FileManager.default.copyItem(atPath: cluster.keyDirectory + "/liar.pub", toPath: cluster.allowDirectory + "/workers/liar.pub")
            try await cluster.startCoordinator()

            let liarKeys = try CurveKeyPair.load(secretKeyFile: cluster.keyDirectory + "/liar.key")
            let coordinatorKey = try CurveKey.load(publicKeyFile: cluster.keyDirectory + "/coordinator.pub")
            let liar = try FakeWorker(endpoint: cluster.endpoint, name: "liar", security: .curveClient(liarKeys, serverPublicKey: coordinatorKey))
            liar.rewrite = { assignment in
                var other = assignment
                other.job.policy.seed &+= 1
                return other
            }
            try await liar.register()
            var manifest = try fixture.manifestWithSharedShards(output: "spot.h5", shards: 3)
            manifest.verify = .spot
            let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5, security: try cluster.clientSecurity)
            let job = try client.submit(manifest)
            try cluster.startWorker()
            try cluster.startWorker()
            try await liar.serve(seconds: 90) { try client.status(job: job).jobs.first?.state.isTerminal == true }
            let final = try #require(try client.status(job: job).jobs.first)
            #expect(final.state == .committed, "\(final.error ?? "")")
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)

            let lies = liar.assignments.filter { $0.stage == .synthesis }
            #expect(!lies.isEmpty, "the liar computed a synthesis shard: \(liar.assignments)")
            let fingerprint = CurveKey.fingerprint(raw: try #require(CurveKey.bytes(liarKeys.publicKey)))
            let log = try String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)
            #expect(log.contains("worker liar (key \(fingerprint)) returned synthesis of shard"), "the lie is logged with the key's fingerprint")
            #expect(try client.status().workers.first { $0.name == "liar" }?.quarantined != nil)
            let resolved = try ResolvedManifest.read(from: ResolvedManifest.path(forOutput: manifest.output))
            let verification = try #require(resolved.verification)
            #expect(verification.fraction == 1 && verification.excluded == ["liar (key \(fingerprint))"])
            #expect(verification.checks.count == 6, "every shard of both stages: \(verification.checks)")
            #expect(verification.checks.contains { $0.outcome == "liar: liar" }, "\(verification.checks)")
            #expect(verification.checks.filter { $0.stage == "concentrations" }.allSatisfy { $0.outcome == "agreed" },
                    "honest in stage 1 (κ do not depend on the seed): \(verification.checks)")
        }

        @Test func spotVerificationOnAHonestClusterCommitsTheSingleNodeBytesAndRecordsTheChecks() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster()
            defer { cluster.stop() }
            cluster.coordinatorArguments = ["--verify-fraction", "0.5"]
            try await cluster.start(workers: 2)
            let manifest = fixture.manifest(output: "spot-honest.h5", shards: 4)
            // Ad hoc from the command line: `--verify spot` stands for the manifest's `verify: spot`.
            let submitted = try await Child.run(fixture.executable, ["submit", fixture.input, "--output", manifest.output, "--seed", "\(fixture.seed)",
                                                                     "--shards", "4", "--verify", "spot", "--coordinator", cluster.endpoint])
            #expect(submitted.status == 0, "\(submitted.stderr)")
            let job = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let final = try #require(try await ProcessClusterTests.waitForJob(job, on: cluster.endpoint, seconds: 60))
            #expect(final.state == .committed, "\(final.error ?? "")")
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)
            let resolved = try ResolvedManifest.read(from: ResolvedManifest.path(forOutput: manifest.output))
            #expect(resolved.manifest.verify == .spot)
            let verification = try #require(resolved.verification)
            // Half of 4 shards per stage, each computed on both workers (fetched copies, no shared directory).
            #expect(verification.checks.count == 4 && verification.checks.allSatisfy { $0.outcome == "agreed" && Set($0.workers) == ["local0", "local1"] },
                    "\(verification.checks)")
            let status = try await Child.run(fixture.executable, ["status", job, "--coordinator", cluster.endpoint])
            #expect(status.stdout.contains("    spot verification: 4 check(s) confirmed by a second worker\n"), "\(status.stdout)")
            let wait = try await Child.run(fixture.executable, ["wait", job, "--coordinator", cluster.endpoint])
            #expect(wait.status == 0 && !wait.stderr.contains("spot verification"), "nothing to look at: \(wait.stderr)")
            #expect(await ClusterFaultTests.waitForNoLeftovers(cluster).isEmpty, "\(ClusterFaultTests.leftovers(cluster))")
        }

        /// A coordinator killed with SIGKILL mid job and started again on its state directory: the checks decided
        /// before the kill stay in the resolved manifest (journaled with the results they accepted), no shard is
        /// checked twice, and the output is the single-node bytes.
        @Test func aCoordinatorKilledMidJobKeepsTheChecksItDecidedBefore() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster(environment: ProcessClusterTests.slowShards)
            defer { cluster.stop() }
            cluster.coordinatorArguments = ["--verify-fraction", "1"]
            try await cluster.start(workers: 2)
            var manifest = fixture.manifest(output: "spot-restarted.h5", shards: 8)
            manifest.verify = .spot
            let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)

            _ = try await eventually(seconds: 30) { try fixture.journal(cluster).filter { $0.check != nil }.count >= 2 }
            await cluster.crashCoordinator()
            let entries = try fixture.journal(cluster)
            let before = entries.compactMap(\.check)
            try #require(before.count >= 2 && !entries.contains { $0.event == .committed }, "killed too late: \(before.count) checks")

            try await cluster.startCoordinator(bind: cluster.endpoint)
            let final = try #require(try await ProcessClusterTests.waitForJob(job, on: cluster.endpoint, seconds: 60))
            #expect(final.state == .committed, "\(final.error ?? "")")
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)
            let verification = try #require(try ResolvedManifest.read(from: ResolvedManifest.path(forOutput: manifest.output)).verification)
            #expect(Array(verification.checks.prefix(before.count)) == before, "the checks decided before the kill come first: \(verification.checks)")
            for stage in ["concentrations", "synthesis"] {
                #expect(verification.checks.filter { $0.stage == stage }.map(\.shard).sorted() == Array(0..<8), "each \(stage) shard checked once: \(verification.checks)")
            }
            #expect(verification.checks.allSatisfy { $0.outcome == "agreed" && Set($0.workers) == ["local0", "local1"] }, "\(verification.checks)")
            #expect(await ClusterFaultTests.waitForNoLeftovers(cluster).isEmpty, "\(ClusterFaultTests.leftovers(cluster))")
        }

        @Test func aSpotJobIsRefusedByACoordinatorWithVerificationOff() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster()
            defer { cluster.stop() }
            cluster.coordinatorArguments = ["--verify-fraction", "0"]
            try await cluster.startCoordinator()
            var manifest = fixture.manifest(output: "spot-off.h5", shards: 1)
            manifest.verify = .spot
            do {
                _ = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5).submit(manifest)
                Issue.record("accepted")
            } catch {
                guard case .rejected(let code, let message) = error else { Issue.record("\(error)"); return }
                #expect(code == "invalid-manifest" && message.contains("--verify-fraction 0"), "\(message)")
            }
        }
    }
}
