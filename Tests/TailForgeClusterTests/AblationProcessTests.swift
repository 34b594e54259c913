import Foundation
import TailForgeTestSupport
import Testing
import TailForgeEngine
import TailForgeStorage
import TailForgeTraining
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// `tailforge ablate --coordinator`: every recipe — the long-tailed ones (laid out by `sampler: none`) and their
    /// λ search included — is balanced and fitted (calibrated) as a job on a real cluster (a coordinator and two
    /// workers, processes on loopback), and the report and models are the local run's.
    @Suite struct AblationProcessTests {
        struct Data {
            let directory: String
            let executable: String
            let train: String
            let test: String
            func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        }

        /// Fresh data in `directory` (a test's temporary directory).
        static func data(in directory: String) throws -> Data {
            let executable = try #require(LocalCluster.siblingExecutable(), "build the tailforge executable (swift build --build-tests)")
            let (train, test) = try SyntheticPreset.small.write(to: (directory as NSString).appendingPathComponent("data"), seed: 4, dimension: 16)
            return Data(directory: directory, executable: executable, train: train, test: test)
        }

        static let recipes = "unweighted,class-weight+l2-auto,vmf-local,vmf-loo+guard,smote"
        /// `recipes` in the report's (the grid's) order.
        static let reported = ["unweighted", "class-weight+l2-auto", "vmf-local", "smote", "vmf-loo+guard"]

        static func ablate(_ data: Data, json: String, _ extra: [String] = []) -> [String] {
            ["ablate", data.train, data.test, "--recipes", recipes, "--json", data.path(json), "--max-iter", "15", "--seed", "2",
             "--threads", "2"] + extra
        }

        /// The report without its wall times, which are all that may differ.
        static func withoutTimes(_ report: AblationReport) -> AblationReport {
            var report = report
            for e in report.entries.indices {
                report.entries[e].balanceSeconds = 0
                report.entries[e].calibrationFitSeconds = 0
                report.entries[e].finalFitSeconds = 0
                for r in report.entries[e].rows.indices { report.entries[e].rows[r].seconds = 0 }
            }
            return report
        }

        /// Runs `body` with fresh data and a started cluster of `workers` over it; both are gone afterwards.
        static func withCluster(workers: Int, environment: [String: String] = [:],
                                _ body: (Data, LocalCluster) async throws -> Void) async throws {
            try await withTemporaryDirectory("ablate-cluster") { directory in
                let data = try Self.data(in: directory)
                let cluster = LocalCluster(executable: data.executable, directory: data.path("cluster"), environment: environment,
                                           heartbeatMilliseconds: 100, livenessMilliseconds: 1_000)
                cluster.dataRoots = [data.directory]
                defer { cluster.stop() }
                try await cluster.start(workers: workers)
                try await body(data, cluster)
            }
        }

        @Test func theClusterBalancesTheRecipesAndTheReportAndModelsAreTheLocalOnes() async throws {
            try await Self.withCluster(workers: 2) { data, cluster in
                let local = try await Child.run(data.executable, Self.ablate(data, json: "local.json"))
                #expect(local.status == 0, "\(local.stderr)")

                let remote = try await Child.run(data.executable, Self.ablate(data, json: "cluster.json", ["--coordinator", cluster.endpoint]))
                #expect(remote.status == 0, "\(remote.stderr)")
                #expect(remote.stdout.split(separator: "\n").count == 12, "the table: a header, two rows per recipe and the chosen row")

                let localReport = try #require(try AblationReport.read(path: data.path("local.json")))
                let clusterReport = try #require(try AblationReport.read(path: data.path("cluster.json")))
                #expect(clusterReport.entries.map(\.settings.recipe) == Self.reported)
                #expect(Self.withoutTimes(clusterReport) == Self.withoutTimes(localReport))
                for recipe in Self.reported {
                    let model = { (json: String) in try SHA256.hexDigest(ofFileAt: data.path("\(json).work/\(recipe).model.h5")) }
                    #expect(try model("cluster.json") == model("local.json"), "\(recipe)'s model bytes")
                }
                // Every recipe was a job on the cluster that balanced and fitted, committed into the work directory: the model
                // and the compact set a local run writes, the calibration (and the λ search of `+l2-auto`) on the workers.
                let jobs = try ClusterClient(coordinator: cluster.endpoint).status().jobs
                #expect(Set(jobs.map(\.name)) == Set(Self.reported.map { "ablate " + $0 }))
                #expect(jobs.allSatisfy { $0.state == .committed && $0.output.hasPrefix(data.path("cluster.json.work")) && $0.output.hasSuffix(".model.h5") })
                #expect(remote.stderr.components(separatedBy: "(balance and calibrated fit) submitted").count == 6, "\(remote.stderr)")
                for recipe in Self.reported {
                    let resolved = try ResolvedManifest.read(from: data.path("cluster.json.work/\(recipe).model.manifest.json"))
                    var calibration = CalibrationSettings()
                    if recipe.hasSuffix("+l2-auto") {
                        calibration.l2Grid = CalibrationSettings.standardL2Grid
                        #expect(resolved.training?.calibration?.l2Candidates?.isEmpty == false, "\(recipe) searched no λ on the cluster")
                    }
                    #expect(resolved.training?.calibration != nil && resolved.manifest.train?.calibration == calibration, "\(recipe)")
                    let sampler: SamplerKind = recipe.hasPrefix("vmf") ? .vmf : recipe.hasPrefix("smote") ? .smote : .none
                    #expect(resolved.manifest.policy.sampler == sampler, "\(recipe)'s set: \(resolved.manifest.policy.sampler)")
                    #expect(FileManager.default.contents(atPath: data.path("cluster.json.work/\(recipe).balanced.h5"))
                            == FileManager.default.contents(atPath: data.path("local.json.work/\(recipe).balanced.h5")), "\(recipe)'s balanced set")
                }

                // Resume: the same command again reuses every recipe and submits nothing; so does a local run on that report.
                let again = try await Child.run(data.executable, Self.ablate(data, json: "cluster.json", ["--coordinator", cluster.endpoint]))
                #expect(again.status == 0 && again.stderr.components(separatedBy: "reusing the recorded result").count == 6, "\(again.stderr)")
                #expect(try ClusterClient(coordinator: cluster.endpoint).status().jobs.count == 5)
                let locally = try await Child.run(data.executable, Self.ablate(data, json: "cluster.json"))
                #expect(locally.status == 0 && locally.stderr.components(separatedBy: "reusing the recorded result").count == 6, "\(locally.stderr)")

                // A training file the coordinator may not read (outside its data roots): refused before any work, no report.
                let refused = try await withTemporaryDirectory("ablate-outside") { elsewhere in
                    let outside = elsewhere + "/train.h5"
                    try FileManager.default.copyItem(atPath: data.train, toPath: outside)
                    return try await Child.run(data.executable, ["ablate", outside, data.test, "--recipes", Self.recipes, "--json", data.path("refused.json"),
                                                              "--max-iter", "15", "--threads", "2", "--coordinator", cluster.endpoint])
                }
                #expect(refused.status != 0 && refused.stdout.isEmpty)
                #expect(refused.stderr.contains("refused recipe unweighted's job") && refused.stderr.contains("outside the coordinator's data roots")
                        && refused.stderr.contains("a filesystem they share"), "\(refused.stderr)")
                #expect(!FileManager.default.fileExists(atPath: data.path("refused.json")))
            }
        }

        /// Ctrl-C while the cluster balances: the jobs are cancelled, the process ends with 130 and leaves no report.
        @Test func anInterruptCancelsTheJobsAndLeavesNoReport() async throws {
            // 100 ms per class: the small preset's 20 classes keep each job running for seconds.
            try await Self.withCluster(workers: 2, environment: [EngineShardExecutor.testDelayVariable: "100"]) { data, cluster in
                let child = try await Self.ablationWithBothJobsSubmitted(data, cluster)
                kill(child.process.processIdentifier, SIGINT)
                let outcome = await child.finish()
                #expect(outcome.status == 130, "\(outcome.stderr)")
                #expect(outcome.stderr.components(separatedBy: "interrupted: cancelled job").count == 3, "\(outcome.stderr)")
                #expect(!FileManager.default.fileExists(atPath: data.path("ablation.json")))
                let jobs = try ClusterClient(coordinator: cluster.endpoint).status().jobs
                #expect(jobs.count == 2 && jobs.allSatisfy { $0.state == .cancelled }, "\(jobs.map { ($0.name, $0.state) })")
            }
        }

        /// `ablate --recipes vmf-local,smote --coordinator` on `cluster`, once it has submitted both balancing jobs.
        static func ablationWithBothJobsSubmitted(_ data: Data, _ cluster: LocalCluster) async throws -> Child {
            let child = try Child(data.executable, ["ablate", data.train, data.test, "--recipes", "vmf-local,smote", "--json", data.path("ablation.json"),
                                                    "--max-iter", "15", "--threads", "2", "--coordinator", cluster.endpoint])
            let submitted = await eventually(seconds: 30) { child.stderr.components(separatedBy: "(balance and calibrated fit) submitted").count == 3 }
            #expect(submitted, "\(child.stderr)")
            return child
        }

        /// A second Ctrl-C while the first one's cancelling hangs (the coordinator stopped answering) ends the
        /// process at once: exit 130, no report, and no word of cancelled jobs (each cancel would wait 2 s first).
        @Test func aSecondInterruptEndsTheProcessWhileTheCancelHangs() async throws {
            try await Self.withCluster(workers: 2, environment: [EngineShardExecutor.testDelayVariable: "100"]) { data, cluster in
                let child = try await Self.ablationWithBothJobsSubmitted(data, cluster)
                let coordinator = try #require(cluster.coordinator).processIdentifier
                kill(coordinator, SIGSTOP)
                defer { kill(coordinator, SIGCONT) }
                kill(child.process.processIdentifier, SIGINT)
                try await Task.sleep(for: .milliseconds(100))
                kill(child.process.processIdentifier, SIGINT)
                let outcome = await child.finish()
                #expect(outcome.status == 130, "\(outcome.stderr)")
                #expect(!outcome.stderr.contains("interrupted: cancelled job") && !outcome.stderr.contains("may still run"), "\(outcome.stderr)")
                #expect(!FileManager.default.fileExists(atPath: data.path("ablation.json")))
            }
        }

        /// A coordinator (and so its workers) of another TailForge version: refused before anything is submitted, saying
        /// what to do; `--allow-version-mismatch` submits anyway.
        @Test func aCoordinatorOfAnotherVersionIsRefusedUnlessAllowed() async throws {
            try await Self.withCluster(workers: 1, environment: [ToolVersionOverride.variable: "0.1.9"]) { data, cluster in
                let arguments = ["ablate", data.train, data.test, "--recipes", "unweighted,vmf-local", "--json", data.path("ablation.json"),
                                 "--max-iter", "5", "--threads", "2", "--coordinator", cluster.endpoint]
                let refused = try await Child.run(data.executable, arguments)
                #expect(refused.status != 0 && refused.stdout.isEmpty)
                #expect(refused.stderr.contains("the coordinator at \(cluster.endpoint) runs TailForge 0.1.9") && refused.stderr.contains("this ablate is TailForge \(ToolVersion.current)")
                        && refused.stderr.contains("Nothing was submitted") && refused.stderr.contains("--allow-version-mismatch"), "\(refused.stderr)")
                #expect(try ClusterClient(coordinator: cluster.endpoint).status().jobs.isEmpty)
                #expect(!FileManager.default.fileExists(atPath: data.path("ablation.json")))

                let allowed = try await Child.run(data.executable, arguments + ["--allow-version-mismatch"])
                #expect(allowed.status == 0, "\(allowed.stderr)")
                #expect(Set(try ClusterClient(coordinator: cluster.endpoint).status().jobs.map(\.name)) == ["ablate unweighted", "ablate vmf-local"])
                let usage = try await Child.run(data.executable, ["ablate", data.train, data.test, "--allow-version-mismatch"])
                #expect(usage.status != 0 && usage.stderr.contains("--allow-version-mismatch is for --coordinator"), "\(usage.stderr)")
            }
        }

        /// No coordinator at the endpoint: a clear error within --timeout, non-zero exit, no report and no table.
        @Test func anUnreachableCoordinatorIsAClearErrorAndNoReport() async throws {
            try await withTemporaryDirectory("ablate-cluster") { directory in
                let data = try Self.data(in: directory)
                let endpoint = "tcp://127.0.0.1:9"  // the discard port: nothing listens on loopback
                let run = try await Child.run(data.executable, Self.ablate(data, json: "ablation.json", ["--coordinator", endpoint, "--timeout", "1"]))
                #expect(run.status != 0 && run.stdout.isEmpty)
                #expect(run.stderr.contains("cannot submit recipe unweighted's job to \(endpoint)") && run.stderr.contains("no reply")
                        && run.stderr.contains("leave out --coordinator"), "\(run.stderr)")
                #expect(!FileManager.default.fileExists(atPath: data.path("ablation.json")))
                #expect(!FileManager.default.fileExists(atPath: data.path("ablation.json.work/unweighted.model.h5")), "no recipe was fitted")
            }
        }
    }
}
