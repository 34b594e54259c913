import Foundation
import CoreMetrics
import Logging
import TailForgeTestSupport
import Testing
@testable import TailForgeCluster

/// The pieces behind `--metrics-bind` and `--http-bind` without processes: bind strings, the token file, the
/// Prometheus text the registries render, the gauges a snapshot sets, and the training progress the
/// coordinator records.
@Suite struct ObservabilityTests {
    @Test(arguments: [
        ("9100", "127.0.0.1", 9100, true),
        ("127.0.0.1:0", "127.0.0.1", 0, true),
        ("localhost:8080", "localhost", 8080, true),
        ("0.0.0.0:9100", "0.0.0.0", 9100, false),
        ("[::1]:9100", "::1", 9100, true),
        ("[::]:9100", "::", 9100, false),
        ("node-3.cluster:9100", "node-3.cluster", 9100, false),
    ])
    func bindStringsParse(text: String, host: String, port: Int, loopback: Bool) throws {
        let address = try HTTPBindAddress(parsing: text, flag: "--metrics-bind")
        #expect(address.host == host && address.port == port)
        #expect(address.isLoopback == loopback)
    }

    @Test(arguments: [
        ("localhost:http", "not a port"),
        ("127.0.0.1:70000", "not a port"),
        ("http://127.0.0.1:9100", "without a scheme"),
        ("::1:9100", "[ADDRESS]:PORT"),
        (":9100", "not a host"),
        ("", "not a port"),
        ("host name:80", "not a host"),
    ])
    func badBindStringsSayWhatIsWrong(text: String, expected: String) {
        #expect {
            _ = try HTTPBindAddress(parsing: text, flag: "--metrics-bind")
        } throws: { error in
            let message = "\(error)"
            return message.hasPrefix("--metrics-bind '\(text)'") && message.contains(expected)
        }
    }

    @Test func theTokenFileMustBeOwnerOnlyAndLongEnough() throws {
        try withTemporaryDirectory("token") { directory in
            let path = (directory as NSString).appendingPathComponent("token")
            try "0123456789abcdef0123\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o644)
            #expect(throws: HTTPTokenError.self) { try HTTPToken.load(file: path) }
            do { _ = try HTTPToken.load(file: path) } catch let error as HTTPTokenError { #expect(error.description.contains("chmod 600 \(path)")) }
            chmod(path, 0o600)
            let token = try HTTPToken.load(file: path)
            #expect(token.matches("0123456789abcdef0123"))
            #expect(!token.matches("0123456789abcdef012"))
            #expect(!token.matches("0123456789abcdef01234"))
            #expect(!token.matches(""))
            try "short\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o600)
            #expect(throws: HTTPTokenError.self) { try HTTPToken.load(file: path) }
            #expect(throws: HTTPTokenError.self) { try HTTPToken.load(file: (directory as NSString).appendingPathComponent("missing")) }
        }
    }

    @Test func aTokenFileThatIsADirectoryMissingOrTooLongSaysWhatIsWrong() throws {
        try withTemporaryDirectory("token") { directory in
            func failure(_ path: String) -> String {
                do { _ = try HTTPToken.load(file: path); return "" } catch { return error.description }
            }
            // A directory got `chmod 600` advice (or, at mode 700, "cannot read: Is a directory").
            chmod(directory, 0o755)
            #expect(failure(directory).contains("is a directory; give the file holding the token"), "\(failure(directory))")
            #expect(!failure(directory).contains("chmod"))
            let missing = (directory as NSString).appendingPathComponent("missing")
            #expect(failure(missing).contains("cannot read the token: No such file"), "\(failure(missing))")
            // A token longer than the reader reads was cut short and then refused every request with 401.
            let long = (directory as NSString).appendingPathComponent("long")
            try (String(repeating: "a", count: 300) + "\n").write(toFile: long, atomically: true, encoding: .utf8)
            chmod(long, 0o600)
            #expect(failure(long).contains("one word of 16 to 255 ASCII characters"), "\(failure(long))")
            try (String(repeating: "b", count: 255) + "\n").write(toFile: long, atomically: true, encoding: .utf8)
            chmod(long, 0o600)
            #expect(try HTTPToken.load(file: long).matches(String(repeating: "b", count: 255)))
        }
    }

    static func snapshot(workers: [String], jobs: [(String, JobState)], losses: [ClusterSnapshot.LossPoint] = []) -> ClusterSnapshot {
        var snapshot = ClusterSnapshot.empty(version: "test", endpoint: "tcp://127.0.0.1:1")
        snapshot.workers = workers.map {
            ClusterSnapshot.Worker(name: $0, host: "h", threads: 1, busyWith: nil, heartbeatAgeSeconds: 0.25, quarantined: nil, consecutiveFailures: 0)
        }
        snapshot.jobCounts = jobs.reduce(into: [:]) { $0[$1.1.rawValue, default: 0] += 1 }
        snapshot.jobs = jobs.map { id, state in
            ClusterSnapshot.Job(id: id, name: id, state: state.rawValue, stage: "synthesis", isTerminal: state.isTerminal, shardsDone: 1, shardCount: 3,
                                shardStates: ["done": 1, "running": 2], progress: 0.5, rowsWritten: 0, totalRows: 10, classCount: 2,
                                elapsedSeconds: 1, stages: [], output: "/o.h5", error: nil, classCounts: nil)
        }
        if !losses.isEmpty {
            snapshot.training = [ClusterSnapshot.Training(session: "s1", open: true, shards: 2, loadedShards: 2, evaluations: 3, losses: losses)]
        }
        return snapshot
    }

    @Test func coordinatorGaugesFollowTheSnapshotAndForgetWorkersThatLeft() throws {
        let metrics = CoordinatorMetrics()
        metrics.rowsGenerated.increment(by: 1234)
        metrics.refused("forbidden")
        metrics.attemptFailed(.timedOut(seconds: 3))
        metrics.update(from: Self.snapshot(workers: ["w1", "w2"], jobs: [("a", .running), ("b", .committed)],
                                           losses: [.init(iteration: 7, loss: 0.5, gradientNorm: 0.01)]))
        var text = try PrometheusText(String(decoding: metrics.registry.render(), as: UTF8.self))
        #expect(text.value("tailforge_jobs", ["state": "running"]) == 1)
        #expect(text.value("tailforge_jobs", ["state": "committed"]) == 1)
        #expect(text.value("tailforge_jobs", ["state": "failed"]) == 0, "every state is reported, zero included")
        #expect(text.value("tailforge_shards", ["state": "running"]) == 2)
        #expect(text.value("tailforge_workers_alive") == 2)
        #expect(text.value("tailforge_workers_serving_training") == 0)
        #expect(text.value("tailforge_worker_heartbeat_age_seconds", ["worker": "w2"]) == 0.25)
        #expect(text.value("tailforge_rows_generated_total") == 1234)
        #expect(text.value("tailforge_refusals_total", ["reason": "forbidden"]) == 1)
        #expect(text.value("tailforge_shard_failures_total", ["reason": "timedOut"]) == 1)
        #expect(text.value("tailforge_training_iteration", ["session": "s1"]) == 7)
        #expect(text.value("tailforge_training_sessions") == 1)
        #expect(text.value("tailforge_training_loss", ["session": "s1"]) == 0.5)
        #expect(text.value("tailforge_training_gradient_norm", ["session": "s1"]) == 0.01)
        #expect(text.types["tailforge_gradient_request_seconds"] == "histogram")
        #expect(text.types["tailforge_rows_generated_total"] == "counter")

        var serving = Self.snapshot(workers: ["w1", "w2"], jobs: [("a", .training)])
        serving.workers[1].training = "2 training parts of job a (session train-1)"
        metrics.update(from: serving)
        text = try PrometheusText(String(decoding: metrics.registry.render(), as: UTF8.self))
        #expect(text.value("tailforge_workers_serving_training") == 1)

        metrics.update(from: Self.snapshot(workers: ["w1"], jobs: [("b", .committed)]))
        text = try PrometheusText(String(decoding: metrics.registry.render(), as: UTF8.self))
        #expect(text.value("tailforge_worker_heartbeat_age_seconds", ["worker": "w2"]) == nil, "a worker that left is not reported")
        #expect(text.value("tailforge_worker_heartbeat_age_seconds", ["worker": "w1"]) != nil)
        #expect(text.value("tailforge_jobs", ["state": "running"]) == 0)
        #expect(text.value("tailforge_training_loss", ["session": "s1"]) == nil)
        #expect(text.value("tailforge_training_sessions") == 0)
    }

    @Test func workersAreCountedPerKernelFamilyAndMixedJobsByState() throws {
        let metrics = CoordinatorMetrics()
        var text = try PrometheusText(String(decoding: metrics.registry.render(), as: UTF8.self))
        #expect(text.value("tailforge_jobs_mixed_kernels", ["state": "training"]) == 0, "every state is reported before any job")
        var snapshot = Self.snapshot(workers: ["w1", "w2", "w3", "old"], jobs: [("a", .training), ("b", .committed), ("c", .committed)])
        for (index, family) in ["Haswell", "SkylakeX", "Haswell", nil].enumerated() { snapshot.workers[index].blasCore = family }
        snapshot.blasCore = "SkylakeX"
        snapshot.mixedKernelJobs = ["training": 1, "committed": 2]
        metrics.update(from: snapshot)
        text = try PrometheusText(String(decoding: metrics.registry.render(), as: UTF8.self))
        #expect(text.value("tailforge_workers", ["blas_core": "Haswell"]) == 2)
        #expect(text.value("tailforge_workers", ["blas_core": "SkylakeX"]) == 1)
        #expect(text.value("tailforge_workers", ["blas_core": TrainingKernels.unknown]) == 1, "a worker that does not say its family")
        #expect(text.value("tailforge_coordinator_blas_core", ["blas_core": "SkylakeX"]) == 1)
        #expect(text.value("tailforge_jobs_mixed_kernels", ["state": "training"]) == 1)
        #expect(text.value("tailforge_jobs_mixed_kernels", ["state": "committed"]) == 2)
        #expect(text.value("tailforge_jobs_mixed_kernels", ["state": "failed"]) == 0)
        #expect(text.types["tailforge_workers"] == "gauge")

        // The SkylakeX worker and the unknown one left; the mixed jobs were purged.
        snapshot.workers = [snapshot.workers[0], snapshot.workers[2]]
        snapshot.mixedKernelJobs = [:]
        metrics.update(from: snapshot)
        text = try PrometheusText(String(decoding: metrics.registry.render(), as: UTF8.self))
        #expect(text.value("tailforge_workers", ["blas_core": "Haswell"]) == 2)
        #expect(text.value("tailforge_workers", ["blas_core": "SkylakeX"]) == nil, "a family no worker runs is not reported")
        #expect(text.value("tailforge_workers", ["blas_core": TrainingKernels.unknown]) == nil)
        #expect(text.value("tailforge_jobs_mixed_kernels", ["state": "committed"]) == 0)
    }

    @Test func trainingProgressAndGradientLatencyAreRecordedPerSession() throws {
        var sessions = TrainingSessions()
        let metrics = CoordinatorMetrics()
        sessions.metrics = metrics
        let trainer: [UInt8] = Array("trainer".utf8), worker: [UInt8] = Array("w".utf8)
        let workers = [worker: WorkerRecord(id: "w", name: "w", host: "h")]
        func handle(_ message: WireMessage, from identity: [UInt8]) {
            _ = sessions.handle(message, frames: message.encode(), from: identity, workers: workers, log: .init(label: "test"))
        }
        handle(WireMessage(TrainingOpen(session: "s1", shards: [TrainingShardSpec(path: "/a.h5"), TrainingShardSpec(path: "/b.h5")])), from: trainer)
        handle(WireMessage(GradientRequest(session: "s1", iteration: 0, shards: [0, 1], classCount: 2, dimension: 2, paths: ["/a.h5", "/b.h5"],
                                           firstGlobalRows: [0, 5], blockRows: 4)), from: trainer)
        handle(WireMessage(GradientReply(session: "s1", iteration: 0, shard: 0, lossSum: 1, rows: 5)), from: worker)
        var text = try PrometheusText(String(decoding: metrics.registry.render(), as: UTF8.self))
        #expect(text.value("tailforge_gradient_requests_total") == 1)
        #expect(text.value("tailforge_gradient_request_seconds_count") == 0, "one shard's reply is still missing")
        handle(WireMessage(GradientReply(session: "s1", iteration: 0, shard: 1, lossSum: 1, rows: 5)), from: worker)
        text = try PrometheusText(String(decoding: metrics.registry.render(), as: UTF8.self))
        #expect(text.value("tailforge_gradient_request_seconds_count") == 1)
        #expect(text.value("tailforge_gradient_request_seconds_bucket", ["le": "+Inf"]) == 1)

        handle(WireMessage(TrainerProgress(session: "s1", iteration: 1, loss: 0.9, gradientNorm: 0.3, evaluations: 2, seconds: 0.1)), from: trainer)
        #expect(sessions.snapshot.first?.fit == nil, "a trainer that does not say which fit")
        handle(WireMessage(TrainerProgress(session: "s1", iteration: 2, loss: 0.7, gradientNorm: 0.2, evaluations: 3, seconds: 0.2,
                                           fit: TrainingFit(.calibration, candidate: 2, candidates: 5, l2: 1e-5))), from: trainer)
        handle(WireMessage(TrainerProgress(session: "unknown", iteration: 1, loss: 5, gradientNorm: 5, evaluations: 1, seconds: 0)), from: trainer)
        var snapshot = sessions.snapshot
        #expect(snapshot.map(\.session) == ["s1"])
        #expect(snapshot[0].losses.map(\.loss) == [0.9, 0.7])
        #expect(snapshot[0].fit == "calibration fit 2 of 5, λ = 1e-05")
        #expect(snapshot[0].evaluations == 1 && snapshot[0].open)
        // A closed session keeps its curve for the page.
        handle(WireMessage(TrainingClose(session: "s1")), from: trainer)
        snapshot = sessions.snapshot
        #expect(snapshot.map(\.session) == ["s1"] && !snapshot[0].open && snapshot[0].losses.count == 2)
    }

    @Test func theStatusPageEmbedsTheSnapshotAndItsScriptMatchesThePolicyHash() throws {
        var snapshot = Self.snapshot(workers: ["w1"], jobs: [("job-</script><b>x", .running)])
        snapshot.jobs[0].classCounts = .init(before: [100, 3], after: [100, 100])
        let html = StatusPage.html(snapshot)
        // The job id cannot close the data block (JSONEncoder escapes "/").
        #expect(!html.contains("job-</script>"))
        let start = try #require(html.range(of: "<script type=\"application/json\" id=\"initial\">"))
        let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
        let embedded = try JSONDecoder().decode(ClusterSnapshot.self, from: Data(html[start.upperBound..<end.lowerBound].utf8))
        #expect(embedded == snapshot)
        #expect(StatusPage.contentSecurityPolicy.contains("script-src 'sha256-"))
        // Nothing is loaded from elsewhere (the SVG namespace URI is a name, not a request).
        #expect(!html.contains("https://") && !html.contains("src=") && !html.contains("<link") && !html.contains("@import"))
    }

    /// The page's data carries what its script shows for kernel families: each worker's, the coordinator's, a job's
    /// warning and the count of mixed jobs (what the script draws from them is checked in Chromium by `StatusPageChromiumTests`).
    @Test func theStatusPageCarriesKernelFamiliesAndAJobsMixedKernelWarning() throws {
        var kernels = TrainingKernels()
        kernels.trainer(TrainingKernels.coordinator, family: "SkylakeX")
        kernels.computed(by: "w1", family: "Haswell")
        var snapshot = Self.snapshot(workers: ["w1"], jobs: [("mixed", .training), ("plain", .running)])
        snapshot.workers[0].blasCore = "Haswell"
        snapshot.blasCore = "SkylakeX"
        snapshot.jobs[0].kernels = kernels
        snapshot.jobs[0].kernelWarning = kernels.warning
        snapshot.mixedKernelJobs = ["training": 1]
        let html = StatusPage.html(snapshot)
        let start = try #require(html.range(of: "<script type=\"application/json\" id=\"initial\">"))
        let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
        let embedded = try JSONDecoder().decode(ClusterSnapshot.self, from: Data(html[start.upperBound..<end.lowerBound].utf8))
        #expect(embedded == snapshot)
        let warning = try #require(embedded.jobs[0].kernelWarning)
        #expect(warning.contains("Haswell: worker w1; SkylakeX: trainer coordinator") && warning.contains("OPENBLAS_CORETYPE=Haswell"))
        #expect(embedded.jobs[1].kernelWarning == nil)
        #expect(embedded.workers[0].blasCore == "Haswell" && embedded.blasCore == "SkylakeX")
        // The script reads each of them, and the workers' table has a column for the family.
        for field in ["job.kernelWarning", "w.blasCore", "data.blasCore", "data.mixedKernelJobs"] {
            #expect(StatusPage.script.contains(field), "the page's script does not show \(field)")
        }
        #expect(StatusPage.head.contains("<th>OpenBLAS</th>"))
    }

    @Test func classCountsComeFromThePlan() {
        let prepared = PreparedJob(inputSHA256: "", inputBytes: 0, classCount: 3, dimension: 2, totalRows: 30,
                                   shards: [[ClassTask(classId: 2, realCount: 1, keptCount: 1, syntheticCount: 9)],
                                            [ClassTask(classId: 0, realCount: 10, keptCount: 10, syntheticCount: 0),
                                             ClassTask(classId: 1, realCount: 4, keptCount: 4, syntheticCount: 6)]],
                                   shardCosts: [1, 1])
        let counts = CoordinatorLoop.classCounts(prepared)
        #expect(counts == .init(before: [10, 4, 1], after: [10, 10, 10]))
    }
}
