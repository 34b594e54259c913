import Foundation
import Logging
import TailForgeNumerics
import TailForgeTraining

/// The training stage of a job with a `train:` section: after the gather, the coordinator's own trainer drives
/// L-BFGS over the workers (``JobTrainer``); the job commits when the model is written.
extension CoordinatorLoop {
    mutating func startTraining(_ id: String, balanced: GatherReport) {
        guard var job = jobs[id], let train = job.manifest.train, let prepared = job.prepared, let kappas = job.synthesisKappas else { return }
        guard let identity = balanced.balancedIdentity else {
            fail(id, "the gathered balanced set at \(job.balancedPath) has no \("balanced_sha256") identity")
            return
        }
        job.state = .training
        job.balanced = balanced
        // One part per live worker; a worker that joins later takes parts only when one is orphaned.
        let partCount = max(1, registry.workers.count)
        // A named trainer checkpoints beside the output, where the coordinator reads too: if the worker dies, the
        // coordinator continues the fit from there.
        let trainer = JobTrainer(job: id, manifest: job.manifest, train: train, prepared: prepared, kappas: kappas, identity: identity,
                                 partCount: partCount, directory: train.trainer == nil ? job.directory : Self.namedCheckpointDirectory(job.manifest.output))
        job.trainer = trainer
        job.training = TrainingProgress(iteration: 0, maxIterations: train.settings.optimizer.maxIterations, loss: nil, parts: partCount,
                                        trainer: train.trainer, awaitingTrainer: train.trainer == nil ? nil : true)
        job.trainingBytesAtStart = training.workerBytes
        job.kernels = TrainingKernels()
        jobs[id] = job
        log.info("job \(id): training on \(partCount) part(s) of \(prepared.totalRows) rows (balanced set \(identity))", metadata: LogMetadata.job(id))
        if let name = train.trainer {
            log.info("job \(id): worker \(name) (train.trainer) drives L-BFGS; waiting up to \(Int(configuration.trainerWaitSeconds)) s for it to register",
                     metadata: LogMetadata.job(id))
            namedTrainers.wait(job: id, for: name)
            tickNamedTrainers()
        } else {
            runLocalTrainer(id, trainer)
        }
        publishProgress(id)
    }

    /// Records who computed a part of job `id`'s fit on which kernel family (the trainer, or a worker whose reply the
    /// trainer used), and logs the warning when this makes the job's machines mix families.
    mutating func recordKernel(_ id: String, trainer: Bool, name: String, family: String) {
        guard var kernels = jobs[id]?.kernels else { return }
        let newlyMixed = trainer ? kernels.trainer(name, family: family) : kernels.computed(by: name, family: family)
        jobs[id]?.kernels = kernels
        if newlyMixed, let warning = kernels.warning {
            log.warning("job \(id): \(warning)", metadata: LogMetadata.job(id))
        }
    }

    /// The training job whose session `session` is (its trainer's final or calibration fit, of any run).
    func trainingJob(ofSession session: String) -> String? {
        jobs.first { $0.value.state == .training && NamedTrainers.job($0.key, owns: session) }?.key
    }

    /// Where a named trainer checkpoints its fits: a directory beside the model, removed when the job ends.
    static func namedCheckpointDirectory(_ output: String) -> String { output + ".checkpoints" }

    /// Runs the job's trainer inside the coordinator (from the checkpoint in its directory when there is one).
    mutating func runLocalTrainer(_ id: String, _ trainer: JobTrainer) {
        let runtime = self.runtime
        let link = LocalTrainerLink(job: id, coordinator: configuration.bind) { identity, messages in
            runtime.post(.trainerMessages(identity, messages))
        }
        trainers[id] = link
        recordKernel(id, trainer: true, name: TrainingKernels.coordinator, family: BLAS.coreName)
        let logger = log
        let maxIterations = trainer.train.settings.optimizer.maxIterations, partCount = trainer.partCount
        Task.detached {
            do {
                let outcome = try await trainer.run(transport: link, logger: logger, resumed: { fit, iteration in
                    // `status` shows the iteration a fit continues from at once, not 0 until its next iteration.
                    runtime.post(.trainingProgress(job: id, TrainingProgress(iteration: iteration, maxIterations: maxIterations, loss: nil, parts: partCount,
                                                                             fit: fit)))
                }) { fit, iteration in
                    runtime.post(.trainingProgress(job: id, TrainingProgress(iteration: iteration.iteration, maxIterations: maxIterations,
                                                                             loss: iteration.loss, parts: partCount, fit: fit)))
                }
                runtime.post(.trained(job: id, .success(outcome)))
            } catch {
                runtime.post(.trained(job: id, .failure(.init(message: "training failed: \(error)"))))
            }
            link.close()
        }
    }

    mutating func trained(_ id: String, _ result: Result<JobTrainer.Outcome, CoordinatorRuntime.JobStepError>) {
        trainers[id] = nil
        // The coordinator's trainer stopped because the named worker is back: the job goes to it (or, lost again, to a new local run).
        if case .failure = result, jobs[id]?.state == .training, let next = namedTrainers.localTrainerStopped(id, workers: registry.records) {
            carryOut(next)
            return
        }
        guard let job = jobs[id], job.state == .training else {
            // Cancelled or failed while training: the job's directory was removed then, but a checkpoint the trainer was
            // writing at that moment can keep it from going (a file added while it was emptied). The trainer has stopped now.
            if let job = jobs[id], job.state.isTerminal {
                try? FileManager.default.removeItem(atPath: job.directory)
                if let directory = job.trainer?.directory { try? FileManager.default.removeItem(atPath: directory) }
            }
            return
        }
        let bytes = job.trainingBytesAtStart.map { training.workerBytes - $0 }
        switch result {
        case .failure(let error):
            fail(id, error.message)
        case .success(let outcome):
            lap(id, "training")
            let report = outcome.report
            jobs[id]?.outputSHA256 = outcome.modelSHA256
            jobs[id]?.outputContentSHA256 = nil
            jobs[id]?.trainingRecord = ResolvedManifest.Training(
                balancedSHA256: job.balanced?.balancedIdentity ?? "", balancedOutput: job.manifest.train?.balancedOutput,
                balancedOutputSHA256: job.manifest.train?.balancedOutput == nil ? nil : job.balanced?.outputSHA256,
                parts: outcome.parts.map { [$0.lowerBound, $0.upperBound] }, rows: outcome.rows, classes: outcome.classCount,
                dimension: outcome.dimension, iterations: report.iterations, evaluations: report.evaluations, finalLoss: report.finalLoss,
                gradientNorm: report.gradientNorm, converged: report.converged, stopReason: report.reason.rawValue,
                openSeconds: outcome.openSeconds, trainSeconds: report.seconds, networkBytes: bytes,
                calibration: outcome.calibration.map { ResolvedManifest.Training.Calibration(record: $0, fits: outcome.calibrationReports, l2: outcome.settings.l2,
                                                                                             resumedFromIteration: outcome.calibrationResumedFromIteration) },
                resumedFromIteration: outcome.resumedFromIteration, checkpointSeconds: outcome.checkpointSeconds, kernels: job.kernels)
            writeResolvedManifest(id)
            // The last iteration reported is the calibration fit's when it followed the final fit: `status` and `wait`
            // say the model's (the final fit's) figures, and the calibration's in a line of its own.
            let calibration = jobs[id]?.trainingRecord?.calibration
            jobs[id]?.training?.committed(iterations: report.iterations, loss: report.finalLoss, calibration: calibration)
            do { try journal.append(JournalEntry(event: .committed, job: id, sha256: outcome.modelSHA256, path: job.manifest.output)) } catch {
                log.error("cannot journal the commit of \(id) (the model is written; after a restart the job trains again): \(error)", metadata: LogMetadata.job(id))
            }
            jobs[id]?.state = .committed
            jobs[id]?.finished = Date()
            _ = namedTrainers.finish(id)
            log.info("job \(id) committed: model \(job.manifest.output) after \(report.iterations) iterations (\(report.reason.rawValue)), loss \(report.finalLoss), SHA-256 \(outcome.modelSHA256)",
                     metadata: LogMetadata.job(id))
            try? FileManager.default.removeItem(atPath: job.directory)
            if let directory = job.trainer?.directory { try? FileManager.default.removeItem(atPath: directory) }
            publishProgress(id)
            admitQueued(after: id)
        }
    }
}

extension ResolvedManifest.Training.Calibration {
    /// The record of what the calibration chose (as the model file holds it) and of its fits, one per λ fitted
    /// (how the one at the chosen λ started and stopped: the record's ``CalibrationRecord/Fit``); `l2` is the final fit's λ.
    init(record: CalibrationRecord, fits: [LBFGSReport], l2: Double, resumedFromIteration: Int?) {
        let candidates = zip(record.l2Candidates, fits).map { candidate, fit in
            let best = LogitAdjustmentCalibrator.best(candidate.balancedAccuracies)
            return L2Candidate(l2: candidate.l2, balancedAccuracy: candidate.balancedAccuracies[best], tau: record.tauGrid[best],
                               iterations: fit.iterations, seconds: fit.seconds)
        }
        self.init(tau: record.adjustment.tau, balancedAccuracy: record.balancedAccuracy, heldOutRows: record.heldOutRows, fitRows: record.fitRows,
                  iterations: fits.reduce(0) { $0 + $1.iterations }, seconds: fits.reduce(0) { $0 + $1.seconds },
                  resumedFromIteration: resumedFromIteration,
                  l2: candidates.isEmpty ? nil : l2,
                  l2Candidates: candidates.isEmpty ? nil : candidates)
        evaluations = fits.reduce(0) { $0 + $1.evaluations }
        start = record.fit?.start.rawValue
        evaluationCap = record.fit?.evaluationCap
        converged = record.fit?.converged
        stopReason = record.fit?.stopReason.rawValue
    }
}

extension TrainingProgress {
    /// The committed job's figures: the final fit's iterations and loss (the model's), and what the calibration chose
    /// and cost when there was one (`calibration`, the resolved manifest's record).
    mutating func committed(iterations: Int, loss: Double, calibration: ResolvedManifest.Training.Calibration?) {
        iteration = iterations
        self.loss = loss
        fit = .final
        self.calibration = calibration.map {
            TrainingCalibrationSummary(tau: $0.tau, evaluations: $0.evaluations ?? 0, evaluationCap: $0.evaluationCap,
                                       l2: $0.l2Candidates == nil ? nil : $0.l2, fits: $0.l2Candidates?.count)
        }
    }
}
