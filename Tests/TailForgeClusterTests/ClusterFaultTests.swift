import Foundation
import Testing
import TailForgeEngine
import TailForgeStorage
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// Faults an operator meets over weeks, with real `tailforge` processes on loopback: a slow worker, a class
    /// that kills its worker, a cancelled job, a second coordinator, a coordinator restarted over the leftovers of
    /// its earlier life. After each, every state and work directory is listed and must hold nothing the scenario
    /// does not need.
    @Suite struct ClusterFaultTests {
        typealias Fixture = ProcessClusterTests.Fixture

        func waitForJob(_ id: String, on endpoint: String, seconds: Double = 60) async throws -> JobStatus? {
            try await ProcessClusterTests.waitForJob(id, on: endpoint, seconds: seconds)
        }

        /// Every file under `directory`, relative to it (directories end in "/").
        static func files(_ directory: String) -> [String] {
            guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
            var result: [String] = []
            while let name = enumerator.nextObject() as? String {
                var isDirectory: ObjCBool = false
                // A file that vanishes between listing and this check is listed as a file.
                _ = FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(name), isDirectory: &isDirectory)
                result.append(isDirectory.boolValue ? name + "/" : name)
            }
            return result.sorted()
        }

        /// Files in the coordinator's state directory beyond its journal, endpoint, lock and jobs folder, and in
        /// each worker's directory beyond cached inputs.
        static func leftovers(_ cluster: LocalCluster) -> [String] {
            let state = files(cluster.stateDirectory).filter { !["journal.jsonl", "endpoint", "lock", "jobs/"].contains($0) }
                .map { "coordinator/" + $0 }
            let workers = cluster.workers.indices.flatMap { index in
                files(cluster.workDirectory(index)).filter { !($0.hasPrefix("input-") && $0.hasSuffix(".h5")) }.map { "worker\(index)/" + $0 }
            }
            return state + workers
        }

        /// Polls until `leftovers` is empty (workers delete their files when told) or the time is up.
        static func waitForNoLeftovers(_ cluster: LocalCluster, seconds: Double = 10) async -> [String] {
            _ = await eventually(seconds: seconds, interval: .milliseconds(50)) { leftovers(cluster).isEmpty }
            return leftovers(cluster)
        }

        /// The coordinator's log, shown when a test fails (tests assert on states and files, not on its wording).
        func log(_ cluster: LocalCluster, _ name: String = "coordinator") -> String {
            (try? String(contentsOfFile: cluster.logPath(name), encoding: .utf8)) ?? ""
        }

        @Test func aSlowWorkerTimesOutIsQuarantinedAndTheJobStillCommitsTheSameBytes() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster()
            cluster.coordinatorArguments = ["--quarantine-after", "1"]
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            // local0 takes the first shard (workers are picked by name) and sits 10 s on each class without progress.
            try cluster.startWorker(environment: [EngineShardExecutor.testDelayVariable: "10000"])
            try cluster.startWorker()
            try await cluster.waitForWorkers(2)
            var manifest = fixture.manifest(output: "slow-worker.h5", shards: 4)
            manifest.sharding.shardTimeoutSeconds = 3
            let client = try ClusterClient(coordinator: cluster.endpoint)
            let job = try client.submit(manifest)
            let final = try #require(try await waitForJob(job, on: cluster.endpoint))
            #expect(final.state == .committed, "\(final.error ?? "")\n\(log(cluster))")
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)
            // local0 timed out (its attempt failed), was quarantined, and was never offered a shard again: one
            // failure in a row, not a "busy" refusal counted on top.
            let workers = try client.status().workers
            let slow = try #require(workers.first { $0.name == "local0" })
            #expect(slow.quarantined?.contains("shard timeout") == true && slow.consecutiveFailures == 1, "\(slow)\n\(log(cluster))")
            #expect(workers.first { $0.name == "local1" }?.quarantined == nil)
            // `--insecure` is what an operator who started the coordinator with it types; a client accepts it.
            let table = try await Child.run(fixture.executable, ["status", "--insecure", "--coordinator", cluster.endpoint])
            #expect(table.stdout.contains("quarantined (gets no shards until it registers again): "), "\(table.stdout)")
            #expect(await Self.waitForNoLeftovers(cluster).isEmpty, "\(Self.leftovers(cluster))")
        }

        @Test func aClassThatKillsEveryWorkerFailsTheJobNamingItsClassesAfterTheAttemptCap() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster(environment: [EngineShardExecutor.testCrashClassVariable: "3"])
            defer { cluster.stop() }
            try await cluster.start(workers: 3)
            var manifest = fixture.manifest(output: "poison.h5", shards: 4)
            manifest.sharding.maxAttempts = 2
            let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)
            let final = try #require(try await waitForJob(job, on: cluster.endpoint))
            #expect(final.state == .failed)
            let error = final.error ?? ""
            #expect(error.contains("failed 2 times") && error.contains("the worker was lost while computing it"), "\(error)")
            let classes = try #require(error.firstRange(of: "(classes ").map { error[$0.upperBound...].prefix { $0 != ")" } })
            #expect(classes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.contains("3"), "\(error)")
            // Two workers died; the third was never offered the shard again.
            #expect(cluster.workers.filter(\.isRunning).count == 1)
            #expect(!FileManager.default.fileExists(atPath: manifest.output))
            #expect(await Self.waitForNoLeftovers(cluster).isEmpty, "\(Self.leftovers(cluster))")
        }

        @Test func aCancelledJobLeavesNoFilesOnTheCoordinatorOrTheWorkers() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster(environment: ProcessClusterTests.slowShards)
            defer { cluster.stop() }
            try await cluster.start(workers: 2)
            var manifest = fixture.manifest(output: "cancelled.h5", shards: 6)
            manifest.transfer.streamInput = true
            let client = try ClusterClient(coordinator: cluster.endpoint)
            let job = try client.submit(manifest)
            // Cancel once shard files exist on both sides: fetched ones on the coordinator, unfetched on workers.
            _ = try await eventually(seconds: 60, interval: .milliseconds(20)) { try fixture.journal(cluster).filter({ $0.event == .shard }).count >= 2 }
            #expect(!Self.leftovers(cluster).isEmpty, "the job was cancelled before it wrote anything")
            let reply = try client.cancel(job: job)
            #expect(reply.cancelled)
            #expect(await Self.waitForNoLeftovers(cluster).isEmpty, "\(Self.leftovers(cluster))")
            #expect(Self.files((cluster.stateDirectory as NSString).appendingPathComponent("jobs")).isEmpty)
            #expect(try client.status(job: job).jobs.first?.state == .cancelled)
        }

        @Test func aSecondCoordinatorOnTheSameStateDirectoryRefusesNamingTheFirstOnesPID() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster()
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            let endpointFile = CoordinatorRuntime.endpointFile(stateDirectory: cluster.stateDirectory)
            let endpointBefore = try String(contentsOfFile: endpointFile, encoding: .utf8)
            let second = try await Child.run(fixture.executable, ["coordinator", "--bind", "tcp://127.0.0.1:*", "--state-dir", cluster.stateDirectory, "--insecure", "--data-root", fixture.directory])
            #expect(second.status != 0)
            // What the operator reads: the refusal names the running coordinator.
            #expect(second.stderr.contains("(PID \(cluster.coordinator!.processIdentifier))"), "\(second.stderr)")
            #expect(try String(contentsOfFile: endpointFile, encoding: .utf8) == endpointBefore)
            #expect(cluster.coordinator?.isRunning == true)
        }

        @Test func aRestartedCoordinatorRemovesItsTemporariesAndPurgesJobsPastRetention() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster()
            cluster.coordinatorArguments = ["--retain-jobs", "1s"]
            defer { cluster.stop() }
            try await cluster.start(workers: 1)
            let manifest = fixture.manifest(output: "retained.h5", shards: 2)
            let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)
            #expect(try await waitForJob(job, on: cluster.endpoint)?.state == .committed)
            await cluster.crashCoordinator()

            // What a coordinator killed mid-gather and mid-fetch leaves: a hidden temporary output of a dead
            // process, a partial shard, the directory of a job the journal does not know.
            let finished = try Child("/bin/true", [])
            _ = await finished.finish()
            let outputDirectory = (manifest.output as NSString).deletingLastPathComponent
            let temporary = (outputDirectory as NSString).appendingPathComponent(".retained.h5.tmp-\(finished.process.processIdentifier)-1")
            #expect(FileManager.default.createFile(atPath: temporary, contents: Data(count: 1000)))
            let ghost = (cluster.stateDirectory as NSString).appendingPathComponent("jobs/job-ghost")
            try FileManager.default.createDirectory(atPath: ghost, withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: ghost + "/shard-0.h5.partial", contents: Data(count: 10)))
            try await Task.sleep(for: .milliseconds(1_100))  // past the 1 s retention

            try await cluster.startCoordinator(bind: cluster.endpoint)
            #expect(!FileManager.default.fileExists(atPath: temporary))
            #expect(!FileManager.default.fileExists(atPath: ghost))
            #expect(try ClusterClient(coordinator: cluster.endpoint).status().jobs.isEmpty)
            #expect(try fixture.journal(cluster).filter { $0.job == job }.isEmpty)
            // The output itself is the user's and stays.
            #expect(try SHA256.hexDigest(ofFileAt: manifest.output) == fixture.referenceSHA256)
            #expect(await Self.waitForNoLeftovers(cluster).isEmpty, "\(Self.leftovers(cluster))")
        }

        @Test func theStreamedInputCacheKeepsWithinItsBoundLeastRecentlyUsedFirst() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let other = try SyntheticPreset.small.write(to: (fixture.directory as NSString).appendingPathComponent("data-other"), seed: 6).train
            let size = { (path: String) in (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0 }
            let cluster = fixture.cluster()
            // Room for the larger of the two inputs, not for both.
            cluster.workerArguments = ["--cache-max-bytes", "\(max(try size(fixture.input), try size(other)) + 1)"]
            defer { cluster.stop() }
            try await cluster.start(workers: 1)
            let client = try ClusterClient(coordinator: cluster.endpoint)
            let cached = { Self.files(cluster.workDirectory(0)).filter { $0.hasPrefix("input-") } }
            for (index, input) in [fixture.input, other].enumerated() {
                var manifest = fixture.manifest(output: "cache-\(index).h5", shards: 2)
                manifest.input.path = input
                manifest.transfer.streamInput = true
                let job = try client.submit(manifest)
                #expect(try await waitForJob(job, on: cluster.endpoint)?.state == .committed)
                #expect(cached() == ["input-\(try SHA256.hexDigest(ofFileAt: input)).h5"], "\(cached())")
            }
        }

        @Test func aFailedJournalWriteFailsOnlyItsJobAndLeavesTheJournalWhole() async throws {
            let fixture = try await ProcessClusterTests.shared()
            // Job A journals 7 records (submitted, prepared, 2 × κ, 2 × shard, committed); B's plan is the 9th.
            let cluster = fixture.cluster(environment: [Journal.testFailAppendVariable: "9"])
            defer { cluster.stop() }
            try await cluster.start(workers: 1)
            let client = try ClusterClient(coordinator: cluster.endpoint)
            var states: [JobState?] = []
            var ids: [String] = []
            for name in ["journal-a.h5", "journal-b.h5", "journal-c.h5"] {
                let job = try client.submit(fixture.manifest(output: name, shards: 2))
                ids.append(job)
                states.append(try await waitForJob(job, on: cluster.endpoint)?.state)
            }
            #expect(states == [.committed, .failed, .committed])
            let failure = try client.status(job: ids[1]).jobs.first?.error ?? ""
            #expect(failure.contains("cannot journal the plan") && failure.contains("No space left on device"), "\(failure)")

            // The half-written record was cut off: after a restart every job reads back as it ended, and the journal
            // reads whole (a damaged record would refuse the restart).
            await cluster.crashCoordinator()
            cluster.environment = [:]
            try await cluster.startCoordinator(bind: cluster.endpoint)
            let after = try ClusterClient(coordinator: cluster.endpoint).status(job: nil).jobs
            #expect(ids.map { id in after.first { $0.job == id }?.state } == [.committed, .failed, .committed])
            #expect(try Journal.entries(directory: cluster.stateDirectory).filter { $0.event == .committed }.count == 2)
            #expect(try SHA256.hexDigest(ofFileAt: (fixture.directory as NSString).appendingPathComponent("journal-c.h5")) == fixture.referenceSHA256)
        }
    }
}
