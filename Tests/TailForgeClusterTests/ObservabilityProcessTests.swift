import Foundation
import Testing
import TailForgeStorage
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// `--metrics-bind` and `--http-bind` on real daemons: scraped while a job runs and after it, parsed as
    /// Prometheus text, and checked against what the job must have done; and the ways a user gets them wrong.
    @Suite struct ObservabilityProcessTests {
        /// The URL a daemon wrote once its listener was up.
        static func endpoint(_ file: String, seconds: Double = 20) async -> String? {
            await eventually(seconds: seconds, interval: .milliseconds(20)) {
                (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { $0.hasSuffix("\n") ? $0.trimmingCharacters(in: .whitespacesAndNewlines) : nil }
            }
        }

        static func scrape(_ base: String) async throws -> PrometheusText {
            let (status, body, type) = try await httpGet(base + "/metrics")
            #expect(status == 200)
            #expect(type?.hasPrefix("text/plain; version=0.0.4") == true)
            return try PrometheusText(body)
        }

        @Test func aRealCoordinatorAndWorkersReportWhatTheJobDid() async throws {
            let fixture = try await ProcessClusterTests.shared()
            // Slowed shards (100 ms a class): the job runs long enough to be scraped while it runs.
            let cluster = fixture.cluster(environment: ProcessClusterTests.slowShards)
            cluster.coordinatorArguments = ["--metrics-bind", "127.0.0.1:0", "--http-bind", "127.0.0.1:0"]
            cluster.workerArguments = ["--metrics-bind", "127.0.0.1:0"]
            defer { cluster.stop() }
            try await cluster.start(workers: 2)
            let coordinatorMetrics = try #require(await Self.endpoint(HTTPListener.endpointFile(directory: cluster.stateDirectory, flag: "--metrics-bind")))
            let page = try #require(await Self.endpoint(HTTPListener.endpointFile(directory: cluster.stateDirectory, flag: "--http-bind")))
            var workerMetrics: [String] = []
            for index in 0..<2 {
                workerMetrics.append(try #require(await Self.endpoint(HTTPListener.endpointFile(directory: cluster.workDirectory(index), flag: "--metrics-bind"))))
            }

            let client = try ClusterClient(coordinator: cluster.endpoint, timeoutSeconds: 5)
            let job = try client.submit(fixture.manifest(output: "observed.h5", shards: 3))
            var sawRunning = false, scrapes = 0
            var final: JobStatus?
            // Scraping while it runs: every answer parses; the page's JSON shows the job part-way.
            let deadline = ContinuousClock.now + .seconds(120)
            while final?.state.isTerminal != true, ContinuousClock.now < deadline {
                _ = try await Self.scrape(coordinatorMetrics)
                for worker in workerMetrics { _ = try await Self.scrape(worker) }
                let status = try await httpGet(page + "/api/status")
                let snapshot = try JSONDecoder().decode(ClusterSnapshot.self, from: Data(status.body.utf8))
                if let listed = snapshot.jobs.first(where: { $0.id == job }), listed.state == "running", listed.progress < 1 { sawRunning = true }
                scrapes += 1
                final = try client.status(job: job).jobs.first
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(final?.state == .committed, "\(final?.error ?? "")")
            #expect(sawRunning, "no scrape of /api/status saw the job running (\(scrapes) scrapes)")
            let totalRows = try #require(final?.totalRows)
            #expect(totalRows > 0)

            // Gauges follow within a snapshot interval (250 ms).
            var coordinator = try await Self.scrape(coordinatorMetrics)
            for _ in 0..<200 where coordinator.value("tailforge_jobs", ["state": "committed"]) != 1 {
                try await Task.sleep(for: .milliseconds(50))
                coordinator = try await Self.scrape(coordinatorMetrics)
            }
            #expect(coordinator.value("tailforge_jobs", ["state": "committed"]) == 1)
            #expect(coordinator.value("tailforge_jobs", ["state": "running"]) == 0)
            #expect(coordinator.value("tailforge_rows_generated_total") == Double(totalRows))
            #expect(coordinator.value("tailforge_shards_completed_total") == 6, "3 shards × 2 stages")
            #expect(coordinator.value("tailforge_workers_alive") == 2)
            for name in ["local0", "local1"] {
                let age = try #require(coordinator.value("tailforge_worker_heartbeat_age_seconds", ["worker": name]))
                #expect(age >= 0 && age < 1.0, "within the 1 s liveness window")
            }
            #expect(coordinator.value("tailforge_shard_retries_total") == 0)
            #expect(coordinator.types["tailforge_gradient_request_seconds"] == "histogram")

            var workers: [PrometheusText] = []
            for base in workerMetrics { workers.append(try await Self.scrape(base)) }
            for worker in workers { #expect(worker.value("tailforge_worker_registered") == 1) }
            // What the workers generated and sent is what the coordinator accepted and fetched.
            #expect(workers.reduce(0) { $0 + $1.value("tailforge_rows_generated_total")! } == Double(totalRows))
            #expect(workers.reduce(0) { $0 + $1.sum("tailforge_shards_completed_total") } == 6)
            let sent = workers.reduce(0) { $0 + $1.value("tailforge_bytes_moved_total", ["direction": "sent", "what": "shard"])! }
            #expect(sent > 0)
            #expect(coordinator.value("tailforge_bytes_moved_total", ["direction": "received", "what": "shard"]) == sent)

            // The page's data: the job committed with its stages and class counts before and after balancing.
            let status = try await httpGet(page + "/api/status")
            let snapshot = try JSONDecoder().decode(ClusterSnapshot.self, from: Data(status.body.utf8))
            let listed = try #require(snapshot.jobs.first { $0.id == job })
            #expect(listed.state == "committed" && listed.progress == 1 && listed.rowsWritten == totalRows)
            #expect(listed.stages.map(\.name) == ["plan", "concentrations", "synthesis", "gather"])
            let counts = try #require(listed.classCounts)
            #expect(counts.before.count == 20 && counts.after.reduce(0, +) == totalRows)
            #expect(Set(snapshot.workers.map(\.name)) == ["local0", "local1"])
            let html = try await httpGet(page + "/")
            #expect(html.status == 200 && html.body.contains(job))
        }

        /// A listening socket on a free loopback port, held until closed.
        static func occupyPort() throws -> (fd: Int32, port: Int) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            try withUnsafeMutablePointer(to: &address) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    guard bind(fd, raw, length) == 0, listen(fd, 4) == 0, getsockname(fd, raw, &length) == 0 else {
                        throw POSIXError(.EADDRINUSE)
                    }
                }
            }
            return (fd, Int(UInt16(bigEndian: address.sin_port)))
        }

        @Test func aPortInUseABadBindAndAnOpenPageWithoutATokenAreRefused() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let state = (fixture.directory as NSString).appendingPathComponent("refusals-\(UUID().uuidString)")
            let base = ["coordinator", "--insecure", "--bind", "tcp://127.0.0.1:*", "--state-dir", state, "--data-root", fixture.directory]
            let (fd, port) = try Self.occupyPort()
            defer { close(fd) }
            for flag in ["--metrics-bind", "--http-bind"] {
                let run = try await Child.run(fixture.executable, base + [flag, "127.0.0.1:\(port)"])
                #expect(run.status != 0)
                #expect(run.stderr.contains("\(flag) 127.0.0.1:\(port): port \(port) is already in use"), "\(run.stderr)")
            }
            let worker = try await Child.run(fixture.executable, ["worker", "--insecure", "--connect", "tcp://127.0.0.1:1", "--work-dir", state + "-w",
                                                                  "--metrics-bind", "127.0.0.1:\(port)"])
            #expect(worker.status != 0)
            #expect(worker.stderr.contains("port \(port) is already in use"), "\(worker.stderr)")

            let bad = try await Child.run(fixture.executable, base + ["--metrics-bind", "localhost:prometheus"])
            #expect(bad.status == 64)
            #expect(bad.stderr.contains("--metrics-bind 'localhost:prometheus': 'prometheus' is not a port"), "\(bad.stderr)")
            // A misspelt host passes the syntax check; binding it fails with a message about the name, not NIO's error type.
            let typo = try await Child.run(fixture.executable, base + ["--metrics-bind", "lcalhost.invalid:0"])
            #expect(typo.status != 0)
            #expect(typo.stderr.contains("--metrics-bind lcalhost.invalid:0: lcalhost.invalid is not a host name this machine can resolve"), "\(typo.stderr)")
            let open = try await Child.run(fixture.executable, base + ["--http-bind", "0.0.0.0:0"])
            #expect(open.status == 64)
            #expect(open.stderr.contains("--http-token-file"), "\(open.stderr)")
        }

        @Test func aSecondCoordinatorOnTheSameStateDirectoryLeavesTheFirstOnesPageAlone() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster()
            cluster.coordinatorArguments = ["--http-bind", "127.0.0.1:0"]
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            let file = HTTPListener.endpointFile(directory: cluster.stateDirectory, flag: "--http-bind")
            let page = try #require(await Self.endpoint(file))
            let second = try await Child.run(fixture.executable, ["coordinator", "--insecure", "--bind", "tcp://127.0.0.1:*", "--state-dir",
                                                                  cluster.stateDirectory, "--data-root", fixture.directory, "--http-bind", "127.0.0.1:0"])
            #expect(second.status != 0)
            #expect(second.stderr.contains("is in use by another coordinator"), "\(second.stderr)")
            #expect(!second.stderr.contains("status page"), "the refused coordinator served a page: \(second.stderr)")
            // Its listener neither replaced nor, on its way out, removed the running coordinator's endpoint file.
            #expect((try? String(contentsOfFile: file, encoding: .utf8)) == page + "\n")
            #expect(try await httpGet(page + "/api/status").status == 200)
        }

        @Test func aTokenGuardsThePageAndItsData() async throws {
            let fixture = try await ProcessClusterTests.shared()
            let cluster = fixture.cluster()
            let tokenFile = (fixture.directory as NSString).appendingPathComponent("token-\(UUID().uuidString)")
            let token = "s3cret-" + UUID().uuidString
            try (token + "\n").write(toFile: tokenFile, atomically: true, encoding: .utf8)
            chmod(tokenFile, 0o600)
            cluster.coordinatorArguments = ["--http-bind", "127.0.0.1:0", "--http-token-file", tokenFile]
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            let page = try #require(await Self.endpoint(HTTPListener.endpointFile(directory: cluster.stateDirectory, flag: "--http-bind")))
            for path in ["/", "/api/status", "/metrics"] {
                #expect(try await httpGet(page + path).status == 401, "\(path) without the token")
                #expect(try await httpGet(page + path, bearer: token + "x").status == 401, "\(path) with a wrong token")
                #expect(try await httpGet(page + path, bearer: token).status == 200, "\(path) with the token")
            }
            #expect(try await httpGet(page + "/?token=" + token).status == 200, "a browser's first visit")
        }
    }
}
