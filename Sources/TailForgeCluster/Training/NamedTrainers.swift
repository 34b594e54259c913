import Foundation
import TailForgeNumerics

/// The jobs whose `train.trainer` names a worker, from the end of their gather until their model is committed: each
/// waits for that worker to register (failing after `waitLimit`, naming the workers that did register), is handed
/// to it, and falls back to the coordinator's own trainer if it is lost.
///
/// Owned by the coordinator's network thread (a value in ``CoordinatorLoop``); every method returns decisions
/// instead of acting, like ``TrainingSessions``.
struct NamedTrainers {
    enum Phase: Equatable {
        /// The named worker has not registered yet.
        case waiting(since: ContinuousClock.Instant)
        /// Handed over: the worker connected as `identity` drives L-BFGS.
        case driving(identity: [UInt8])
    }

    struct Entry {
        /// The worker's name (`tailforge worker --name`).
        var name: String
        var phase: Phase
        /// What the coordinator relayed of the final fit, to check the model the trainer reports.
        var evidence = NamedTrainerEvidence()
    }

    enum Decision: Equatable {
        /// Send the job to the worker connected as `identity`.
        case handOver(job: String, identity: [UInt8])
        /// The worker did not register in time: fail the job with `message`.
        case timedOut(job: String, message: String)
    }

    private(set) var entries: [String: Entry] = [:]
    var waitLimit: Duration

    init(waitLimit: Duration) { self.waitLimit = waitLimit }

    /// `job` waits for worker `name` from `now`.
    mutating func wait(job: String, for name: String, now: ContinuousClock.Instant = .now) {
        entries[job] = Entry(name: name, phase: .waiting(since: now))
    }

    /// Hands each waiting job to its worker once registered, and gives up on those that waited too long.
    mutating func tick(workers: [[UInt8]: WorkerRecord], now: ContinuousClock.Instant = .now) -> [Decision] {
        var decisions: [Decision] = []
        for job in entries.keys.sorted() {
            guard let entry = entries[job], case .waiting(let since) = entry.phase else { continue }
            if let identity = workers.first(where: { $0.value.name == entry.name })?.key {
                entries[job]?.phase = .driving(identity: identity)
                decisions.append(.handOver(job: job, identity: identity))
            } else if now - since >= waitLimit {
                entries[job] = nil
                decisions.append(.timedOut(job: job, message: Self.neverRegistered(entry.name, waited: waitLimit, registered: workers.values.map(\.name))))
            }
        }
        return decisions
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

    /// The jobs the worker connected as `identity` was driving, now forgotten: each continues on the coordinator's trainer.
    mutating func lost(_ identity: [UInt8]) -> [String] {
        let jobs = entries.filter { $0.value.phase == .driving(identity: identity) }.keys.sorted()
        for job in jobs { entries[job] = nil }
        return jobs
    }

    /// The job whose session `session` is, when the worker connected as `identity` drives that job: the only
    /// sessions a named trainer may open, feed and close.
    func job(drivenBy identity: [UInt8], session: String) -> String? {
        entries.first { job, entry in entry.phase == .driving(identity: identity) && Self.job(job, owns: session) }?.key
    }

    /// The job whose final fit `session` is, if a worker drives it (its gradient replies are the evidence).
    func drivenJob(ofFinalFit session: String) -> String? {
        entries.first { job, entry in
            if case .driving = entry.phase { return session.hasPrefix(Self.finalFitPrefix(job)) }
            return false
        }?.key
    }

    /// ``JobTrainer``'s session names: `JOB-train-RUN` (the final fit) and `JOB-calibrate-RUN`.
    static func job(_ job: String, owns session: String) -> Bool {
        session.hasPrefix(finalFitPrefix(job)) || session.hasPrefix("\(job)-calibrate-")
    }
    static func finalFitPrefix(_ job: String) -> String { "\(job)-train-" }

    /// The evidence of a driven job's final fit.
    mutating func record(_ job: String, _ update: (inout NamedTrainerEvidence) -> Void) {
        guard entries[job] != nil else { return }
        update(&entries[job]!.evidence)
    }

    /// The job's entry, forgotten (its training ended).
    mutating func finish(_ job: String) -> Entry? {
        entries.removeValue(forKey: job)
    }
}
