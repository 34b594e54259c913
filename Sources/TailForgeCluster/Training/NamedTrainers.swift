import Foundation
import TailForgeNumerics

/// The jobs whose `train.trainer` names a worker, from the end of their gather until their model is committed: each
/// waits for that worker to register (failing after `waitLimit`, naming the workers that did register), is handed
/// to it, falls back to the coordinator's own trainer while it is away, and goes back to it when it registers again.
///
/// The rule: **the named worker drives the fit whenever it is registered.** When it is lost (liveness, or a restart
/// under its name), the coordinator's trainer continues from the last checkpoint beside the output — at once, so a
/// dead worker costs no wait. When a worker of that name registers again before the fit ends, the coordinator stops
/// its own trainer (no checkpoint write outlives it) and hands the job back; the worker continues from the last
/// checkpoint. Every hand-over is a new *run*: the trainer names its sessions after it and echoes it in
/// `jobTrained`, and only the current run's messages and report are accepted — a report or request from an earlier
/// run (a connection that came back, a process that resumed after SIGSTOP) is refused.
///
/// Owned by the coordinator's network thread (a value in ``CoordinatorLoop``); every method returns decisions
/// instead of acting, like ``TrainingSessions``.
struct NamedTrainers {
    enum Phase: Equatable {
        /// The named worker has not registered yet.
        case waiting(since: ContinuousClock.Instant)
        /// Handed over as `run`: the worker connected as `identity` drives L-BFGS.
        case driving(identity: [UInt8], run: String)
        /// The worker was lost; the next tick hands the job back to it if it registered again meanwhile (a restart
        /// under its name), else to the coordinator's trainer.
        case lost
        /// The coordinator's trainer drives the fit while the worker is away.
        case coordinatorDriving
        /// The worker registered again: the coordinator's trainer is stopping; once stopped the job goes back to it.
        case reclaiming
    }

    struct Entry {
        /// The worker's name (`tailforge worker --name`).
        var name: String
        var phase: Phase
        /// What the coordinator relayed of the final fit, to check the model the trainer reports (kept across runs:
        /// each of them evaluated points of the same fit).
        var evidence = NamedTrainerEvidence()
    }

    enum Decision: Equatable {
        /// Send the job to the worker connected as `identity`, as run `run`.
        case handOver(job: String, identity: [UInt8], run: String)
        /// The worker did not register in time: fail the job with `message`.
        case timedOut(job: String, message: String)
        /// The worker is away: the coordinator's trainer continues the fit from the last checkpoint.
        case takeOver(job: String)
        /// The worker is back while the coordinator's trainer drives: stop that trainer, then report it with
        /// ``localTrainerStopped(_:workers:)``.
        case stopLocalTrainer(job: String)
    }

    private(set) var entries: [String: Entry] = [:]
    var waitLimit: Duration
    /// A fresh run id for each hand-over: unique across coordinator lives too, so a trainer's run from before a
    /// restart is never taken for the current one.
    var newRun: () -> String = { String(UUID().uuidString.prefix(8)).lowercased() }

    init(waitLimit: Duration) { self.waitLimit = waitLimit }

    /// `job` waits for worker `name` from `now`.
    mutating func wait(job: String, for name: String, now: ContinuousClock.Instant = .now) {
        entries[job] = Entry(name: name, phase: .waiting(since: now))
    }

    /// Hands each waiting or lost job to its worker once registered, gives up on those that waited too long, lets the
    /// coordinator take over those whose worker is away, and reclaims those whose worker came back.
    mutating func tick(workers: [[UInt8]: WorkerRecord], now: ContinuousClock.Instant = .now) -> [Decision] {
        var decisions: [Decision] = []
        for job in entries.keys.sorted() {
            guard let entry = entries[job] else { continue }
            let identity = workers.first { $0.value.name == entry.name }?.key
            switch entry.phase {
            case .waiting(let since):
                if let identity {
                    decisions.append(handOver(job, to: identity))
                } else if now - since >= waitLimit {
                    entries[job] = nil
                    decisions.append(.timedOut(job: job, message: Self.neverRegistered(entry.name, waited: waitLimit, registered: workers.values.map(\.name))))
                }
            case .lost:
                decisions.append(resume(job, on: identity))
            case .coordinatorDriving:
                if identity != nil {
                    entries[job]?.phase = .reclaiming
                    decisions.append(.stopLocalTrainer(job: job))
                }
            case .driving, .reclaiming:
                break
            }
        }
        return decisions
    }

    private mutating func handOver(_ job: String, to identity: [UInt8]) -> Decision {
        let run = newRun()
        entries[job]?.phase = .driving(identity: identity, run: run)
        return .handOver(job: job, identity: identity, run: run)
    }

    /// The status of a job whose named worker never came: who did, and the nearest name when it looks like a typo.
    static func neverRegistered(_ name: String, waited: Duration, registered: [String]) -> String {
        let names = Set(registered).sorted()
        // Worker names are matched exactly, so a name differing only in case is a typo too (Spelling.closest skips those).
        let near = names.map { ($0, Spelling.distance(name.lowercased(), $0.lowercased())) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
        let seconds = waited.seconds.formatted(.number.precision(.fractionLength(0 ... 1)))
        return "`train.trainer` names worker \(name), which did not register within \(seconds) s (coordinator --trainer-wait-seconds); "
            + (names.isEmpty ? "no worker is registered" : "registered workers: \(names.joined(separator: ", "))")
            + (near.map { " (did you mean `\($0)`?)" } ?? "")
            + ". Start `tailforge worker --name \(name)`, or submit the job again with another `train.trainer` (or none, to train on the coordinator)."
    }

    /// The jobs the worker connected as `identity` was driving: their run is over, and the next ``tick`` gives each to
    /// the coordinator's trainer or, if it registered again already, back to the worker.
    mutating func lost(_ identity: [UInt8]) -> [String] {
        let jobs = entries.filter { if case .driving(identity, _) = $0.value.phase { true } else { false } }.keys.sorted()
        for job in jobs { entries[job]?.phase = .lost }
        return jobs
    }

    /// The coordinator's trainer of `job` stopped without a model. While reclaiming, the job goes back to its worker,
    /// or — if that worker was lost again meanwhile — to a new run of the coordinator's trainer. Nil otherwise: the
    /// stop was a real failure.
    mutating func localTrainerStopped(_ job: String, workers: [[UInt8]: WorkerRecord]) -> Decision? {
        guard let entry = entries[job], entry.phase == .reclaiming else { return nil }
        return resume(job, on: workers.first { $0.value.name == entry.name }?.key)
    }

    /// Who continues a fit nobody drives: the named worker when it is registered (`identity`), else the
    /// coordinator's trainer.
    private mutating func resume(_ job: String, on identity: [UInt8]?) -> Decision {
        if let identity { return handOver(job, to: identity) }
        entries[job]?.phase = .coordinatorDriving
        return .takeOver(job: job)
    }

    /// The job whose session `session` is, when the worker connected as `identity` drives that job: the only
    /// sessions a named trainer may open, feed and close are its current run's.
    func job(drivenBy identity: [UInt8], session: String) -> String? {
        entries.first { job, entry in
            guard case .driving(identity, let run) = entry.phase else { return false }
            return session == JobTrainer.session(job: job, fit: .final, run: run) || session == JobTrainer.session(job: job, fit: .calibration, run: run)
        }?.key
    }

    /// The job whose final fit `session` is, if a worker drives it (its gradient replies are the evidence).
    func drivenJob(ofFinalFit session: String) -> String? {
        entries.first { job, entry in
            if case .driving(_, let run) = entry.phase { return session == JobTrainer.session(job: job, fit: .final, run: run) }
            return false
        }?.key
    }

    /// True when `session` is one of `job`'s (``JobTrainer/session(job:fit:run:)``), of any run (a worker hands the coordinator's relayed replies to its trainer of that job).
    static func job(_ job: String, owns session: String) -> Bool {
        session.hasPrefix(finalFitPrefix(job)) || session.hasPrefix("\(job)-calibrate-")
    }
    static func finalFitPrefix(_ job: String) -> String { "\(job)-train-" }

    /// The evidence of a driven job's final fit.
    mutating func record(_ job: String, _ update: (inout NamedTrainerEvidence) -> Void) {
        guard entries[job] != nil else { return }
        update(&entries[job]!.evidence)
    }

    /// The entry of `job` when `jobTrained` from the worker connected as `identity`, for run `run`, is the current
    /// run's report — then forgotten (its training ended); nil for any other report (an earlier run's, another
    /// worker's, a job not handed over), which is refused.
    mutating func report(_ job: String, from identity: [UInt8], run: String) -> Entry? {
        guard let entry = entries[job], entry.phase == .driving(identity: identity, run: run) else { return nil }
        return entries.removeValue(forKey: job)
    }

    /// The job's entry, forgotten (its training ended).
    mutating func finish(_ job: String) -> Entry? {
        entries.removeValue(forKey: job)
    }
}
