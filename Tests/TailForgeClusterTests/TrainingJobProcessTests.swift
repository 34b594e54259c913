import Foundation
import TailForgeTestSupport
import Testing
import TailForgeEngine
import TailForgeStorage
import TailForgeTraining
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// A job with a `train:` section on real `tailforge` processes: a worker killed with SIGKILL while an
    /// evaluation is in flight is replaced by one that regenerates its part from the recipe (no shard file
    /// exists to reload), and the model is byte-identical to single-node `tailforge balance` + `tailforge train`.
    @Suite struct TrainingJobProcessTests {
        @Test func aWorkerKilledMidTrainingIsReplacedFromTheRecipeAndTheModelIsTheSingleNodeOne() async throws {
            let fixture = try TrainingJobFixture("trainjob-process", seed: 11, dimension: 16)
            defer { fixture.remove() }
            try FileManager.default.createDirectory(atPath: fixture.path("job"), withIntermediateDirectories: true)

            // Single node, as a user runs it.
            try await fixture.singleNode(balance: ["--seed", "4", "--layout", "compact"],
                                         train: ["--l2", "1e-3", "--max-iter", "30", "--tol", "1e-6", "--class-weight", "balanced"])

            let gated = try await GatedCluster(executable: fixture.executable, directory: fixture.directory, workers: 3)
            let cluster = gated.cluster
            defer { cluster.stop() }

            let manifest = try fixture.writeJobManifest("""
                sharding:
                  shards: 6
                train:
                  l2: 0.001
                  max_iterations: 30
                  tolerance: 0.000001
                  class_weight: balanced
                """)
            let submit = try Child(fixture.executable, ["submit", manifest, "--coordinator", cluster.endpoint, "--wait", "--json"])

            // The first evaluation is in flight on every part: kill one worker that holds a part, then let the rest answer.
            let victim = try await gated.crashAWorkerHoldingAnEvaluation(parts: 3, submitted: submit)

            let finished = await submit.finish()
            #expect(finished.status == 0, "\(finished.stdout)\n\(finished.stderr)")
            #expect(cluster.workers[victim].terminationReason == .uncaughtSignal)
            #expect(FileManager.default.contents(atPath: fixture.path("job/model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")),
                    "the job's model differs from single-node balance + train")
            // Nothing but the recipe existed to replace the dead worker's part from: no shard files were kept.
            let resolved = try ResolvedManifest.read(from: fixture.path("job/model.manifest.json"))
            #expect(resolved.training?.parts.count == 3)
            #expect(resolved.outputSHA256 == (try SHA256.hexDigest(ofFileAt: fixture.path("single/model.h5"))))
            let log = (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? ""
            #expect(log.contains("moves from lost worker"), "the dead worker's part was never moved")

            // The same training recorded on another OpenBLAS kernel family: `replay --local` fails naming both kernels.
            let kernel = try #require(try SoftmaxModelFile.read(path: fixture.path("job/model.h5")).blasCore, "the job's model names no kernel")
            let other = kernel.lowercased() == "prescott" ? "Core2" : "Prescott"
            let trained = try await Child.run(fixture.executable, ["train", fixture.path("single/balanced.h5"), "--output", fixture.path("job/other-kernel.h5"),
                                                                   "--l2", "1e-3", "--max-iter", "30", "--tol", "1e-6", "--class-weight", "balanced"],
                                              environment: ["OPENBLAS_CORETYPE": other])
            #expect(trained.status == 0, "\(trained.stderr)")
            #expect(try SoftmaxModelFile.read(path: fixture.path("job/other-kernel.h5")).blasCore == other)
            var otherKernel = resolved
            otherKernel.manifest.output = fixture.path("job/other-kernel.h5")
            otherKernel.outputSHA256 = try SHA256.hexDigest(ofFileAt: fixture.path("job/other-kernel.h5"))
            try otherKernel.write(to: fixture.path("job/other-kernel.manifest.json"))
            let replay = try await Child.run(fixture.executable, ["replay", fixture.path("job/other-kernel.manifest.json"), "--local"])
            #expect(replay.status != 0)
            #expect(replay.stderr.contains("likely why: the recorded model was trained on OpenBLAS kernel \(other), this replay on \(kernel)")
                    && replay.stderr.contains("OPENBLAS_CORETYPE=\(other)"), "\(replay.stdout)\n\(replay.stderr)")
        }
    
        /// `calibrate: true` on real processes: a worker killed with SIGKILL while the calibration fit's first evaluation
        /// is in flight is replaced (its calibration part is cut again, from rows regenerated from the recipe), and the
        /// model — τ, π and the record of the choice — is single-node `balance` + `train --calibrate`'s byte for byte;
        /// `tailforge replay` reproduces and verifies it.
        @Test func aWorkerKilledDuringTheCalibrationFitStillGivesTheSingleNodeCalibratedModel() async throws {
            let fixture = try TrainingJobFixture("calibrated-job", seed: 12, dimension: 16)
            defer { fixture.remove() }
            try FileManager.default.createDirectory(atPath: fixture.path("job"), withIntermediateDirectories: true)

            try await fixture.singleNode(balance: ["--seed", "4", "--layout", "compact"],
                                         train: ["--l2", "1e-3", "--max-iter", "25", "--calibrate", "--calibration-holdout", "0.25", "--calibration-seed", "3"])

            let gated = try await GatedCluster(executable: fixture.executable, directory: fixture.directory, workers: 3)
            let cluster = gated.cluster
            defer { cluster.stop() }
            // The final fit runs first; hold the calibration fit's first gradient (at the final fit's weights).
            try "0 -calibrate-".write(toFile: (gated.gate as NSString).appendingPathComponent("hold"), atomically: true, encoding: .utf8)
            let manifest = try fixture.writeJobManifest("""
                train:
                  l2: 0.001
                  max_iterations: 25
                  calibrate: true
                  calibration_holdout: 0.25
                  calibration_seed: 3
                """)
            let submit = try Child(fixture.executable, ["submit", manifest, "--coordinator", cluster.endpoint, "--wait", "--json"])

            let log = { (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? "" }
            let victim = try await gated.crashAWorkerHoldingAnEvaluation(parts: 3, submitted: submit) {
                let text = log()
                #expect(text.contains("final fit on all") && text.contains("calibration fit holding out 25 %")
                        && text.contains("warm-started from the final fit's weights") && !text.contains("calibration chose τ"), "not in the calibration fit")
            }

            let finished = await submit.finish()
            #expect(finished.status == 0, "\(finished.stdout)\n\(finished.stderr)")
            #expect(cluster.workers[victim].terminationReason == .uncaughtSignal)
            #expect(FileManager.default.contents(atPath: fixture.path("job/model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")),
                    "the calibrated job's model differs from single-node balance + train --calibrate")
            #expect(log().contains("moves from lost worker"), "the dead worker's part was never moved")
            let resolved = try ResolvedManifest.read(from: fixture.path("job/model.manifest.json"))
            let model = try SoftmaxModelFile.read(path: fixture.path("single/model.h5"))
            #expect(resolved.training?.calibration?.tau == model.calibration?.adjustment.tau)

            try await Self.expectLocalReplay(fixture.executable, manifest: fixture.path("job/model.manifest.json"), writes: fixture.path("job/model.replay.h5"),
                                             sameAs: fixture.path("single/model.h5"))
        }

        /// `l2: auto` with `calibrate: true` on real processes: the coordinator's trainer walks the same λ path as single-node
        /// `train --l2 auto --calibrate` over the workers' parts and writes its model byte for byte; the resolved manifest
        /// records the chosen λ and every fitted candidate's held-out score (the model's record), and replay reproduces it.
        @Test func aJobWithL2AutoGivesTheSingleNodeModelAndRecordsTheChoice() async throws {
            let fixture = try TrainingJobFixture("l2-auto-job", seed: 15, dimension: 16)
            defer { fixture.remove() }
            try FileManager.default.createDirectory(atPath: fixture.path("job"), withIntermediateDirectories: true)
            try await fixture.singleNode(balance: ["--seed", "4", "--layout", "compact"],
                                         train: ["--l2", "auto", "--l2-grid", "1e-5,1e-1,1e-3", "--max-iter", "25", "--calibrate",
                                                 "--calibration-seed", "3", "--class-weight", "balanced"])

            let gated = try await GatedCluster(executable: fixture.executable, directory: fixture.directory, workers: 2)
            let cluster = gated.cluster
            defer { cluster.stop() }
            try gated.release()
            let manifest = try fixture.writeJobManifest("""
                train:
                  l2: auto
                  l2_grid: [1e-5, 1e-1, 1e-3]
                  max_iterations: 25
                  class_weight: balanced
                  calibrate: true
                  calibration_seed: 3
                """)
            let submit = try await Child.run(fixture.executable, ["submit", manifest, "--coordinator", cluster.endpoint, "--wait", "--json"])
            #expect(submit.status == 0, "\(submit.stdout)\n\(submit.stderr)")
            #expect(FileManager.default.contents(atPath: fixture.path("job/model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")),
                    "the l2: auto job's model differs from single-node balance + train --l2 auto --calibrate")
            let model = try SoftmaxModelFile.read(path: fixture.path("single/model.h5"))
            let record = try #require(model.calibration)
            let calibration = try #require(try ResolvedManifest.read(from: fixture.path("job/model.manifest.json")).training?.calibration)
            #expect(model.attributes["l2"] == .double(try #require(calibration.l2)))
            #expect(calibration.l2Candidates?.map(\.l2) == record.l2Candidates.map(\.l2))
            #expect(calibration.l2Candidates?.map(\.balancedAccuracy) == record.l2Candidates.map(\.bestBalancedAccuracy))
            #expect(calibration.tau == record.adjustment.tau && calibration.balancedAccuracy == record.balancedAccuracy)
            #expect(calibration.iterations == calibration.l2Candidates?.reduce(0) { $0 + $1.iterations })
            // The final fit runs after the path here: the committed status and `wait`'s line carry its figures, the
            // calibration's (chosen λ, τ, the path's fits) beside them.
            let training = try #require(try ResolvedManifest.read(from: fixture.path("job/model.manifest.json")).training)
            let final = try JSONDecoder().decode(JobStatus.self, from: Data((submit.stdout.split(separator: "\n").last ?? "").utf8))
            let committed = try #require(final.training)
            #expect(committed.iteration == training.iterations && committed.loss == training.finalLoss && committed.fit == .final, "\(committed)")
            #expect(committed.calibration == TrainingCalibrationSummary(tau: calibration.tau, evaluations: calibration.evaluations ?? -1, l2: calibration.l2,
                                                                       fits: 3))
            let chosen = try #require(committed.calibration)
            let wait = try await Child.run(fixture.executable, ["wait", final.job, "--coordinator", cluster.endpoint])
            #expect(wait.status == 0 && wait.stdout.contains(": \(training.iterations) iterations, loss " + String(format: "%.6f", training.finalLoss))
                    && wait.stdout.contains("; \(chosen)"), "\(wait.stdout)")

            try await Self.expectLocalReplay(fixture.executable, manifest: fixture.path("job/model.manifest.json"), writes: fixture.path("job/model.replay.h5"),
                                             sameAs: fixture.path("single/model.h5"))
        }

        /// `l2: auto`, the coordinator killed with SIGKILL in the path's second calibration fit: each candidate's fit has its
        /// own checkpoint, so the restarted trainer continues the path where it was (the first fit from its final state,
        /// stopping at once) and the model is still single-node `train --l2 auto`'s byte for byte.
        @Test func anL2AutoJobWhoseCoordinatorIsKilledMidPathContinuesThePath() async throws {
            let fixture = try TrainingJobFixture("l2-auto-restart", seed: 16, dimension: 16)
            defer { fixture.remove() }
            try await fixture.singleNode(balance: ["--seed", "4", "--layout", "compact"],
                                         train: ["--l2", "auto", "--l2-grid", "1e-1,1e-2,1e-3,1e-4", "--max-iter", "4"])

            let gated = try await GatedCluster(executable: fixture.executable, directory: fixture.directory, workers: 2)
            let cluster = gated.cluster
            defer { cluster.stop() }
            // Past the first fit (at most 4 iterations) and its held-out tally, hold a calibration request.
            try "14 -calibrate-".write(toFile: (gated.gate as NSString).appendingPathComponent("hold"), atomically: true, encoding: .utf8)
            let manifest = JobManifest(input: .init(path: fixture.input), output: fixture.path("model.h5"), policy: BalanceSettings(seed: 4),
                                       train: .init(settings: TrainingSettings(l2: 1e-1, optimizer: LBFGSSettings(maxIterations: 4)),
                                                    calibration: .l2SearchOnly(l2Grid: [1e-1, 1e-2, 1e-3, 1e-4])))
            let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)
            let jobDirectory = (cluster.stateDirectory as NSString).appendingPathComponent("jobs/\(job)")
            #expect(await eventually(seconds: 60) { gated.heldRequests().count >= 2 }, "the path never reached its fifteenth calibration request")
            #expect(await eventually(seconds: 30) { FileManager.default.fileExists(atPath: jobDirectory + "/calibration-fit-2.checkpoint") },
                    "the hold is not past the first fit")
            let endpoint = cluster.endpoint
            await cluster.crashCoordinator()
            let first = try TrainingCheckpoint.read(path: jobDirectory + "/calibration-fit-1.checkpoint")
            #expect(first.state.iteration == 4 && first.fingerprint.l2 == 1e-1)
            try await cluster.startCoordinator(bind: endpoint)
            try gated.release()
            let status = try #require(try await TrainingJobTests.finished(job, endpoint: cluster.endpoint))
            #expect(status.state == .committed, "\(status.error ?? "")")
            #expect(FileManager.default.contents(atPath: fixture.path("model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")),
                    "the resumed l2: auto job's model differs from single-node balance + train --l2 auto")
            let log = (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? ""
            #expect(log.contains("job \(job): resuming the calibration fit from iteration 4 (checkpoint \(jobDirectory)/calibration-fit-1.checkpoint)"), "\(log.suffix(3000))")
            #expect(log.contains("/calibration-fit-2.checkpoint)"), "the second candidate's fit did not continue from its checkpoint")
            #expect(!FileManager.default.fileExists(atPath: jobDirectory))
        }

        /// `tailforge replay MANIFEST --local` succeeds and writes `replayed` with the bytes of `reference`.
        static func expectLocalReplay(_ executable: String, manifest: String, writes replayed: String, sameAs reference: String) async throws {
            let replay = try await Child.run(executable, ["replay", manifest, "--local"])
            #expect(replay.status == 0, "\(replay.stdout)\n\(replay.stderr)")
            #expect(FileManager.default.contents(atPath: replayed) == FileManager.default.contents(atPath: reference))
        }

        /// `tailforge worker --work-dir w --data-root .` with relative paths (as a user types them in a shell) runs
        /// shards: the paths are made absolute before the confinement checks compare them.
        @Test func aWorkerStartedWithARelativeWorkDirectoryRunsShards() async throws {
            let executable = try #require(LocalCluster.siblingExecutable(), "build the tailforge executable (swift build --build-tests)")
            try await withTemporaryDirectory("relative") { directory in
                let input = try SyntheticPreset.small.write(to: directory + "/data", seed: 2, dimension: 8).train
                let cluster = LocalCluster(executable: executable, directory: directory + "/cluster", heartbeatMilliseconds: 100, livenessMilliseconds: 1_000)
                cluster.dataRoots = [directory]
                defer { cluster.stop() }
                try await cluster.startCoordinator()
                let worker = Process()
                worker.executableURL = URL(fileURLWithPath: executable)
                worker.currentDirectoryURL = URL(fileURLWithPath: directory)
                worker.arguments = ["worker", "--connect", cluster.endpoint, "--work-dir", "w", "--data-root", ".", "--name", "relative", "--insecure"]
                worker.standardOutput = FileHandle.nullDevice
                worker.standardError = FileHandle.nullDevice
                try worker.run()
                defer { LocalCluster.signal(worker, SIGKILL) }
                try await cluster.waitForWorkers(1)
                let job = try ClusterClient(coordinator: cluster.endpoint).submit(JobManifest(input: .init(path: input), output: directory + "/balanced.h5",
                                                                                              sharding: .init(shards: 2)))
                let status = try #require(try await TrainingJobTests.finished(job, endpoint: cluster.endpoint, seconds: 60))
                #expect(status.state == .committed, "\(status.error ?? "")")
            }
        }
    
        /// A coordinator killed while an evaluation is in flight resumes the job from its journal: it gathers the
        /// recipe again and trains from the start under a new session, the replies workers still owed the old one
        /// are dropped, and the model is the single-node one.
        @Test func aCoordinatorKilledMidTrainingResumesTheJobToTheSingleNodeModel() async throws {
            let fixture = try TrainingJobFixture("trainjob-restart", seed: 12, dimension: 16)
            defer { fixture.remove() }
            try await fixture.singleNode(balance: ["--seed", "6"], train: ["--max-iter", "20"])

            let gated = try await GatedCluster(executable: fixture.executable, directory: fixture.directory, workers: 2)
            let cluster = gated.cluster
            defer { cluster.stop() }
            let manifest = JobManifest(input: .init(path: fixture.input), output: fixture.path("model.h5"), policy: BalanceSettings(seed: 6),
                                       train: .init(settings: TrainingSettings(optimizer: LBFGSSettings(maxIterations: 20))))
            let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)
            let held = await eventually(seconds: 60) { gated.heldRequests().count >= 2 }
            #expect(held, "no evaluation reached the workers")
            let endpoint = cluster.endpoint
            await cluster.crashCoordinator()
            try await cluster.startCoordinator(bind: endpoint)
            try gated.release()
            let status = try #require(try await TrainingJobTests.finished(job, endpoint: cluster.endpoint))
            #expect(status.state == .committed, "\(status.error ?? "")")
            #expect(FileManager.default.contents(atPath: fixture.path("model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")))
        }

        /// A coordinator killed with SIGKILL after the fit has run several iterations continues from the checkpoint its
        /// trainer wrote after the last completed iteration (in the job's directory in its state directory), not from
        /// iteration 0: the log and the resolved manifest say from which, the model is single-node `balance` + `train`'s
        /// byte for byte, the checkpoint goes with the job's directory when the job commits, and replay verifies the model.
        /// One of the two workers dies with the coordinator: the restarted job trains on one part instead of two and still
        /// continues the checkpoint (it is bound to the set, not to how the set is cut).
        @Test func aCoordinatorKilledAfterSeveralIterationsContinuesFromItsCheckpointToTheSingleNodeModel() async throws {
            let fixture = try TrainingJobFixture("trainjob-checkpoint", seed: 12, dimension: 16)
            defer { fixture.remove() }
            try await fixture.singleNode(balance: ["--seed", "6"], train: ["--max-iter", "30", "--tol", "1e-8"])

            let gated = try await GatedCluster(executable: fixture.executable, directory: fixture.directory, workers: 2)
            let cluster = gated.cluster
            defer { cluster.stop() }
            // Let the fit's first 8 evaluations through (several iterations), then hold the next one on both workers.
            try "8 -train-".write(toFile: (gated.gate as NSString).appendingPathComponent("hold"), atomically: true, encoding: .utf8)
            let manifest = JobManifest(input: .init(path: fixture.input), output: fixture.path("model.h5"), policy: BalanceSettings(seed: 6),
                                       train: .init(settings: TrainingSettings(optimizer: LBFGSSettings(maxIterations: 30, gradientTolerance: 1e-8))))
            let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)
            let held = await eventually(seconds: 60) { gated.heldRequests().count >= 2 }
            #expect(held, "the fit never reached its ninth evaluation")
            let checkpointPath = (cluster.stateDirectory as NSString).appendingPathComponent("jobs/\(job)/final-fit.checkpoint")
            #expect(await eventually(seconds: 30) { FileManager.default.fileExists(atPath: checkpointPath) })
            let endpoint = cluster.endpoint
            await cluster.crashCoordinator()
            // Read once the coordinator is dead: a checkpoint is written while the next evaluation is out.
            let checkpoint = try TrainingCheckpoint.read(path: checkpointPath)
            let iteration = checkpoint.state.iteration
            #expect(iteration > 0 && checkpoint.fingerprint.job == job)
            await cluster.crashWorker(1)
            try await cluster.startCoordinator(bind: endpoint)
            try gated.release()
            let status = try #require(try await TrainingJobTests.finished(job, endpoint: cluster.endpoint))
            #expect(status.state == .committed, "\(status.error ?? "")")
            #expect(FileManager.default.contents(atPath: fixture.path("model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")),
                    "the resumed job's model differs from single-node balance + train")
            let log = (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? ""
            #expect(log.contains("job \(job): resuming the final fit from iteration \(iteration) (checkpoint"), "no resume from iteration \(iteration) in the log")
            let resolved = try ResolvedManifest.read(from: fixture.path("model.manifest.json"))
            #expect(resolved.training?.resumedFromIteration == iteration)
            #expect(resolved.training?.parts.count == 1, "the restarted job did not train on the one worker left")
            #expect(!FileManager.default.fileExists(atPath: checkpointPath), "the committed job's checkpoint is still there")

            try await Self.expectLocalReplay(fixture.executable, manifest: fixture.path("model.manifest.json"), writes: fixture.path("model.replay.h5"), sameAs: fixture.path("single/model.h5"))
        }

        /// `calibrate: true`, the coordinator killed during the calibration fit (which follows the final fit): the final
        /// fit continues from its last checkpoint (its final state, so it stops at once with the same report and the
        /// same evaluation count, the calibration fit's cap), and the calibration fit from its own — the model is
        /// single-node `train --calibrate`'s byte for byte.
        @Test func aCalibratedJobWhoseCoordinatorIsKilledInTheCalibrationFitContinuesBothFitsFromTheirCheckpoints() async throws {
            let fixture = try TrainingJobFixture("calibrated-checkpoint", seed: 13, dimension: 16)
            defer { fixture.remove() }
            try await fixture.singleNode(balance: ["--seed", "4", "--layout", "compact"],
                                         train: ["--l2", "1e-3", "--max-iter", "25", "--calibrate", "--calibration-seed", "3"])

            let gated = try await GatedCluster(executable: fixture.executable, directory: fixture.directory, workers: 2)
            let cluster = gated.cluster
            defer { cluster.stop() }
            try "3 -calibrate-".write(toFile: (gated.gate as NSString).appendingPathComponent("hold"), atomically: true, encoding: .utf8)
            let manifest = JobManifest(input: .init(path: fixture.input), output: fixture.path("model.h5"), policy: BalanceSettings(seed: 4),
                                       train: .init(settings: TrainingSettings(l2: 1e-3, optimizer: LBFGSSettings(maxIterations: 25)),
                                                    calibration: CalibrationSettings(holdOutFraction: 0.2, seed: 3)))
            let job = try ClusterClient(coordinator: cluster.endpoint).submit(manifest)
            #expect(await eventually(seconds: 60) { gated.heldRequests().count >= 2 }, "the calibration fit never reached its fourth evaluation")
            let jobDirectory = (cluster.stateDirectory as NSString).appendingPathComponent("jobs/\(job)")
            #expect(await eventually(seconds: 30) { FileManager.default.fileExists(atPath: jobDirectory + "/calibration-fit.checkpoint") })
            let endpoint = cluster.endpoint
            await cluster.crashCoordinator()
            let calibrationFit = try TrainingCheckpoint.read(path: jobDirectory + "/calibration-fit.checkpoint").state.iteration
            let finalFit = try TrainingCheckpoint.read(path: jobDirectory + "/final-fit.checkpoint").state.iteration
            #expect(calibrationFit > 0 && finalFit > 0)
            try await cluster.startCoordinator(bind: endpoint)
            try gated.release()
            let status = try #require(try await TrainingJobTests.finished(job, endpoint: cluster.endpoint))
            #expect(status.state == .committed, "\(status.error ?? "")")
            #expect(FileManager.default.contents(atPath: fixture.path("model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")),
                    "the resumed calibrated job's model differs from single-node balance + train --calibrate")
            let log = (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? ""
            #expect(log.contains("job \(job): resuming the calibration fit from iteration \(calibrationFit) (checkpoint"))
            #expect(log.contains("job \(job): resuming the final fit from iteration \(finalFit) (checkpoint"))
            let resolved = try ResolvedManifest.read(from: fixture.path("model.manifest.json"))
            #expect(resolved.training?.resumedFromIteration == finalFit && resolved.training?.calibration?.resumedFromIteration == calibrationFit)
            #expect(resolved.training?.iterations == finalFit, "the resumed final fit did not stop where it had")
            let calibration = try #require(resolved.training?.calibration)
            #expect(calibration.start == "final-fit" && calibration.evaluationCap == resolved.training?.evaluations)
            #expect((calibration.evaluations ?? .max) <= (resolved.training?.evaluations ?? 0))
            #expect(!FileManager.default.fileExists(atPath: jobDirectory))
        }

        /// A job cancelled while it trains takes its checkpoint with it (the job's directory in the state directory).
        @Test func aJobCancelledWhileTrainingLeavesNoCheckpoint() async throws {
            let executable = try #require(LocalCluster.siblingExecutable(), "build the tailforge executable (swift build --build-tests)")
            try await withTemporaryDirectory("cancelled-checkpoint") { directory in
                let input = try SyntheticPreset.small.write(to: directory + "/data", seed: 14, dimension: 8).train
                let gated = try await GatedCluster(executable: executable, directory: directory, workers: 1)
                let cluster = gated.cluster
                defer { cluster.stop() }
                try "4 -train-".write(toFile: (gated.gate as NSString).appendingPathComponent("hold"), atomically: true, encoding: .utf8)
                let manifest = JobManifest(input: .init(path: input), output: directory + "/model.h5", policy: BalanceSettings(seed: 2),
                                           train: .init(settings: TrainingSettings(optimizer: LBFGSSettings(maxIterations: 30, gradientTolerance: 1e-8))))
                let client = try ClusterClient(coordinator: cluster.endpoint)
                let job = try client.submit(manifest)
                #expect(await eventually(seconds: 60) { gated.heldRequests().count >= 1 }, "the fit never reached its fifth evaluation")
                let jobDirectory = (cluster.stateDirectory as NSString).appendingPathComponent("jobs/\(job)")
                #expect(await eventually(seconds: 30) { FileManager.default.fileExists(atPath: jobDirectory + "/final-fit.checkpoint") })
                // Mid-fit the only worker computes no shard but holds the job's rows and answers its evaluations:
                // `status` says so instead of "idle".
                let worker = try #require(try client.status().workers.first)
                #expect(worker.busyWith == nil && worker.training?.map(\.job) == [job] && worker.training?.first?.parts == 1, "\(worker)")
                let text = try await Child.run(executable, ["status", "--coordinator", cluster.endpoint]).stdout
                #expect(text.contains(": serving 1 training part of job \(job) (heard "), "\(text)")
                #expect(try client.status(job: job).jobs.first?.workers == 1, "the job's line counts the worker serving its fit")
                #expect(try client.cancel(job: job).cancelled)
                try gated.release()
                #expect(await eventually(seconds: 30) { !FileManager.default.fileExists(atPath: jobDirectory) }, "the cancelled job's checkpoint is still there")
                #expect(!FileManager.default.fileExists(atPath: directory + "/model.h5"))
            }
        }
    }
}

/// A job test's temporary directory: generated input in `data/`, and the single-node reference a user's
/// `tailforge balance` + `tailforge train` write into `single/balanced.h5` and `single/model.h5`.
struct TrainingJobFixture {
    let executable: String
    /// The test's temporary directory, which goes with the value (or at `remove()`, after the test's cluster stops).
    let scratch: TemporaryDirectory
    var directory: String { scratch.path }
    let input: String

    init(_ name: String, seed: UInt64, dimension: Int) throws {
        executable = try #require(LocalCluster.siblingExecutable(), "build the tailforge executable (swift build --build-tests)")
        scratch = TemporaryDirectory(name)
        input = try SyntheticPreset.small.write(to: (scratch.path as NSString).appendingPathComponent("data"), seed: seed, dimension: dimension).train
        try FileManager.default.createDirectory(atPath: (scratch.path as NSString).appendingPathComponent("single"), withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// Runs `balance INPUT --output single/balanced.h5 BALANCE…` and `train single/balanced.h5 --output single/model.h5 TRAIN…`.
    func singleNode(balance: [String], train: [String]) async throws {
        let balanced = try await Child.run(executable, ["balance", input, "--output", path("single/balanced.h5")] + balance)
        #expect(balanced.status == 0, "\(balanced.stderr)")
        let trained = try await Child.run(executable, ["train", path("single/balanced.h5"), "--output", path("single/model.h5")] + train)
        #expect(trained.status == 0, "\(trained.stderr)")
    }

    /// Writes `job/train.yaml`: the generated input, output `model.h5` and `policy: seed: 4` (the single-node reference's
    /// `balance --seed 4`), then `sections` verbatim (a `train:` block, `sharding:` …). Returns its path.
    func writeJobManifest(_ sections: String) throws -> String {
        try FileManager.default.createDirectory(atPath: path("job"), withIntermediateDirectories: true)
        let manifest = path("job/train.yaml")
        try ("input:\n  path: ../data/train.h5\noutput: model.h5\npolicy:\n  seed: 4\n" + sections).write(toFile: manifest, atomically: true, encoding: .utf8)
        return manifest
    }

    func remove() { scratch.remove() }
}

/// A local cluster (fast heartbeats, `directory` as data root) whose workers hold every gradient request while
/// `GATE/hold` exists, each saying so with a `held-PID-…` file in `GATE` (TrainingShardServer's test gate), so a
/// test can act while an evaluation is in flight.
struct GatedCluster {
    let cluster: LocalCluster
    let gate: String

    init(executable: String, directory: String, workers: Int) async throws {
        gate = (directory as NSString).appendingPathComponent("gate")
        try FileManager.default.createDirectory(atPath: gate, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: (gate as NSString).appendingPathComponent("hold"), contents: nil))
        cluster = LocalCluster(executable: executable, directory: (directory as NSString).appendingPathComponent("cluster"),
                               environment: [TrainingShardServer.testGateVariable: gate], heartbeatMilliseconds: 100, livenessMilliseconds: 1_000)
        cluster.dataRoots = [directory]
        do { try await cluster.start(workers: workers) } catch {
            cluster.stop()
            throw error
        }
    }

    /// The markers of the gradient requests the workers hold now.
    func heldRequests() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: gate)) ?? []).filter { $0.hasPrefix("held-") }
    }

    /// Waits until `parts` gradient requests are held, runs `whileHeld`, kills one worker holding a request with SIGKILL
    /// and lets every request through; the killed worker's index.
    func crashAWorkerHoldingAnEvaluation(parts: Int, submitted submit: Child, whileHeld: () -> Void = {}) async throws -> Int {
        let held = await eventually(seconds: 60) { () -> [String]? in
            let names = heldRequests()
            return names.count >= parts ? names : nil
        }
        let markers = try #require(held, "no evaluation reached the workers: \(submit.stderr)")
        whileHeld()
        let victim = try #require(cluster.workers.firstIndex { worker in markers.contains { $0.hasPrefix("held-\(worker.processIdentifier)-") } })
        await cluster.crashWorker(victim)
        try release()
        return victim
    }

    /// Lets the held requests and every later one through.
    func release() throws {
        try FileManager.default.removeItem(atPath: (gate as NSString).appendingPathComponent("hold"))
    }
}
