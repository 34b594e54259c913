import Foundation
import Logging
import TailForgeStorage
import TailForgeTraining

/// A job whose `train.trainer` names a worker: the coordinator hands the job's trainer to that worker once it has
/// registered (``TrainJob``), lets it open, feed and close that job's sessions only — with the recipes and κ the
/// coordinator holds — checks the model it reports against what it relayed before committing, continues the fit
/// itself from the shared checkpoint while the worker is away, and hands it back when the worker registers again
/// (the rule: ``NamedTrainers``).
extension CoordinatorLoop {
    /// Carries out what ``NamedTrainers`` decides each turn.
    mutating func tickNamedTrainers() {
        guard !namedTrainers.entries.isEmpty else { return }
        for decision in namedTrainers.tick(workers: registry.records) { carryOut(decision) }
    }

    mutating func carryOut(_ decision: NamedTrainers.Decision) {
        switch decision {
        case .handOver(let id, let identity, let run): handOver(id, to: identity, run: run)
        case .timedOut(let id, let message): fail(id, message)
        case .takeOver(let id): takeOverTraining(id)
        case .stopLocalTrainer(let id):
            guard let link = trainers[id] else {
                // Nothing runs here any more (its outcome is on its way): decide as if it had stopped.
                if let next = namedTrainers.localTrainerStopped(id, workers: registry.records) { carryOut(next) }
                return
            }
            log.info("job \(id): worker \(namedTrainers.entries[id]?.name ?? "?") (train.trainer) registered again; stopping the coordinator's trainer to hand the fit back",
                     metadata: LogMetadata.job(id))
            link.abort(HandedBack(job: id))
        }
    }

    /// Why the coordinator's trainer of a job stopped: its named worker is back.
    struct HandedBack: Error, CustomStringConvertible {
        var job: String
        var description: String { "job \(job) goes back to its named trainer" }
    }

    mutating func handOver(_ id: String, to identity: Identity, run: String) {
        guard let job = jobs[id], let trainer = job.trainer else { return }
        let order = TrainJob(job: id, manifest: job.manifest, prepared: trainer.prepared, identity: trainer.identity, partCount: trainer.partCount,
                             checkpointDirectory: trainer.directory, kappaCounts: trainer.kappas.map(\.count), run: run)
        let worker = name(identity)
        if updateLastTrainerLoss(id, { $0.resumedOnWorker = true }) {
            log.info("job \(id): handed back to worker \(worker), which registered again; it continues the fit from the checkpoints in \(trainer.directory) (run \(run))",
                     metadata: LogMetadata.job(id))
        } else {
            log.info("job \(id): handed to worker \(worker), which drives L-BFGS (checkpoints in \(trainer.directory), run \(run))", metadata: LogMetadata.job(id))
        }
        send(identity, WireMessage(order, payloads: [WireMessage.float32Payload(trainer.kappas.flatMap { $0 })]))
        recordKernel(id, trainer: true, name: worker, family: registry[identity]?.blasCore ?? TrainingKernels.unknown)
        jobs[id]?.training?.awaitingTrainer = nil
        jobs[id]?.training?.trainer = worker
    }

    /// The worker connected as `identity` is gone: the sessions it drove close, and each job it drove records the loss;
    /// the next ``tickNamedTrainers`` gives the job to the coordinator's trainer, or back to the worker if it
    /// registered again already.
    mutating func namedTrainerLost(_ identity: Identity, worker: String) {
        let jobs = namedTrainers.lost(identity)
        guard !jobs.isEmpty else { return }
        send(training.closeSessions(ofTrainer: identity, log: log))
        for id in jobs {
            guard var training = self.jobs[id]?.training else { continue }
            training.trainerLosses = (training.trainerLosses ?? []) + [TrainerLoss(worker: worker, iteration: training.iteration)]
            self.jobs[id]?.training = training
        }
    }

    /// The named trainer of `id` is away: the coordinator's own trainer continues the fit from the last checkpoint the
    /// worker wrote (iteration 0 when there is none): the checkpoint is bound to the job, the set and the settings, not
    /// to the machine, so either way the model is the single-node one.
    mutating func takeOverTraining(_ id: String) {
        guard let job = jobs[id], job.state == .training, let trainer = job.trainer else { return }
        let worker = namedTrainers.entries[id]?.name ?? job.training?.trainer ?? "?"
        log.warning("job \(id): trainer worker \(worker) lost; the coordinator continues the fit from the checkpoints in \(trainer.directory) until the worker registers again",
                    metadata: LogMetadata.job(id))
        // The worker made it; if it died first, the fit starts at iteration 0 and checkpoints there from now on.
        try? FileManager.default.createDirectory(atPath: trainer.directory, withIntermediateDirectories: true)
        jobs[id]?.training?.trainer = nil
        updateLastTrainerLoss(id) { $0.takenOver = true }
        runLocalTrainer(id, trainer)
    }

    /// Applies `change` to the job's latest ``TrainerLoss`` (the one a take-over or a hand-back continues); false
    /// when the job has none, i.e. its worker was never lost.
    @discardableResult
    mutating func updateLastTrainerLoss(_ id: String, _ change: (inout TrainerLoss) -> Void) -> Bool {
        guard let count = jobs[id]?.training?.trainerLosses?.count, count > 0 else { return false }
        change(&jobs[id]!.training!.trainerLosses![count - 1])
        return true
    }

    /// True when `message` is a trainer's message about a session of the job the worker connected as `identity` drives.
    func isNamedTrainerMessage(_ message: WireMessage, from identity: Identity) -> Bool {
        guard let session = Self.trainerSession(message) else { return false }
        return namedTrainers.job(drivenBy: identity, session: session) != nil
    }

    /// The session a trainer → coordinator message is about.
    static func trainerSession(_ message: WireMessage) -> String? {
        switch message.body {
        case let open as TrainingOpen: open.session
        case let request as GradientRequest: request.session
        case let close as TrainingClose: close.session
        case let ping as TrainingPing: ping.session
        case let progress as TrainerProgress: progress.session
        default: nil
        }
    }

    /// `open` as the coordinator opens it for job `id`: the recipes of the coordinator's own parts (with the
    /// manifest's calibration cut for a calibration session) and the κ it holds; nil when the trainer asked for
    /// anything else. Only the placement hints (`holder`) are the trainer's.
    func openedByTheCoordinator(_ open: TrainingOpen, job id: String) -> WireMessage? {
        guard let job = jobs[id], let trainer = job.trainer, let (specs, payloads, _) = try? trainer.specs(),
              open.shards.count == specs.count else { return nil }
        let calibration = open.session.hasPrefix(NamedTrainers.finalFitPrefix(id)) ? nil
            : trainer.train.calibration.map { TrainingRecipe.Calibration(holdOutFraction: $0.holdOutFraction, seed: $0.seed) }
        var shards: [TrainingShardSpec] = []
        for (theirs, ours) in zip(open.shards, specs) {
            guard var recipe = ours.recipe else { return nil }
            recipe.calibration = calibration
            guard theirs.recipe == recipe, theirs.path == recipe.name else { return nil }
            shards.append(TrainingShardSpec(path: recipe.name, holder: theirs.holder, recipe: recipe))
        }
        return WireMessage(TrainingOpen(session: open.session, shards: shards), payloads: payloads)
    }

    /// Keeps what a named trainer's final fit sends the workers and gets back, and its progress for `status`.
    mutating func witnessNamedTrainer(_ message: WireMessage, from identity: Identity) {
        switch message.body {
        case let request as GradientRequest:
            guard let id = namedTrainers.job(drivenBy: identity, session: request.session),
                  request.session.hasPrefix(NamedTrainers.finalFitPrefix(id)), request.heldOutScore == nil, let weights = message.payloads.first else { return }
            namedTrainers.record(id) { $0.requested(session: request.session, iteration: request.iteration, shards: request.shards, weights: weights) }
        case let reply as GradientReply:
            guard registry[identity] != nil, let id = namedTrainers.drivenJob(ofFinalFit: reply.session) else { return }
            namedTrainers.record(id) { $0.replied(session: reply.session, iteration: reply.iteration, shard: reply.shard, lossSum: reply.lossSum, rows: reply.rows) }
        case let progress as TrainerProgress:
            guard let id = namedTrainers.job(drivenBy: identity, session: progress.session), jobs[id]?.state == .training,
                  jobs[id]?.training != nil else { return }
            jobs[id]?.training?.iteration = progress.iteration
            jobs[id]?.training?.loss = progress.loss
            // A trainer from before `fit` was added is placed by its session's name (final or calibration fit).
            jobs[id]?.training?.fit = progress.fit
                ?? (progress.session.hasPrefix(NamedTrainers.finalFitPrefix(id)) ? .final : TrainingFit(.calibration))
        default:
            break
        }
    }

    /// A named trainer's report: on success the model is checked (``verifiedNamedModel``) and committed, or refused
    /// and removed; a failure fails the job with the trainer's reason.
    /// A report of any other run — one from before the worker was lost, even on the same connection — is refused.
    mutating func namedTrainerFinished(_ identity: Identity, _ report: JobTrained) {
        guard jobs[report.job]?.state == .training, let entry = namedTrainers.report(report.job, from: identity, run: report.run) else {
            let why = "it is not the run the job is handed to (an earlier run's report, from before the worker was lost, or from a worker that does not drive it)"
            log.warning("refused a jobTrained for job \(report.job) (run \(report.run)) from \(name(identity)): \(why)", metadata: LogMetadata.job(report.job))
            return
        }
        let id = report.job
        if let error = report.error {
            trained(id, .failure(.init(message: "training on worker \(entry.name) failed: \(error)")))
            return
        }
        switch verifiedNamedModel(id, report, evidence: entry.evidence) {
        case .success(let outcome):
            log.info("job \(id): the model worker \(entry.name) wrote checks out (SHA-256, set, settings, weights and loss the workers evaluated)",
                     metadata: LogMetadata.job(id))
            trained(id, .success(outcome))
        case .failure(let refusal):
            if let output = jobs[id]?.manifest.output { try? FileManager.default.removeItem(atPath: output) }
            trained(id, .failure(.init(message: "the model worker \(entry.name) reported is refused and removed: \(refusal.message)")))
        }
    }

    /// The outcome of a named trainer's run, from the model file the coordinator hashed and read itself, when that
    /// file is the one the trainer reported (same SHA-256), records this job's set and settings, and holds weights
    /// the workers evaluated in its final fit at the loss it records (``NamedTrainerEvidence``).
    func verifiedNamedModel(_ id: String, _ report: JobTrained, evidence: NamedTrainerEvidence)
        -> Result<JobTrainer.Outcome, CoordinatorRuntime.JobStepError> {
        func refuse(_ reason: String) -> Result<JobTrainer.Outcome, CoordinatorRuntime.JobStepError> { .failure(.init(message: reason)) }
        guard let job = jobs[id], let trainer = job.trainer else { return refuse("the job has no trainer") }
        let output = job.manifest.output
        guard let claimed = report.modelSHA256, let lbfgs = report.report else { return refuse("it reported no model digest or optimiser report") }
        let digest: String, loaded: SoftmaxModelFile.Loaded
        do {
            digest = try SHA256.hexDigest(ofFileAt: output)
            loaded = try SoftmaxModelFile.read(path: output)
        } catch {
            return refuse("\(output) is not a readable model: \(error)")
        }
        guard digest == claimed else { return refuse("\(output) has SHA-256 \(digest), not the \(claimed) it reported") }
        let attributes = loaded.attributes, settings = trainer.train.settings
        let rows = trainer.prepared.totalRows
        guard attributes["input_sha256"]?.stringValue == trainer.identity, attributes["training_rows"]?.intValue == Int64(rows) else {
            return refuse("it records another training set (input_sha256 \(attributes["input_sha256"]?.stringValue ?? "none"), "
                + "\(attributes["training_rows"]?.intValue.map(String.init) ?? "no") rows) than the job's \(trainer.identity) of \(rows) rows")
        }
        // With `l2: auto` the trainer chose λ among the grid's candidates (which one is replay's to prove).
        var chosen = settings
        chosen.l2 = attributes["l2"]?.doubleValue ?? .nan
        guard trainer.train.calibration?.l2Grid?.contains(chosen.l2) ?? (chosen.l2 == settings.l2),
              attributes["class_weighting"]?.stringValue == settings.classWeighting.name,
              attributes["max_iterations"]?.intValue == Int64(settings.optimizer.maxIterations),
              attributes["gradient_tolerance"]?.doubleValue == settings.optimizer.gradientTolerance,
              attributes["loss_tolerance"]?.doubleValue == settings.optimizer.lossTolerance else {
            return refuse("it records other training settings than the job's `train:` section")
        }
        guard let finalLoss = attributes["final_loss"]?.doubleValue, finalLoss == lbfgs.finalLoss else {
            return refuse("its final_loss is not the \(lbfgs.finalLoss) the trainer reported")
        }
        if let refusal = evidence.refusal(model: loaded.model, finalLoss: finalLoss, l2: chosen.l2, rows: rows) { return refuse(refusal) }
        return .success(JobTrainer.Outcome(
            report: lbfgs, rows: rows, classCount: loaded.model.classCount, dimension: loaded.model.dimension,
            parts: report.parts.compactMap { $0.count == 2 && $0[0] <= $0[1] ? $0[0] ..< $0[1] : nil }, modelSHA256: digest,
            openSeconds: report.openSeconds, calibration: loaded.calibration, calibrationReports: report.calibrationReports, settings: chosen,
            resumedFromIteration: report.resumedFromIteration, calibrationResumedFromIteration: report.calibrationResumedFromIteration,
            checkpointSeconds: report.checkpointSeconds))
    }
}
