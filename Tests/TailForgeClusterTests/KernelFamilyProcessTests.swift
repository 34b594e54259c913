import Foundation
import Testing
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// Real processes whose OpenBLAS kernel family is pinned per process (`OPENBLAS_CORETYPE`): each worker says its
    /// family when it registers, `status --json` lists it, and a training job whose trainer and gradient workers
    /// mix families carries a warning in `status`, `wait` and the coordinator's log and records the families in its
    /// resolved manifest; on one family, the same job has no warning.
    @Suite struct KernelFamilyProcessTests {
        struct Setup: Sendable, CustomTestStringConvertible {
            var coordinator: String
            var workers: [String]
            var testDescription: String { "coordinator \(coordinator), workers \(workers.joined(separator: " + "))" }
        }

        // SkylakeX kernels need AVX-512, which this CPU (and the earlier sessions') has; Haswell needs AVX2 + FMA.
        @Test(arguments: [Setup(coordinator: "SkylakeX", workers: ["Haswell", "SkylakeX"]),
                          Setup(coordinator: "Haswell", workers: ["Haswell", "Haswell"])])
        func aJobOnMixedKernelFamiliesIsWarnedAboutAndRecorded(setup: Setup) async throws {
            let fixture = try TrainingJobFixture("kernels", seed: 13, dimension: 8)
            defer { fixture.remove() }
            let cluster = LocalCluster(executable: fixture.executable, directory: fixture.path("cluster"),
                                       environment: ["OPENBLAS_CORETYPE": setup.coordinator], heartbeatMilliseconds: 100, livenessMilliseconds: 1_500)
            cluster.dataRoots = [fixture.directory]
            cluster.coordinatorArguments = ["--http-bind", "127.0.0.1:0"]
            defer { cluster.stop() }
            try await cluster.startCoordinator()
            for family in setup.workers { try cluster.startWorker(environment: ["OPENBLAS_CORETYPE": family]) }
            try await cluster.waitForWorkers(setup.workers.count)

            let manifest = try fixture.writeJobManifest("train:\n  l2: 0.001\n  max_iterations: 4\n")
            let submitted = try await Child.run(fixture.executable, ["submit", manifest, "--coordinator", cluster.endpoint, "--wait", "--json"])
            #expect(submitted.status == 0, "\(submitted.stdout)\n\(submitted.stderr)")
            let status = try await Child.run(fixture.executable, ["status", "--coordinator", cluster.endpoint, "--json"])
            #expect(status.status == 0, "\(status.stderr)")
            let reply = try JSONDecoder().decode(StatusReply.self, from: Data(status.stdout.utf8))

            // Every worker's family, as it registered.
            #expect(reply.workers.map(\.name) == ["local0", "local1"])
            #expect(reply.workers.map(\.blasCore) == setup.workers)
            #expect(reply.blasCore == setup.coordinator)
            // The job's machines: the coordinator trained, each worker computed its part.
            let job = try #require(reply.jobs.first)
            #expect(job.state == .committed)
            var expected = TrainingKernels()
            expected.trainer(TrainingKernels.coordinator, family: setup.coordinator)
            for (index, family) in setup.workers.enumerated() { expected.computed(by: "local\(index)", family: family) }
            #expect(job.kernels == expected)
            let resolved = try ResolvedManifest.read(from: fixture.path("job/model.manifest.json"))
            #expect(resolved.training?.kernels == expected, "the resolved manifest records the families")
            let log = (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? ""
            #expect(log.contains("registered from") && log.contains("OpenBLAS kernel \(setup.workers[0])"))

            let text = try await Child.run(fixture.executable, ["status", "--coordinator", cluster.endpoint]).stdout
            #expect(text.contains("local0 on ") && text.contains(", OpenBLAS \(setup.workers[0]): idle"), "\(text)")
            #expect(text.contains("2 worker(s) (the coordinator runs OpenBLAS \(setup.coordinator))"), "\(text)")

            let mixed = Set(setup.workers + [setup.coordinator]).count > 1
            // The status page's data and the metrics: each worker's family and the coordinator's, the job's warning,
            // workers counted per family and mixed jobs counted (within a snapshot interval, 250 ms).
            let page = try #require(await ObservabilityProcessTests.endpoint(HTTPListener.endpointFile(directory: cluster.stateDirectory, flag: "--http-bind")))
            var snapshot = try JSONDecoder().decode(ClusterSnapshot.self, from: Data(try await httpGet(page + "/api/status").body.utf8))
            for _ in 0..<100 where snapshot.jobs.first?.state != "committed" {
                try await Task.sleep(for: .milliseconds(50))
                snapshot = try JSONDecoder().decode(ClusterSnapshot.self, from: Data(try await httpGet(page + "/api/status").body.utf8))
            }
            #expect(snapshot.workers.map(\.blasCore) == setup.workers && snapshot.blasCore == setup.coordinator)
            let listed = try #require(snapshot.jobs.first)
            #expect(listed.state == "committed" && listed.kernels == expected && listed.kernelWarning == job.kernelWarning)
            #expect(snapshot.mixedKernelJobs == (mixed ? ["committed": 1] : [:]))
            let metrics = try PrometheusText(try await httpGet(page + "/metrics").body)
            for family in Set(setup.workers) {
                #expect(metrics.value("tailforge_workers", ["blas_core": family]) == Double(setup.workers.filter { $0 == family }.count))
            }
            #expect(metrics.value("tailforge_coordinator_blas_core", ["blas_core": setup.coordinator]) == 1)
            #expect(metrics.value("tailforge_jobs_mixed_kernels", ["state": "committed"]) == (mixed ? 1 : 0))
            #expect(text.contains("    warning: this training job's machines run different OpenBLAS kernel families") == mixed, "\(text)")
            if mixed {
                let warning = try #require(job.kernelWarning, "no warning for machines of mixed families")
                #expect(warning.contains("Haswell: worker local0; SkylakeX: trainer coordinator, worker local1"))
                #expect(warning.contains("OPENBLAS_CORETYPE=Haswell"))
                #expect(submitted.stderr.contains("warning: \(warning)"), "wait says nothing: \(submitted.stderr)")
                #expect(log.contains("machines run different OpenBLAS kernel families"), "the coordinator's log says nothing")
                // Replayed here on the trainer's family alone, the model differs (the Haswell worker's part rounded
                // otherwise), and replay names every recorded machine's family, not only the trainer's.
                let replay = try await Child.run(fixture.executable, ["replay", fixture.path("job/model.manifest.json"), "--local"],
                                                 environment: ["OPENBLAS_CORETYPE": setup.coordinator])
                #expect(replay.status != 0, "the mixed job's model replayed on \(setup.coordinator) alone: \(replay.stdout)")
                #expect(replay.stderr.contains("likely why: the recorded job's machines ran different OpenBLAS kernel families "
                                               + "(Haswell: worker local0; SkylakeX: trainer coordinator, worker local1); this replay ran on SkylakeX"),
                        "\(replay.stderr)")
            } else {
                #expect(job.kernelWarning == nil)
                #expect(!submitted.stderr.contains("OpenBLAS kernel families") && !log.contains("different OpenBLAS kernel families"))
            }
        }
    }
}
