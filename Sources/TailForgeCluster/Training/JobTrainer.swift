import Foundation
import Logging
import TailForgeNumerics
import TailForgeEngine
import TailForgeStorage
import TailForgeTraining

/// The trainer of a job with a `train:` section, run by the coordinator (or the worker its `train.trainer` names)
/// once the job's κ are final and its balanced set's recipe is gathered: it opens a training session over the set's parts (``TrainingRecipe``:
/// each worker regenerates its rows from the input and the κ sent here), drives the same L-BFGS as `tailforge
/// train` (``SoftmaxTrainer``) and writes the model — byte-identical to single-node `balance` + `train` with the
/// same settings, because the parts are cut on block boundaries and partial sums add exactly.
struct JobTrainer: Sendable {
    var job: String
    var manifest: JobManifest
    var train: JobManifest.Train
    var prepared: PreparedJob
    /// Stage two's κ per shard (fallback applied), class by class in shard order.
    var kappas: [[Float]]
    /// The balanced set's identity (`balanced_sha256` of the gathered recipe), which the model records.
    var identity: String
    var partCount: Int
    /// The job's directory in the coordinator's state directory: each fit's checkpoint (``JobTrainingCheckpoint``).
    var directory: String
    var timeoutSeconds: Double = 600

    struct Outcome: Sendable {
        var report: LBFGSReport
        var rows: Int
        var classCount: Int
        var dimension: Int
        var parts: [Range<Int>]
        var modelSHA256: String
        var openSeconds: Double
        /// What `calibrate: true` (or `l2: auto`) chose, and the calibration fits' reports (one per λ fitted).
        var calibration: CalibrationRecord?
        var calibrationReports: [LBFGSReport] = []
        /// The settings of the final fit: the section's, with the λ `l2: auto` chose.
        var settings: TrainingSettings
        /// The iteration each fit continued from after a coordinator restart (its checkpoint), nil for a fresh start;
        /// for the calibration, the last of its fits that continued from one.
        var resumedFromIteration: Int?
        var calibrationResumedFromIteration: Int?
        /// Seconds spent writing checkpoints, both fits.
        var checkpointSeconds: Double
    }

    /// What one fit did.
    struct Fitted {
        var result: SoftmaxTrainer.Result
        var resumedFromIteration: Int?
        var checkpointSeconds: Double
    }

    /// Runs one fit over `source` by the same L-BFGS as `tailforge train`, from its checkpoint when one may continue
    /// it, checkpointing every iteration. Each checkpoint is written while the next iteration's first evaluation is
    /// on the workers (the trainer would only wait for them), one write at a time and in order, so a restart redoes at
    /// most the iteration whose checkpoint was being written. A checkpoint that cannot be written is logged and
    /// training goes on: the model does not depend on it, and a restart continues from the last one written (or
    /// iteration 0).
    /// `settings` are the section's with the fit's λ (and a calibration fit's evaluation limit); `candidate` and
    /// `warmStart` place a calibration fit on the λ path (``L2Path``) or after the final fit (`afterFinalFit`:
    /// ``CalibrationFitPlan``), the warm start applying only when no checkpoint continues the fit. `label` says which
    /// fit this is to `resumed`, `progress` and the coordinator (``TrainerProgress/fit``).
    func fit(_ fit: JobTrainingCheckpoint.Fit, candidate: Int? = nil, afterFinalFit: Bool = false, settings: TrainingSettings,
             warmStart: LBFGS.Start? = nil, label: TrainingFit, source: RemoteGradientSource, logger: Logger,
             resumed: @Sendable (TrainingFit, Int) -> Void,
             progress: @escaping @Sendable (TrainingFit, LBFGSIteration) -> Void) async throws -> Fitted {
        let checkpoint = JobTrainingCheckpoint(directory: directory, fit: fit, candidate: candidate, afterFinalFit: afterFinalFit, l2: settings.l2,
                                               job: job, train: train, identity: identity, rows: source.rowCount, classCount: source.classCount,
                                               dimension: source.dimension, blockRows: TrainingPartition.blockRows)
        let start = checkpoint.load()
        switch start {
        case .fresh: break
        case .refused(let reason):
            logger.warning("job \(job): the \(fit.rawValue) fit starts from iteration 0: checkpoint \(checkpoint.path) is refused: \(reason)",
                           metadata: LogMetadata.job(job))
        case .resume(let state):
            logger.info("job \(job): resuming the \(fit.rawValue) fit from iteration \(state.iteration) (checkpoint \(checkpoint.path))",
                        metadata: LogMetadata.job(job))
            resumed(label, state.iteration)
        }
        var writing = Duration.zero
        var failed = false
        var pending: Task<(Duration, DistributedTrainingError?), Never>?
        // Waits for the write in flight, if any, and accounts for it.
        func settle() async {
            guard let write = pending else { return }
            pending = nil
            let (seconds, error) = await write.value
            writing += seconds
            if let error, !failed {
                failed = true
                logger.error("job \(job): cannot checkpoint the \(fit.rawValue) fit (training goes on; a restarted coordinator continues from the last checkpoint written, or iteration 0): \(error)",
                             metadata: LogMetadata.job(job))
            }
        }
        let result: SoftmaxTrainer.Result
        do {
            result = try await SoftmaxTrainer.train(source: source, settings: settings, checkpoint: start.state,
                                                    warmStart: start.state == nil ? warmStart : nil) { iteration, state in
                try Task.checkCancellation()
                await settle()
                // The write (fsyncs included) blocks: it runs on a pool thread, never on a cooperative one.
                pending = Task {
                    await ComputePool.run {
                        let clock = ContinuousClock(), began = clock.now
                        do throws(DistributedTrainingError) { try checkpoint.save(state) } catch { return (clock.now - began, error) }
                        return (clock.now - began, nil)
                    }
                }
                source.reportProgress(iteration, fit: label)
                progress(label, iteration)
            }
        } catch {
            // No write may outlive the fit: the job's directory is deleted when it ends.
            await settle()
            throw error
        }
        await settle()
        return Fitted(result: result, resumedFromIteration: start.state?.iteration, checkpointSeconds: writing.seconds)
    }

    /// The parts as session shards, each with its recipe, and their κ payloads.
    func specs() throws -> (specs: [TrainingShardSpec], payloads: [[UInt8]], parts: [Range<Int>]) {
        let byClass = try prepared.kappasByClass(kappas)
        let plan = try prepared.plan(manifest.policy)
        let parts = TrainingPartition.parts(totalRows: plan.totalRows, count: partCount)
        // Every class's κ go with each part (4 bytes per real row): a drift-guarded set needs all of them to
        // regenerate any class, and they are small next to one gradient.
        let values = byClass.flatMap { $0 }
        var specs: [TrainingShardSpec] = [], payloads: [[UInt8]] = []
        for range in parts {
            let recipe = TrainingRecipe(job: job, manifest: manifest, inputSHA256: prepared.inputSHA256, firstRow: range.lowerBound,
                                        endRow: range.upperBound, classes: BalancedRowRange.classes(overlapping: range, plan: plan),
                                        kappaCount: values.count, identity: identity)
            specs.append(TrainingShardSpec(path: recipe.name, recipe: recipe))
            payloads.append(WireMessage.float32Payload(values))
        }
        return (specs, payloads, parts)
    }

    /// The name of a run's session for `fit`: `JOB-train-RUN` (the final fit) or `JOB-calibrate-RUN`.
    static func session(job: String, fit: JobTrainingCheckpoint.Fit, run: String) -> String {
        "\(job)-\(fit == .final ? "train" : "calibrate")-\(run)"
    }

    /// Trains over `transport` and writes the model to the job's output; `progress` gets every iteration with the fit
    /// it is of: with `calibrate: true` at the section's λ, of the final fit and then of the calibration fit (which
    /// starts from the final fit's weights, ``CalibrationFitPlan``); with `l2: auto`, of the λ path's fits and then of
    /// the final fit. `resumed` hears each fit that continues from a checkpoint, with its iteration. `run` names the sessions (a
    /// named trainer's is the hand-over's, ``TrainJob/run``); nil draws a new one.
    func run(transport: any TrainerTransport, logger: Logger, run: String? = nil,
             resumed: @escaping @Sendable (TrainingFit, Int) -> Void = { _, _ in },
             progress: @escaping @Sendable (TrainingFit, LBFGSIteration) -> Void) async throws -> Outcome {
        let (specs, payloads, parts) = try specs()
        let clock = ContinuousClock()
        let opened = clock.now
        // A new session id per run: replies a worker still owes a session of an earlier coordinator life (same job,
        // same evaluation numbers) must never be taken for this one's.
        let run = run ?? UUID().uuidString.prefix(8).lowercased()
        let source = try await RemoteGradientSource.open(
            transport: transport, session: Self.session(job: job, fit: .final, run: run), shards: specs, shardPayloads: payloads,
            classWeighting: train.settings.classWeighting, blockRows: TrainingPartition.blockRows, timeoutSeconds: timeoutSeconds, logger: logger)
        defer { source.close() }
        let openSeconds = (clock.now - opened).seconds
        func calibrate(_ calibration: CalibrationSettings, after final: SoftmaxTrainer.Result?) async throws -> Calibrated {
            try await self.calibrate(calibration, after: final, specs: specs, payloads: payloads, workers: source.shardWorkers, run: run,
                                     transport: transport, logger: logger, resumed: resumed, progress: progress)
        }
        // As `train`: a λ path precedes the final fit, a calibration at the section's λ follows it.
        var calibrated: Calibrated?
        if let calibration = train.calibration, !CalibrationFitPlan.followsTheFinalFit(calibration) {
            calibrated = try await calibrate(calibration, after: nil)
        }
        // As `train --l2 auto`: the final fit starts from zero at the chosen λ, the same model as a fit at that λ.
        let settings = calibrated?.settings ?? train.settings
        if train.calibration != nil {
            logger.info("job \(job): final fit on all \(source.rowCount) rows at λ = \(settings.l2)", metadata: LogMetadata.job(job))
        }
        let fitted = try await fit(.final, settings: settings, label: .final, source: source, logger: logger, resumed: resumed, progress: progress)
        let result = fitted.result
        if fitted.resumedFromIteration == result.state.iteration {
            // Continued from its last state, the fit evaluated nothing in this run: have the workers evaluate the weights
            // once more, so a named trainer's coordinator, which checks the model against the weights it relayed in the
            // final fit (``NamedTrainerEvidence``), has seen them even when another trainer's run computed them.
            _ = try await source.evaluate(result.model.parameters)
        }
        if let calibration = train.calibration, CalibrationFitPlan.followsTheFinalFit(calibration) {
            calibrated = try await calibrate(calibration, after: result)
        }
        // What `tailforge train BALANCED.h5` records for the same set: its name and identity.
        let metadata = SoftmaxModelFile.Metadata(
            settings: settings, report: result.report, trainingRows: source.rowCount, blockRows: TrainingPartition.blockRows,
            inputFiles: [train.balancedName], inputSHA256: [identity], classNames: source.classNames, calibration: calibrated?.record)
        try SoftmaxModelFile.write(result.model, metadata: metadata, to: manifest.output)
        return Outcome(report: result.report, rows: source.rowCount, classCount: source.classCount, dimension: source.dimension,
                       parts: parts, modelSHA256: try SHA256.hexDigest(ofFileAt: manifest.output), openSeconds: openSeconds,
                       calibration: calibrated?.record, calibrationReports: calibrated?.fits.map(\.result.report) ?? [], settings: settings,
                       resumedFromIteration: fitted.resumedFromIteration,
                       calibrationResumedFromIteration: calibrated?.fits.compactMap(\.resumedFromIteration).last,
                       checkpointSeconds: fitted.checkpointSeconds + (calibrated?.fits.reduce(0) { $0 + $1.checkpointSeconds } ?? 0))
    }

    struct CalibrationRefused: Error, CustomStringConvertible {
        var description: String
    }

    /// What the calibration chose and the fits it took.
    struct Calibrated {
        var record: CalibrationRecord
        /// The section's settings with the chosen λ.
        var settings: TrainingSettings
        /// One per λ fitted (one without `l2: auto`).
        var fits: [Fitted]
    }

    /// `train --calibrate`'s (and `train --l2 auto`'s) calibration over the parts the final fit's session holds: a
    /// second session of calibration parts (each placed on the worker holding its rows, which cuts it without
    /// regenerating), the calibration fit by the same L-BFGS — from `final`'s weights under its evaluation count at
    /// the section's λ (``CalibrationFitPlan``), along the same λ path as `train --l2 auto` (``L2Path``) with a grid —
    /// and the held-out tally of each fitted model summed over the parts: the single-node calibration's blocks, starts
    /// and counts (``CalibrationBlocks``), so the same λ, τ and record.
    func calibrate(_ calibration: CalibrationSettings, after final: SoftmaxTrainer.Result?, specs: [TrainingShardSpec], payloads: [[UInt8]],
                   workers: [String], run: String,
                   transport: any TrainerTransport, logger: Logger, resumed: @escaping @Sendable (TrainingFit, Int) -> Void,
                   progress: @escaping @Sendable (TrainingFit, LBFGSIteration) -> Void) async throws -> Calibrated {
        try calibration.validate()
        let cut = TrainingRecipe.Calibration(holdOutFraction: calibration.holdOutFraction, seed: calibration.seed)
        let calibrationSpecs = zip(specs, workers).map { spec, worker in
            var recipe = spec.recipe!
            recipe.calibration = cut
            return TrainingShardSpec(path: recipe.name, holder: worker, recipe: recipe)
        }
        let realCounts = try prepared.plan(manifest.policy).classes.map(\.keptCount)
        // What `CalibrationHoldOut` refuses on one machine is refused here before any worker cuts a part.
        do throws(CalibrationError) {
            _ = try CalibrationHoldOut.heldOutPositions(realCounts: realCounts, fraction: calibration.holdOutFraction, seed: calibration.seed)
        } catch {
            guard case .nothingToHoldOut = error else { throw error }
            throw CalibrationRefused(description: "no class of job \(job)'s input has at least two real rows, so `calibrate: true` has nothing to hold out: "
                + "remove `calibrate` from the `train:` section")
        }
        let plan = CalibrationFitPlan(settings: train.settings, calibration: calibration, after: final)
        let start = calibration.l2Grid == nil ? ", " + plan.phase : ""
        logger.info("job \(job): calibration fit holding out \(Int((calibration.holdOutFraction * 100).rounded())) % of each class's real rows (seed \(calibration.seed))\(start)",
                    metadata: LogMetadata.job(job))
        let source = try await RemoteGradientSource.open(
            transport: transport, session: Self.session(job: job, fit: .calibration, run: run), shards: calibrationSpecs, shardPayloads: payloads,
            classWeighting: train.settings.classWeighting, blockRows: TrainingPartition.blockRows, timeoutSeconds: timeoutSeconds, logger: logger)
        defer { source.close() }
        let prior = LogitAdjustment.prior(classCounts: realCounts)
        let candidates = calibration.l2Grid ?? [train.settings.l2]
        let searching = calibration.l2Grid != nil
        var fits: [Fitted] = []
        let steps = try await L2Path.walk(grid: calibration.l2Grid, settings: plan.settings, first: plan.start, fit: { index, settings, start in
            if searching {
                logger.info("job \(job): calibration fit \(index + 1) of \(candidates.count): λ = \(settings.l2)", metadata: LogMetadata.job(job))
            }
            let label = searching ? TrainingFit(.calibration, candidate: index + 1, candidates: candidates.count, l2: settings.l2)
                : TrainingFit(.calibration, fromFinalFit: plan.startKind == .finalFit)
            let fitted = try await fit(.calibration, candidate: searching ? index : nil, afterFinalFit: plan.startKind == .finalFit, settings: settings,
                                       warmStart: start, label: label, source: source, logger: logger, resumed: resumed, progress: progress)
            fits.append(fitted)
            return fitted.result
        }, tally: { model in
            try await source.heldOutTally(model, grid: calibration.tauGrid, prior: prior)
        })
        let chosen = try LogitAdjustmentCalibrator.choose(tallies: steps.map(\.tally), prior: prior, calibration: calibration, fitRows: source.rowCount,
                                                          fits: plan.fits(steps.map(\.fit.report)))
        var settings = train.settings
        settings.l2 = candidates[chosen.l2Index]
        let record = chosen.record
        let lambda = searching ? "λ = \(settings.l2) of \(steps.count) fitted (\(candidates.count) candidates), " : ""
        logger.info("job \(job): calibration chose \(lambda)τ = \(record.adjustment.tau) (held-out balanced accuracy \(record.balancedAccuracy) over \(record.heldOutRows) rows)",
                    metadata: LogMetadata.job(job))
        return Calibrated(record: record, settings: settings, fits: fits)
    }
}
