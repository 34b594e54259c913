import Foundation
import Testing
import TailForgeStorage
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// `--log-format json` on real daemons: every line an object a collector can parse, the ids as keys, and the
    /// levels of a run where nothing went wrong (a graceful shutdown is not a warning).
    @Suite struct StructuredLogTests {
        /// Each line of a child's log, parsed; a line that is not a JSON object fails the test with the line.
        func records(_ cluster: LocalCluster, _ name: String) throws -> [[String: Any]] {
            let text = try String(contentsOfFile: cluster.logPath(name), encoding: .utf8)
            return try text.split(separator: "\n").map { line in
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8))
                return try #require(object as? [String: Any], "not a JSON object: \(line)")
            }
        }

        @Test func jsonLinesCarryJobShardAndWorkerIdsAndACleanRunHasNoWarnings() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster()
            cluster.secure = true
            cluster.coordinatorArguments = ["--log-format", "json"]
            cluster.workerArguments = ["--log-format", "json"]
            defer { cluster.stop() }
            try await cluster.start(workers: 2)
            let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5, security: try cluster.clientSecurity)
            let manifest = fixture.manifest(output: "json-logs.h5", shards: 3)
            let job = try client.submit(manifest)
            var final: JobStatus?
            #expect(try await eventually(seconds: 60, interval: .milliseconds(50)) {
                final = try client.status(job: job).jobs.first
                return final?.state.isTerminal == true
            })
            #expect(final?.state == .committed, "\(final?.error ?? "")")

            // SIGTERM: both stop gracefully, which must be logged at info.
            for worker in cluster.workers { LocalCluster.signal(worker, SIGTERM); await LocalCluster.exited(worker) }
            if let coordinator = cluster.coordinator { LocalCluster.signal(coordinator, SIGTERM); await LocalCluster.exited(coordinator) }

            let coordinator = try records(cluster, "coordinator")
            let workers = try records(cluster, "worker0") + records(cluster, "worker1")
            for record in coordinator + workers {
                for key in ["time", "level", "logger", "message"] { #expect(record[key] is String, "no \(key) in \(record)") }
            }
            // The coordinator's lines about shards name the job, the shard, its stage and attempt, and the worker.
            let assigned = coordinator.filter { ($0["message"] as? String)?.hasPrefix("assigned ") == true }
            #expect(assigned.count >= 6, "3 shards × 2 stages")
            for record in assigned {
                #expect(record["job"] as? String == job)
                #expect(record["shard"] is String && record["stage"] is String && record["attempt"] is String, "\(record)")
                #expect(["local0", "local1"].contains(record["worker"] as? String ?? ""), "\(record)")
            }
            #expect(coordinator.contains { ($0["message"] as? String)?.hasPrefix("job \(job) committed:") == true && $0["job"] as? String == job })
            // Every worker line names its worker; its shard lines name the job and shard too.
            for record in workers { #expect(["local0", "local1"].contains(record["worker"] as? String ?? ""), "\(record)") }
            let started = workers.filter { ($0["message"] as? String)?.hasPrefix("started ") == true }
            #expect(!started.isEmpty)
            for record in started { #expect(record["job"] as? String == job && record["shard"] is String, "\(record)") }

            let shutdowns = (coordinator + workers).filter { ($0["message"] as? String)?.contains("shut down gracefully") == true }
            #expect(shutdowns.count == 4, "each worker logs it, and the coordinator logs each worker's goodbye")
            for record in shutdowns { #expect(record["level"] as? String == "info", "\(record)") }
            let loud = (coordinator + workers).filter { ["warning", "error", "critical"].contains($0["level"] as? String ?? "") }
            #expect(loud.isEmpty, "a clean run logged: \(loud)")
        }

        @Test func aWorkerRefusesAnUnknownLogFormat() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: fixture.executable)
            process.arguments = ["worker", "--connect", "tcp://127.0.0.1:1", "--work-dir", "/dev/null/impossible", "--insecure", "--log-format", "yaml"]
            let pipe = Pipe()
            process.standardError = pipe
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            await LocalCluster.exited(process)
            #expect(process.terminationStatus == 64)
            #expect(output.contains("'yaml' is invalid for '--log-format"), "\(output)")
        }
    }
}
