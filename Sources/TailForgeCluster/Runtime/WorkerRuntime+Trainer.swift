import Foundation
import Logging
import Synchronization
import TailForgeNumerics
import TailForgeTraining

/// A worker named in a job's `train.trainer`: it drives that job's L-BFGS (the coordinator's ``JobTrainer``, run
/// here) over its own connection to the coordinator, which relays the trainer's requests to the workers holding the
/// parts — this one among them — and the replies back.
extension WorkerRuntime {
    /// Why a trainer stopped other than by finishing.
    struct TrainerStopped: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts driving the job `order` hands over; a job already driven here (a restarted coordinator handing it over
    /// again) stops first. Answers `jobTrained` when done, or at once when the order cannot be run here.
    func drive(_ order: TrainJob, payloads: [[UInt8]]) {
        let job = order.job
        func refuse(_ reason: String) {
            log.error("job \(job): cannot drive its training here: \(reason)", metadata: LogMetadata.job(job))
            post(.send(WireMessage(JobTrained(job: job, run: order.run, error: reason))))
        }
        guard let train = order.manifest.train else { return refuse("the job has no `train:` section") }
        guard payloads.count == 1, let values = WireMessage.float32Values(payloads[0]), order.kappaCounts.allSatisfy({ $0 >= 0 }),
              order.kappaCounts.reduce(0, +) == values.count else {
            return refuse("the hand-over's κ payload does not hold the \(order.kappaCounts.reduce(0, +)) float32 values it announces")
        }
        // Like every write a coordinator asks for: only inside the work directory and the data roots.
        let roots = try? DataRoots(configuration.confinedRoots)
        for (what, path) in [("the model output", order.manifest.output), ("the checkpoint directory", order.checkpointDirectory)]
        where roots?.confine(path) == nil {
            return refuse("\(what) \(path) is outside worker \(configuration.name)'s work directory and data roots (\(configuration.confinedRoots.joined(separator: ", "))); "
                + "start the worker with --data-root for it (a shared filesystem the coordinator reads too)")
        }
        do { try FileManager.default.createDirectory(atPath: order.checkpointDirectory, withIntermediateDirectories: true) } catch {
            return refuse("cannot create the checkpoint directory \(order.checkpointDirectory): \(error)")
        }
        var kappas: [[Float]] = [], start = 0
        for count in order.kappaCounts {
            kappas.append(Array(values[start ..< start + count]))
            start += count
        }
        let trainer = JobTrainer(job: job, manifest: order.manifest, train: train, prepared: order.prepared, kappas: kappas, identity: order.identity,
                                 partCount: order.partCount, directory: order.checkpointDirectory)
        let link = LocalTrainerLink(job: job, coordinator: configuration.coordinator) { [self] _, messages in
            for message in messages { post(.send(message)) }
        }
        let earlier = jobTrainers.withLock { trainers in
            defer { trainers[job] = link }
            return trainers[job]
        }
        earlier?.abort(TrainerStopped(description: "job \(job) was handed over again"))
        log.info("job \(job): driving L-BFGS here (train.trainer) over \(order.partCount) part(s); checkpoints in \(order.checkpointDirectory)",
                 metadata: LogMetadata.job(job))
        let logger = log
        Task.detached { [self] in
            let report: JobTrained
            do {
                let outcome = try await trainer.run(transport: link, logger: logger, run: order.run) { fit, iteration in
                    logger.info("job \(job): iteration \(iteration.iteration), loss \(iteration.loss) (\(fit))", metadata: LogMetadata.job(job))
                }
                report = JobTrained(job: job, run: order.run, outcome: outcome)
            } catch {
                report = JobTrained(job: job, run: order.run, error: "\(error)")
            }
            link.close()
            // A run stopped by a later hand-over, a cancellation or the coordinator declaring this worker lost reports nothing.
            let current = jobTrainers.withLock { trainers in
                guard trainers[job] === link else { return false }
                trainers[job] = nil
                return true
            }
            if current { post(.send(WireMessage(report))) }
        }
    }

    /// Hands a reply the coordinator relayed to the trainer of the job whose session it is about; false when this
    /// worker drives no such job (the message is then unexpected).
    func deliverToTrainer(_ message: WireMessage) -> Bool {
        let session: String? = switch message.body {
        case let reply as GradientReply: reply.session
        case let loaded as TrainingShardLoaded: loaded.session
        case let tally as HeldOutTallyReply: tally.session
        case let failure as TrainingFailure: failure.session
        default: nil
        }
        guard let session, let link = jobTrainers.withLock({ $0.first { NamedTrainers.job($0.key, owns: session) }?.value }) else { return false }
        link.deliver(message)
        return true
    }

    /// Stops the trainer of `job` (cancelled, failed), if this worker drives it.
    func stopTrainer(of job: String) {
        jobTrainers.withLock { $0.removeValue(forKey: job) }?.abort(TrainerStopped(description: "job \(job) ended"))
    }

    /// Stops every trainer this worker runs, because the coordinator lost this connection (it answered
    /// "not-registered", or stayed silent past the liveness window): it closed their sessions and continues each fit
    /// itself, and hands a job back — as a new run, from the checkpoint — once this worker has registered again.
    func stopTrainers(_ reason: String) {
        let stopped = jobTrainers.withLock { trainers in
            defer { trainers.removeAll() }
            return trainers
        }
        for (job, link) in stopped.sorted(by: { $0.key < $1.key }) {
            log.warning("job \(job): stopping this worker's run of its training: \(reason)", metadata: LogMetadata.job(job))
            link.abort(TrainerStopped(description: reason))
        }
    }
}
