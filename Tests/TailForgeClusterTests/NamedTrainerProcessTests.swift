import Foundation
import Testing
import TailForgeEngine
import TailForgeStorage
@testable import TailForgeTraining
@testable import TailForgeCluster

extension ClusterProcessTests {
    /// `train.trainer: WORKER` on real `tailforge` processes: the named worker drives L-BFGS while the parts are
    /// evaluated by the workers holding them, and the model is single-node `balance` + `train`'s byte for byte —
    /// also when that worker is killed mid-fit (the coordinator continues from the checkpoint it wrote beside the
    /// output). A name that never registers fails the job naming the workers that did; a model the coordinator did
    /// not see the workers evaluate is refused and removed, whatever digest its trainer reports.
    @Suite struct NamedTrainerProcessTests {
        static let trainFlags = ["--l2", "1e-3", "--max-iter", "30", "--tol", "1e-6"]
        /// `trainFlags` as a manifest's `train:` section, driven by worker `trainer`.
        static func trainSection(trainer: String) -> String {
            """
            train:
              l2: 0.001
              max_iterations: 30
              tolerance: 0.000001
              trainer: \(trainer)
            """
        }

        /// The single-node reference (compact balance + train with `trainFlags`) in `fixture`, then a gated cluster of two
        /// workers (holding every gradient request, or those `hold` says) and `submit --wait` of the job naming `trainer`.
        static func submitToGatedCluster(_ fixture: TrainingJobFixture, trainer: String, hold: String? = nil) async throws -> (GatedCluster, Child) {
            try FileManager.default.createDirectory(atPath: fixture.path("job"), withIntermediateDirectories: true)
            try await fixture.singleNode(balance: ["--seed", "4", "--layout", "compact"], train: trainFlags)
            let gated = try await GatedCluster(executable: fixture.executable, directory: fixture.directory, workers: 2)
            if let hold { try hold.write(toFile: (gated.gate as NSString).appendingPathComponent("hold"), atomically: true, encoding: .utf8) }
            let manifest = try fixture.writeJobManifest(Self.trainSection(trainer: trainer))
            return (gated, try Child(fixture.executable, ["submit", manifest, "--coordinator", gated.cluster.endpoint, "--wait", "--json"]))
        }

        /// Waits until the gate holds the fit's ninth evaluation (`hold: "8 -train-"`) and the named trainer (worker
        /// `local1`) has written the final-fit checkpoint of its last iteration beside the output; returns the
        /// checkpoint's path. The checkpoint of the iteration before the held evaluation is written while that
        /// evaluation is out, so it is waited for: the iteration the trainer logged last.
        static func waitForHeldFitWithCheckpoint(_ fixture: TrainingJobFixture, _ gated: GatedCluster, _ submit: Child) async -> String {
            #expect(await eventually(seconds: 60) { gated.heldRequests().count >= 2 }, "the fit never reached its ninth evaluation: \(submit.stderr)")
            let checkpoint = fixture.path("job/model.h5.checkpoints/final-fit.checkpoint")
            let lastLogged = { () -> Int? in
                let log = (try? String(contentsOfFile: gated.cluster.logPath("worker1"), encoding: .utf8)) ?? ""
                return log.split(separator: "\n").compactMap { line -> Int? in
                    guard let range = line.range(of: ": iteration "), let comma = line[range.upperBound...].firstIndex(of: ",") else { return nil }
                    return Int(line[range.upperBound ..< comma])
                }.last
            }
            #expect(await eventually(seconds: 30) {
                guard let logged = lastLogged(), let written = try? TrainingCheckpoint.read(path: checkpoint).state.iteration else { return false }
                return written == logged
            }, "the named trainer did not checkpoint its last iteration (\(String(describing: lastLogged())))")
            return checkpoint
        }

        @Test func aNamedTrainerGivesTheSingleNodeModelAndReplayVerifiesIt() async throws {
            let fixture = try TrainingJobFixture("named-trainer", seed: 21, dimension: 16)
            defer { fixture.remove() }
            try FileManager.default.createDirectory(atPath: fixture.path("job"), withIntermediateDirectories: true)
            try await fixture.singleNode(balance: ["--seed", "4", "--layout", "compact"], train: Self.trainFlags)

            // With keys: the trainer's messages come from a worker key, which may send them only for its job's sessions.
            let cluster = LocalCluster(executable: fixture.executable, directory: fixture.path("cluster"))
            cluster.dataRoots = [fixture.directory]
            cluster.secure = true
            defer { cluster.stop() }
            try await cluster.start(workers: 2)
            let manifest = try fixture.writeJobManifest(Self.trainSection(trainer: "local1"))
            let client = try ClusterClient(coordinator: cluster.endpoint, security: try cluster.clientSecurity)
            let job = try client.submit(try ManifestLoader.load(path: manifest))
            let finished = await eventually(seconds: 120) { () -> JobStatus? in
                guard let status = try? client.status(job: job).jobs.first, status.state.isTerminal else { return nil }
                return status
            }
            let status = try #require(finished, "job \(job) did not finish")
            #expect(status.state == .committed, "\(status.error ?? "")")
            #expect(FileManager.default.contents(atPath: fixture.path("job/model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")),
                    "the named trainer's model differs from single-node balance + train")
            let coordinatorLog = (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? ""
            let trainerLog = (try? String(contentsOfFile: cluster.logPath("worker1"), encoding: .utf8)) ?? ""
            #expect(coordinatorLog.contains("handed to worker local1, which drives L-BFGS"), "never handed over")
            #expect(coordinatorLog.contains("the model worker local1 wrote checks out"), "the model was not checked")
            #expect(trainerLog.contains("driving L-BFGS here (train.trainer) over 2 part(s)"), "worker local1 did not drive the fit")
            #expect(!coordinatorLog.contains("resuming the final fit"))
            let resolved = try ResolvedManifest.read(from: fixture.path("job/model.manifest.json"))
            #expect(resolved.outputSHA256 == (try SHA256.hexDigest(ofFileAt: fixture.path("single/model.h5"))))
            #expect(resolved.training?.parts.count == 2 && resolved.manifest.train?.trainer == "local1")
            #expect(!FileManager.default.fileExists(atPath: fixture.path("job/model.h5.checkpoints")), "the checkpoints outlived the job")

            try await TrainingJobProcessTests.expectLocalReplay(fixture.executable, manifest: fixture.path("job/model.manifest.json"),
                                                                writes: fixture.path("job/model.replay.h5"), sameAs: fixture.path("single/model.h5"))
        }

        /// `l2: auto` with `calibrate: true` driven by a named worker: its calibration sessions are opened with the
        /// coordinator's calibration cut, it walks the λ path, and the model (λ, τ, π, the record of the choice) is
        /// single-node `train --l2 auto --calibrate`'s byte for byte; the resolved manifest records the choice.
        @Test func aNamedTrainerSearchingL2AndCalibratingGivesTheSingleNodeModel() async throws {
            let fixture = try TrainingJobFixture("named-trainer-l2-auto", seed: 26, dimension: 16)
            defer { fixture.remove() }
            try FileManager.default.createDirectory(atPath: fixture.path("job"), withIntermediateDirectories: true)
            try await fixture.singleNode(balance: ["--seed", "4", "--layout", "compact"],
                                         train: ["--l2", "auto", "--l2-grid", "1e-1,1e-3", "--max-iter", "20", "--calibrate", "--calibration-seed", "3"])
            let cluster = LocalCluster(executable: fixture.executable, directory: fixture.path("cluster"))
            cluster.dataRoots = [fixture.directory]
            defer { cluster.stop() }
            try await cluster.start(workers: 2)
            let manifest = try fixture.writeJobManifest("""
                train:
                  l2: auto
                  l2_grid: [1e-1, 1e-3]
                  max_iterations: 20
                  calibrate: true
                  calibration_seed: 3
                  trainer: local0
                """)
            let submit = try await Child.run(fixture.executable, ["submit", manifest, "--coordinator", cluster.endpoint, "--wait", "--json"])
            #expect(submit.status == 0, "\(submit.stdout)\n\(submit.stderr)")
            #expect(FileManager.default.contents(atPath: fixture.path("job/model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")),
                    "the named trainer's l2: auto model differs from single-node balance + train --l2 auto --calibrate")
            let trainerLog = (try? String(contentsOfFile: cluster.logPath("worker0"), encoding: .utf8)) ?? ""
            #expect(trainerLog.contains("calibration chose λ = "), "worker local0 did not walk the λ path")
            let record = try #require(try SoftmaxModelFile.read(path: fixture.path("single/model.h5")).calibration)
            let calibration = try #require(try ResolvedManifest.read(from: fixture.path("job/model.manifest.json")).training?.calibration)
            #expect(calibration.l2Candidates?.map(\.l2) == record.l2Candidates.map(\.l2) && calibration.tau == record.adjustment.tau)
            #expect(calibration.iterations == calibration.l2Candidates?.reduce(0) { $0 + $1.iterations })
            // The named trainer's final fit ran last here; the committed status carries its figures, from its report.
            let training = try #require(try ResolvedManifest.read(from: fixture.path("job/model.manifest.json")).training)
            let committed = try #require(try JSONDecoder().decode(JobStatus.self, from: Data((submit.stdout.split(separator: "\n").last ?? "").utf8)).training)
            #expect(committed.iteration == training.iterations && committed.loss == training.finalLoss && committed.fit == .final, "\(committed)")
            #expect(committed.calibration?.l2 == calibration.l2 && committed.calibration?.fits == 2 && committed.calibration?.tau == calibration.tau)
        }

        /// The named trainer (which also holds a part) killed with SIGKILL after several iterations: the coordinator's own
        /// trainer continues from the last checkpoint the worker wrote beside the output, its part moves to the other
        /// worker, and the model is the single-node one.
        @Test func aNamedTrainerKilledMidFitStillGivesTheSingleNodeModel() async throws {
            let fixture = try TrainingJobFixture("named-trainer-killed", seed: 22, dimension: 16)
            defer { fixture.remove() }
            // Let the fit's first 8 evaluations through (several iterations, so checkpoints), then hold the next one.
            let (gated, submit) = try await Self.submitToGatedCluster(fixture, trainer: "local1", hold: "8 -train-")
            let cluster = gated.cluster
            defer { cluster.stop() }
            let checkpoint = await Self.waitForHeldFitWithCheckpoint(fixture, gated, submit)
            await cluster.crashWorker(1)
            let iteration = try TrainingCheckpoint.read(path: checkpoint).state.iteration
            #expect(iteration > 0)
            try gated.release()

            let finished = await submit.finish()
            #expect(finished.status == 0, "\(finished.stdout)\n\(finished.stderr)")
            #expect(FileManager.default.contents(atPath: fixture.path("job/model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")),
                    "the model after the named trainer died differs from single-node balance + train")
            let log = (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? ""
            #expect(log.contains("trainer worker local1 lost; the coordinator continues the fit from the checkpoints in"), "no take-over in the log")
            #expect(log.contains("resuming the final fit from iteration \(iteration) (checkpoint"), "did not continue from iteration \(iteration)")
            let resolved = try ResolvedManifest.read(from: fixture.path("job/model.manifest.json"))
            #expect(resolved.training?.resumedFromIteration == iteration)
            #expect(!FileManager.default.fileExists(atPath: fixture.path("job/model.h5.checkpoints")), "the checkpoints outlived the job")
        }

        /// The coordinator killed with SIGKILL while a named trainer drives the fit: the restarted coordinator resumes the
        /// job, hands it to the same worker again, which drops its earlier run and continues from the checkpoint beside
        /// the output; the model is the single-node one.
        @Test func aCoordinatorKilledWhileANamedTrainerDrivesHandsTheJobOverAgain() async throws {
            let fixture = try TrainingJobFixture("named-trainer-restart", seed: 27, dimension: 16)
            defer { fixture.remove() }
            let (gated, submit) = try await Self.submitToGatedCluster(fixture, trainer: "local1", hold: "8 -train-")
            let cluster = gated.cluster
            defer { cluster.stop() }
            let checkpoint = await Self.waitForHeldFitWithCheckpoint(fixture, gated, submit)
            let endpoint = cluster.endpoint
            await cluster.crashCoordinator()
            let iteration = try TrainingCheckpoint.read(path: checkpoint).state.iteration
            try await cluster.startCoordinator(bind: endpoint)
            try gated.release()
            let job = try #require(try await eventually(seconds: 30) { try? ClusterClient(coordinator: endpoint).status().jobs.first?.job })
            let status = try #require(try await TrainingJobTests.finished(job, endpoint: endpoint))
            #expect(status.state == .committed, "\(status.error ?? "")")
            #expect(FileManager.default.contents(atPath: fixture.path("job/model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")),
                    "the model after the coordinator restart differs from single-node balance + train")
            let log = (try? String(contentsOfFile: cluster.logPath("worker1"), encoding: .utf8)) ?? ""
            #expect(log.contains("resuming the final fit from iteration \(iteration) (checkpoint"), "worker local1 did not continue from iteration \(iteration)")
            LocalCluster.signal(submit.process, SIGKILL)
            _ = await submit.finish()
        }

        /// The named trainer stopped with SIGSTOP past the liveness window, then continued with SIGCONT: the coordinator
        /// takes the fit over from the worker's checkpoint while it is away, and once the worker has registered again
        /// stops its own trainer and hands the job back (a new run, from the last checkpoint); the worker drops the run
        /// it had before. `status` and `wait` say what happened, and the model is the single-node one.
        @Test func aNamedTrainerThatComesBackAfterTheLivenessWindowGetsItsJobBack() async throws {
            let fixture = try TrainingJobFixture("named-trainer-stopped", seed: 28, dimension: 16)
            defer { fixture.remove() }
            let (gated, submit) = try await Self.submitToGatedCluster(fixture, trainer: "local1", hold: "8 -train-")
            let cluster = gated.cluster
            defer {
                LocalCluster.signal(cluster.workers[1], SIGCONT)
                cluster.stop()
            }
            _ = await Self.waitForHeldFitWithCheckpoint(fixture, gated, submit)
            let client = try ClusterClient(coordinator: cluster.endpoint)
            let training = { try? client.status().jobs.first { $0.state == .training }?.training }
            LocalCluster.signal(cluster.workers[1], SIGSTOP)
            // Silent past the liveness window (1 s): the coordinator continues the fit from the worker's checkpoint.
            #expect(await eventually(seconds: 30) { training()?.trainerLosses?.last?.takenOver == true }, "\(String(describing: training()))")
            let away = training()
            #expect(away?.trainer == nil && away?.summary.contains("· trainer local1 lost at iteration ") == true
                    && away?.summary.hasSuffix("; taken over by the coordinator") == true, "\(String(describing: away))")
            LocalCluster.signal(cluster.workers[1], SIGCONT)
            #expect(await eventually(seconds: 30) { training().map { $0.trainer == "local1" && $0.trainerLosses?.last?.resumedOnWorker == true } ?? false },
                    "the job did not go back to local1: \(String(describing: training()))")
            try gated.release()

            let finished = await submit.finish()
            #expect(finished.status == 0, "\(finished.stdout)\n\(finished.stderr)")
            #expect(FileManager.default.contents(atPath: fixture.path("job/model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")),
                    "the model after the named trainer came back differs from single-node balance + train")
            // `submit --json` prints `{"job": …}`, then the final status.
            let last = finished.stdout.split(separator: "\n").last.map(String.init) ?? ""
            let final = try JSONDecoder().decode(JobStatus.self, from: Data(last.utf8))
            let loss = try #require(final.training?.trainerLosses?.last, "\(finished.stdout)")
            #expect(loss.worker == "local1" && loss.takenOver && loss.resumedOnWorker)
            #expect(final.training?.trainerHistory?.hasSuffix("; taken over by the coordinator, then resumed on local1 after it reconnected") == true,
                    "\(String(describing: final.training?.trainerHistory))")
            let log = (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? ""
            #expect(log.contains("trainer worker local1 lost; the coordinator continues the fit from the checkpoints in"), "no take-over in the log")
            #expect(log.contains("worker local1 (train.trainer) registered again; stopping the coordinator's trainer"), "the coordinator's trainer was not stopped")
            #expect(log.contains("handed back to worker local1, which registered again"), "not handed back")
            #expect(log.contains("the model worker local1 wrote checks out"), "the model was not local1's")
            let trainerLog = (try? String(contentsOfFile: cluster.logPath("worker1"), encoding: .utf8)) ?? ""
            // Its first run ended without counting: stopped when local1 learnt it had been declared lost, or — when its
            // session's refusal reached it first — failed and reported, and that report of an earlier run was refused.
            #expect(trainerLog.contains("stopping this worker's run of its training") || log.contains("refused a jobTrained for job "),
                    "local1's earlier run neither stopped nor had its report refused\n\(log)\n\(trainerLog)")
            #expect(trainerLog.components(separatedBy: "driving L-BFGS here (train.trainer)").count == 3, "local1 did not drive twice")
            #expect(trainerLog.contains("resuming the final fit from iteration "), "local1 did not continue from the checkpoint")
            #expect(!FileManager.default.fileExists(atPath: fixture.path("job/model.h5.checkpoints")), "the checkpoints outlived the job")
        }

        /// `calibrate: true`, the named trainer stopped with SIGSTOP in the final fit: the coordinator takes over, finishes
        /// the final fit and is in the calibration fit (which follows it) when the worker comes back and gets the job back.
        /// The worker continues the final fit from the coordinator's last checkpoint — its final state, so it takes no step
        /// and evaluates nothing — and has the workers evaluate those weights once more, so the coordinator, which checks
        /// the model against the weights it relayed in the final fit, has seen them; then it continues the calibration fit
        /// from the coordinator's checkpoint. The model is single-node `train --calibrate`'s.
        @Test func aNamedTrainerBackDuringTheCoordinatorsCalibrationFitGivesTheSingleNodeCalibratedModel() async throws {
            let fixture = try TrainingJobFixture("named-trainer-calibrated", seed: 29, dimension: 16)
            defer { fixture.remove() }
            try FileManager.default.createDirectory(atPath: fixture.path("job"), withIntermediateDirectories: true)
            try await fixture.singleNode(balance: ["--seed", "4", "--layout", "compact"], train: Self.trainFlags + ["--calibrate", "--calibration-seed", "3"])
            let gated = try await GatedCluster(executable: fixture.executable, directory: fixture.directory, workers: 2)
            let cluster = gated.cluster
            defer {
                LocalCluster.signal(cluster.workers[1], SIGCONT)
                cluster.stop()
            }
            let hold = (gated.gate as NSString).appendingPathComponent("hold")
            try "8 -train-".write(toFile: hold, atomically: true, encoding: .utf8)
            let manifest = try fixture.writeJobManifest(Self.trainSection(trainer: "local1") + "\n  calibrate: true\n  calibration_seed: 3\n")
            let submit = try Child(fixture.executable, ["submit", manifest, "--coordinator", cluster.endpoint, "--wait", "--json"])
            _ = await Self.waitForHeldFitWithCheckpoint(fixture, gated, submit)
            let client = try ClusterClient(coordinator: cluster.endpoint)
            let training = { try? client.status().jobs.first { $0.state == .training }?.training }
            LocalCluster.signal(cluster.workers[1], SIGSTOP)
            #expect(await eventually(seconds: 30) { training()?.trainerLosses?.last?.takenOver == true }, "\(String(describing: training()))")
            // Let the coordinator's trainer finish the final fit, then hold its calibration fit's fourth evaluation (a
            // calibration checkpoint is written by then).
            let before = Set(gated.heldRequests())
            try FileManager.default.removeItem(atPath: hold)
            try await Task.sleep(for: .milliseconds(100))
            try "3 -calibrate-".write(toFile: hold, atomically: true, encoding: .utf8)
            #expect(await eventually(seconds: 60) { !Set(gated.heldRequests()).subtracting(before).isEmpty }, "the coordinator's calibration fit was never held")
            #expect(await eventually(seconds: 30) { FileManager.default.fileExists(atPath: fixture.path("job/model.h5.checkpoints/calibration-fit.checkpoint")) })
            let log = { (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? "" }
            #expect(log().contains("calibration fit holding out 20 %"), "the coordinator's trainer is not in the calibration fit")
            // status says which fit the iteration counter and loss are of: the calibration fit now, past the final fit.
            #expect(await eventually(seconds: 30) { training()?.fit == TrainingFit(.calibration, fromFinalFit: true) }, "\(String(describing: training()))")
            #expect(training()?.summary.hasPrefix("calibration fit (from the final fit's weights) · L-BFGS iteration ") == true, "\(String(describing: training()))")
            LocalCluster.signal(cluster.workers[1], SIGCONT)
            #expect(await eventually(seconds: 30) { training().map { $0.trainer == "local1" && $0.trainerLosses?.last?.resumedOnWorker == true } ?? false },
                    "the job did not go back to local1: \(String(describing: training()))")
            try gated.release()

            let finished = await submit.finish()
            #expect(finished.status == 0, "\(finished.stdout)\n\(finished.stderr)")
            #expect(FileManager.default.contents(atPath: fixture.path("job/model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")),
                    "the calibrated model after the named trainer came back differs from single-node balance + train --calibrate")
            #expect(log().contains("the model worker local1 wrote checks out"), "the model was not local1's")
            let trainerLog = (try? String(contentsOfFile: cluster.logPath("worker1"), encoding: .utf8)) ?? ""
            #expect(trainerLog.contains("resuming the final fit from iteration ") && trainerLog.contains("resuming the calibration fit from iteration "),
                    "local1 did not continue both fits from the coordinator's checkpoints\n\(trainerLog)")
        }

        /// The named trainer killed with SIGKILL and started again under its name (as systemd restarts it): the job goes
        /// back to it — through the coordinator's take-over if the restart came after the liveness window, directly if
        /// the new process registered first — and it continues from the checkpoint to the single-node model.
        @Test func aNamedTrainerRestartedUnderItsNameGetsItsJobBack() async throws {
            let fixture = try TrainingJobFixture("named-trainer-restarted", seed: 30, dimension: 16)
            defer { fixture.remove() }
            let (gated, submit) = try await Self.submitToGatedCluster(fixture, trainer: "local1", hold: "8 -train-")
            let cluster = gated.cluster
            defer { cluster.stop() }
            _ = await Self.waitForHeldFitWithCheckpoint(fixture, gated, submit)
            let client = try ClusterClient(coordinator: cluster.endpoint)
            let training = { try? client.status().jobs.first { $0.state == .training }?.training }
            await cluster.crashWorker(1)
            try cluster.restartWorker(1)
            #expect(await eventually(seconds: 30) { training().map { $0.trainer == "local1" && $0.trainerLosses?.last?.resumedOnWorker == true } ?? false },
                    "the job did not go back to the restarted local1: \(String(describing: training()))")
            try gated.release()
            let finished = await submit.finish()
            #expect(finished.status == 0, "\(finished.stdout)\n\(finished.stderr)")
            #expect(FileManager.default.contents(atPath: fixture.path("job/model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")),
                    "the model after the named trainer restarted differs from single-node balance + train")
            let log = (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? ""
            #expect(log.contains("handed back to worker local1, which registered again"), "not handed back")
            let trainerLog = (try? String(contentsOfFile: cluster.logPath("worker1"), encoding: .utf8)) ?? ""
            #expect(trainerLog.contains("resuming the final fit from iteration "), "the restarted local1 did not continue from the checkpoint")
        }

        /// A worker that registers under the trainer's name, is lost (silent past the liveness window) and registers
        /// again under a new connection gets the job back as a new run; a `jobTrained` of its first run — sent on the
        /// new connection or the old — is refused and the job keeps training; the new run's report counts.
        @Test func aReportFromBeforeTheTrainerWasLostIsRefused() async throws {
            let fixture = try TrainingJobFixture("named-trainer-stale", seed: 29, dimension: 8)
            defer { fixture.remove() }
            // Every gradient request held: the coordinator's own trainer is still in its first evaluation when the worker is back.
            let gated = try await GatedCluster(executable: fixture.executable, directory: fixture.directory, workers: 1)
            let cluster = gated.cluster
            defer { cluster.stop() }
            let client = try ClusterClient(coordinator: cluster.endpoint)
            let job = try client.submit(JobManifest(input: .init(path: fixture.input), output: fixture.path("model.h5"), policy: BalanceSettings(seed: 4),
                                                    train: .init(settings: TrainingSettings(optimizer: LBFGSSettings(maxIterations: 5)), trainer: "ghost")))
            let status = { try? client.status(job: job).jobs.first }
            #expect(await eventually(seconds: 60) { status()?.state == .training }, "job \(job) never reached training")
            let hello = Hello(workerName: "ghost", toolVersion: ToolVersion.current, host: "localhost", processId: 1, threads: 1)
            let first = try ConfinementProcessTests.Peer(cluster.endpoint, name: "ghost-1")
            try first.send(hello)
            let order1 = try #require(try await first.next(TrainJob.self, seconds: 30)?.body(as: TrainJob.self), "no hand-over")
            // It never heartbeats: lost after 1 s, and the coordinator takes over.
            #expect(await eventually(seconds: 30) { status()?.training?.trainerLosses?.last?.takenOver == true }, "\(String(describing: status()?.training))")

            let second = try ConfinementProcessTests.Peer(cluster.endpoint, name: "ghost-2")
            try second.send(hello)
            let handBack = await eventually(seconds: 30, interval: .milliseconds(100)) { () -> TrainJob? in
                try? second.send(Heartbeat())
                while let frames = try? second.socket.receive(dontWait: true), let message = try? WireMessage.decode(frames) {
                    if let order = message.body(as: TrainJob.self) { return order }
                }
                return nil
            }
            let order2 = try #require(handBack, "not handed back")
            #expect(order2.run != order1.run && order2.checkpointDirectory == order1.checkpointDirectory)
            #expect(status()?.training?.trainer == "ghost" && status()?.training?.trainerLosses?.last?.resumedOnWorker == true)

            try second.send(JobTrained(job: job, run: order1.run, error: "a report of the first run"))
            try first.send(JobTrained(job: job, run: order1.run, error: "a report of the first run, on its own connection"))
            let log = { (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? "" }
            let refused = await eventually(seconds: 30, interval: .milliseconds(100)) {
                try? second.send(Heartbeat())
                return log().components(separatedBy: "refused a jobTrained for job \(job) (run \(order1.run))").count == 3
            }
            #expect(refused, "the first run's reports were not refused")
            #expect(status()?.state == .training, "\(String(describing: status()))")

            try second.send(JobTrained(job: job, run: order2.run, error: "a planted failure of the current run"))
            let final = try #require(try await TrainingJobTests.finished(job, endpoint: cluster.endpoint))
            #expect(final.state == .failed && final.error == "training on worker ghost failed: a planted failure of the current run", "\(String(describing: final.error))")
        }

        /// Killed before it wrote any checkpoint (its first evaluation held): the coordinator fits from iteration 0.
        @Test func aNamedTrainerKilledBeforeItsFirstCheckpointIsReplacedByTheCoordinatorFromIterationZero() async throws {
            let fixture = try TrainingJobFixture("named-trainer-early", seed: 25, dimension: 8)
            defer { fixture.remove() }
            let (gated, submit) = try await Self.submitToGatedCluster(fixture, trainer: "local0")
            let cluster = gated.cluster
            defer { cluster.stop() }
            #expect(await eventually(seconds: 60) { gated.heldRequests().count >= 2 }, "the first evaluation never reached the workers: \(submit.stderr)")
            #expect(!FileManager.default.fileExists(atPath: fixture.path("job/model.h5.checkpoints/final-fit.checkpoint")))
            // status names the worker the fit runs on, then — once the coordinator has taken it over — no worker.
            let client = try ClusterClient(coordinator: cluster.endpoint)
            let training = { try? client.status().jobs.first { $0.state == .training }?.training }
            #expect(training()?.trainer == "local0" && training()?.awaitingTrainer == nil, "\(String(describing: training()))")
            #expect(training()?.summary.hasSuffix(" · trained on local0") == true, "\(String(describing: training()))")
            await cluster.crashWorker(0)
            #expect(await eventually(seconds: 30) { training().map { $0.trainer == nil } ?? false }, "\(String(describing: training()))")
            try gated.release()
            let finished = await submit.finish()
            #expect(finished.status == 0, "\(finished.stdout)\n\(finished.stderr)")
            #expect(FileManager.default.contents(atPath: fixture.path("job/model.h5")) == FileManager.default.contents(atPath: fixture.path("single/model.h5")))
            let log = (try? String(contentsOfFile: cluster.logPath("coordinator"), encoding: .utf8)) ?? ""
            #expect(log.contains("trainer worker local0 lost; the coordinator continues the fit"))
            #expect(!log.contains("resuming the final fit"), "there was no checkpoint to resume from")
        }

        @Test func aTrainerThatNeverRegistersFailsTheJobNamingTheRegisteredWorkers() async throws {
            let fixture = try TrainingJobFixture("named-trainer-missing", seed: 23, dimension: 8)
            defer { fixture.remove() }
            let cluster = LocalCluster(executable: fixture.executable, directory: fixture.path("cluster"))
            cluster.dataRoots = [fixture.directory]
            cluster.coordinatorArguments = ["--trainer-wait-seconds", "5"]
            defer { cluster.stop() }
            try await cluster.start(workers: 2)
            let manifest = JobManifest(input: .init(path: fixture.input), output: fixture.path("model.h5"), policy: BalanceSettings(seed: 4),
                                       train: .init(trainer: "locall"))
            let client = try ClusterClient(coordinator: cluster.endpoint)
            let job = try client.submit(manifest)
            // While it waits, status says whom for (it used to show the last balancing stage, as if training).
            let waiting = await eventually(seconds: 30, interval: .milliseconds(50)) {
                (try? client.status(job: job).jobs.first).flatMap { $0.state == .training ? $0.training : nil }
            }
            #expect(waiting?.trainer == "locall" && waiting?.awaitingTrainer == true, "\(String(describing: waiting))")
            #expect(waiting?.summary == "waiting for worker locall (train.trainer) to register")
            let status = try #require(try await TrainingJobTests.finished(job, endpoint: cluster.endpoint))
            #expect(status.state == .failed)
            let error = status.error ?? ""
            #expect(error.contains("`train.trainer` names worker locall, which did not register within 5 s"), "\(error)")
            #expect(error.contains("registered workers: local0, local1"), "\(error)")
            #expect(!FileManager.default.fileExists(atPath: fixture.path("model.h5")))
        }

        /// A worker that registers under the trainer's name but only claims a model: a file that is not what it reports
        /// (another digest), and then the very single-node model with its true digest — neither is a point the workers
        /// evaluated in this job, so each is refused and removed. Its attempt to open the job's session with κ of its
        /// choosing is refused too.
        @Test func aModelTheWorkersDidNotEvaluateIsRefusedWhateverDigestItsTrainerReports() async throws {
            let fixture = try TrainingJobFixture("named-trainer-forged", seed: 24, dimension: 8)
            defer { fixture.remove() }
            try await fixture.singleNode(balance: ["--seed", "4", "--layout", "compact"], train: ["--max-iter", "5"])
            let cluster = LocalCluster(executable: fixture.executable, directory: fixture.path("cluster"), livenessMilliseconds: 5_000)
            cluster.dataRoots = [fixture.directory]
            defer { cluster.stop() }
            try await cluster.start(workers: 1)
            let client = try ClusterClient(coordinator: cluster.endpoint)
            let output = fixture.path("model.h5")
            let model = try #require(FileManager.default.contents(atPath: fixture.path("single/model.h5")))
            let digest = try SHA256.hexDigest(ofFileAt: fixture.path("single/model.h5"))
            let finalLoss = try #require(try SoftmaxModelFile.read(path: fixture.path("single/model.h5")).attributes["final_loss"]?.doubleValue)

            for (index, claimed) in [String(repeating: "0", count: 64), digest].enumerated() {
                let job = try client.submit(JobManifest(input: .init(path: fixture.input), output: output, overwrite: true, policy: BalanceSettings(seed: 4),
                                                        train: .init(settings: TrainingSettings(optimizer: LBFGSSettings(maxIterations: 5)), trainer: "liar")))
                // Registers once the job waits for it (so it gets no balancing shard).
                #expect(await eventually(seconds: 60) { (try? client.status(job: job).jobs.first?.state) == .training }, "job \(job) never reached training")
                let liar = try ConfinementProcessTests.Peer(cluster.endpoint, name: "liar-\(index)")
                try liar.send(Hello(workerName: "liar", toolVersion: ToolVersion.current, host: "localhost", processId: 1, threads: 1))
                let order = try #require(try await liar.next(TrainJob.self, seconds: 30)?.body(as: TrainJob.self), "no hand-over")
                #expect(order.job == job && order.checkpointDirectory == output + ".checkpoints")
                if index == 0 {
                    // Recipes of its own over κ of its choosing: refused, not placed on the workers.
                    let recipe = TrainingRecipe(job: job, manifest: order.manifest, inputSHA256: order.prepared.inputSHA256, firstRow: 0,
                                                endRow: order.prepared.totalRows, classes: Array(0 ..< order.prepared.classCount), kappaCount: 1,
                                                identity: order.identity)
                    try liar.socket.send(WireMessage(TrainingOpen(session: JobTrainer.session(job: job, fit: .final, run: order.run), shards: [TrainingShardSpec(path: recipe.name, recipe: recipe)]),
                                                     payloads: [WireMessage.float32Payload([1e6])]).encode())
                    let refusal = try #require(try await liar.next(TrainingFailure.self)?.body(as: TrainingFailure.self))
                    #expect(refusal.message.contains("the session's recipes are not job \(job)'s parts"), "\(refusal.message)")
                }
                #expect(FileManager.default.createFile(atPath: output, contents: model))
                try liar.send(JobTrained(job: job, run: order.run, modelSHA256: claimed, report: LBFGSReport(converged: false, reason: .maxIterations, iterations: 5, finalLoss: finalLoss,
                                                                                                gradientNorm: 1, initialGradientNorm: 1, evaluations: 6, seconds: 1),
                                         parts: [[0, order.prepared.totalRows]]))
                let status = try #require(try await TrainingJobTests.finished(job, endpoint: cluster.endpoint))
                #expect(status.state == .failed)
                let error = status.error ?? ""
                #expect(error.contains("the model worker liar reported is refused and removed"), "\(error)")
                #expect(error.contains(index == 0 ? "has SHA-256 \(digest), not the \(claimed) it reported" : "its weights are none the workers evaluated"), "\(error)")
                #expect(!FileManager.default.fileExists(atPath: output), "the refused model is still there")
            }
        }
    }
}
