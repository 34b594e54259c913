/// The shards of one stage of one job, as a pure state machine: assignments, progress, results, failures,
/// timeouts and lost workers go in; what became of the shard (requeued, or out of attempts) comes out. The
/// coordinator's loop does the I/O around it (sending, journaling, fetching).
///
/// Every assignment gets a new attempt number, so a report about an older attempt is recognised and ignored.
/// Only failures whose reason `countsAsAttempt` use up the shard's `maxAttempts`: a busy worker or a graceful
/// shutdown does not, a crash or a timeout does.
struct ShardBoard: Equatable {
    typealias Identity = [UInt8]

    enum State: Equatable {
        case pending
        /// `lastSign` is the assignment or the last progress message: the shard timeout runs from it.
        case running(worker: Identity, attempt: Int, lastSign: ContinuousClock.Instant)
        /// The worker finished; the coordinator is copying its shard file.
        case fetching(worker: Identity, attempt: Int)
        /// The copy is complete and being made durable; the worker is no longer needed.
        case storing(attempt: Int)
        /// The result is being checked against the plan (``ShardResultValidator``) before it is accepted; a refusal
        /// is a failure of `worker`'s attempt, so the worker is remembered even though it is no longer needed.
        case checking(worker: Identity, attempt: Int)
        case done

        /// The state's name for metrics and the status page.
        var name: String {
            switch self {
            case .pending: "pending"
            case .running: "running"
            case .fetching: "fetching"
            case .storing: "storing"
            case .checking: "checking"
            case .done: "done"
            }
        }
    }

    static let stateNames = ["pending", "running", "fetching", "storing", "checking", "done"]

    /// How many shards are in each state (by ``State/name``).
    var stateCounts: [String: Int] {
        slots.reduce(into: [:]) { $0[$1.state.name, default: 0] += 1 }
    }

    struct Failure: Equatable {
        var worker: String
        var attempt: Int
        var reason: ShardFailureReason
    }

    struct Slot: Equatable {
        var state: State = .pending
        var nextAttempt = 0
        var failures: [Failure] = []
        var file: String?
        var sha256: String?
        var seconds: Double = 0
        /// Size of the shard file its worker reported.
        var bytes: Int64?
        /// Workers that must not compute this shard again (spot verification wants a different one).
        var avoid: Set<String> = []
        /// The worker whose result was accepted without a second opinion (nil once verified, or not done).
        var producer: String?

        /// Failures that use up attempts.
        var countedFailures: [Failure] { failures.filter(\.reason.countsAsAttempt) }
        /// Workers this shard failed on; a retry goes elsewhere where possible.
        var failedOn: Set<String> { Set(countedFailures.map(\.worker)) }
        var isPending: Bool { state == .pending }
        var isDone: Bool { state == .done }
    }

    /// What a failure did to its shard.
    enum Outcome: Equatable {
        /// The report was about an attempt that is not current: nothing changed.
        case stale
        /// The shard is pending again.
        case requeued
        /// The shard used its last attempt: the job fails with `summary`.
        case exhausted(summary: String)
    }

    let job: String
    let stage: ShardStage
    let maxAttempts: Int
    /// The classes of each shard, for failure messages that say which classes kill workers.
    let classes: [[Int]]
    private(set) var slots: [Slot]

    init(job: String, stage: ShardStage, classes: [[Int]], maxAttempts: Int) {
        self.job = job
        self.stage = stage
        self.classes = classes
        self.maxAttempts = max(1, maxAttempts)
        slots = Array(repeating: Slot(), count: classes.count)
    }

    var count: Int { slots.count }
    var allDone: Bool { slots.allSatisfy(\.isDone) }
    var doneCount: Int { slots.filter(\.isDone).count }
    var pending: [Int] { slots.indices.filter { slots[$0].isPending } }

    /// Workers the current stage waits on: computing an attempt, serving its result's file, or awaiting the check of
    /// its result. A stored result no longer needs its worker.
    var participants: Set<Identity> {
        Set(slots.compactMap { slot in
            switch slot.state {
            case .running(let worker, _, _), .fetching(let worker, _), .checking(let worker, _): worker
            case .pending, .storing, .done: nil
            }
        })
    }

    /// True when `reference` is the current attempt of its shard and `worker` holds it.
    func isCurrent(_ reference: ShardReference, worker: Identity) -> Bool {
        guard reference.job == job, reference.stage == stage, slots.indices.contains(reference.shard) else { return false }
        switch slots[reference.shard].state {
        case .running(let owner, let attempt, _), .fetching(let owner, let attempt):
            return owner == worker && attempt == reference.attempt
        case .pending, .storing, .checking, .done:
            return false
        }
    }

    /// True while `worker`'s result of `reference` is being checked.
    func isChecking(_ reference: ShardReference, worker: Identity) -> Bool {
        guard reference.job == job, reference.stage == stage, slots.indices.contains(reference.shard) else { return false }
        return slots[reference.shard].state == .checking(worker: worker, attempt: reference.attempt)
    }

    /// `worker`'s result of the current attempt (running, fetched, or stored) is being checked.
    mutating func checking(_ reference: ShardReference, worker: Identity) {
        guard isCurrent(reference, worker: worker) || isStoring(reference) else { return }
        slots[reference.shard].state = .checking(worker: worker, attempt: reference.attempt)
    }

    /// True while the complete copy of `reference`'s file is being stored.
    func isStoring(_ reference: ShardReference) -> Bool {
        guard reference.job == job, reference.stage == stage, slots.indices.contains(reference.shard) else { return false }
        return slots[reference.shard].state == .storing(attempt: reference.attempt)
    }

    /// Starts a new attempt of a pending shard on `worker`.
    mutating func assign(_ shard: Int, to worker: Identity, at now: ContinuousClock.Instant) -> ShardReference {
        precondition(slots[shard].isPending, "only a pending shard is assigned")
        let attempt = slots[shard].nextAttempt
        slots[shard].nextAttempt += 1
        slots[shard].state = .running(worker: worker, attempt: attempt, lastSign: now)
        return ShardReference(job: job, shard: shard, stage: stage, attempt: attempt)
    }

    /// A worker (re)registering after a coordinator restart is still computing `reference`: if that shard is
    /// pending here, its result is awaited instead of recomputed. Returns true when adopted.
    mutating func adopt(_ reference: ShardReference, worker: Identity, at now: ContinuousClock.Instant) -> Bool {
        guard reference.job == job, reference.stage == stage, slots.indices.contains(reference.shard),
              slots[reference.shard].isPending else { return false }
        slots[reference.shard].state = .running(worker: worker, attempt: reference.attempt, lastSign: now)
        slots[reference.shard].nextAttempt = max(slots[reference.shard].nextAttempt, reference.attempt + 1)
        return true
    }

    /// A progress message: the shard is alive, its timeout starts over.
    mutating func progress(_ reference: ShardReference, worker: Identity, at now: ContinuousClock.Instant) {
        guard isCurrent(reference, worker: worker), case .running = slots[reference.shard].state else { return }
        slots[reference.shard].state = .running(worker: worker, attempt: reference.attempt, lastSign: now)
    }

    /// The worker's result was accepted and its file is being copied to the coordinator.
    mutating func fetching(_ reference: ShardReference, worker: Identity) {
        guard isCurrent(reference, worker: worker) else { return }
        slots[reference.shard].state = .fetching(worker: worker, attempt: reference.attempt)
    }

    /// Every byte of the file arrived: a later loss of the worker no longer matters.
    mutating func storing(_ reference: ShardReference, worker: Identity) {
        guard isCurrent(reference, worker: worker) else { return }
        slots[reference.shard].state = .storing(attempt: reference.attempt)
    }

    /// Records the result's statistics (kept for the resolved manifest).
    mutating func recordResult(_ shard: Int, seconds: Double, bytes: Int64?) {
        slots[shard].seconds = seconds
        slots[shard].bytes = bytes
    }

    /// The shard's result is durable (journaled); `producer` names its worker when no other worker confirmed it.
    mutating func done(_ shard: Int, file: String? = nil, sha256: String? = nil, producer: String? = nil) {
        slots[shard].state = .done
        slots[shard].file = file
        slots[shard].sha256 = sha256
        slots[shard].producer = producer
        slots[shard].avoid = []
    }

    /// A result is kept aside for spot verification: the shard is computed again, by none of `avoid`. Not a
    /// failure: no attempt is used up.
    mutating func recompute(_ shard: Int, avoid: Set<String>) {
        slots[shard].state = .pending
        slots[shard].avoid = avoid
    }

    /// The done shards `worker` produced unconfirmed go back to the queue (it was caught lying); returns them
    /// with the files they had.
    mutating func requeueDone(producedBy worker: String) -> [(shard: Int, file: String?)] {
        var requeued: [(Int, String?)] = []
        for index in slots.indices where slots[index].isDone && slots[index].producer == worker {
            requeued.append((index, slots[index].file))
            slots[index].state = .pending
            slots[index].file = nil
            slots[index].sha256 = nil
            slots[index].producer = nil
            slots[index].avoid = [worker]
        }
        return requeued
    }

    /// The current attempt of `reference` failed on `worker` (named `name` in messages).
    /// A result refused by its check counts here too.
    mutating func failed(_ reference: ShardReference, worker: Identity, name: String, reason: ShardFailureReason) -> Outcome {
        guard isCurrent(reference, worker: worker) || isChecking(reference, worker: worker) else { return .stale }
        return requeue(reference.shard, attempt: reference.attempt, name: name, reason: reason)
    }

    /// Every shard `worker` held goes back to the queue with `reason` (lost: counts as an attempt; returned:
    /// does not).
    mutating func workerGone(_ worker: Identity, name: String, reason: ShardFailureReason) -> [(shard: Int, outcome: Outcome)] {
        var outcomes: [(Int, Outcome)] = []
        for index in slots.indices {
            switch slots[index].state {
            case .running(let owner, let attempt, _) where owner == worker,
                 .fetching(let owner, let attempt) where owner == worker:
                outcomes.append((index, requeue(index, attempt: attempt, name: name, reason: reason)))
            default:
                continue
            }
        }
        return outcomes
    }

    /// A running attempt silent (no progress) for longer than its window.
    struct Expired: Equatable {
        var reference: ShardReference
        var worker: Identity
    }

    /// The running attempts whose last sign of life is older than `window(shard)`; they are not changed here
    /// (the caller reports each with `failed(…, reason: .timedOut)` and tells the worker to stop).
    func expired(at now: ContinuousClock.Instant, window: (Int) -> Duration) -> [Expired] {
        slots.indices.compactMap { index in
            guard case .running(let worker, let attempt, let lastSign) = slots[index].state, now - lastSign > window(index) else {
                return nil
            }
            return Expired(reference: ShardReference(job: job, shard: index, stage: stage, attempt: attempt), worker: worker)
        }
    }

    private mutating func requeue(_ shard: Int, attempt: Int, name: String, reason: ShardFailureReason) -> Outcome {
        slots[shard].failures.append(Failure(worker: name, attempt: attempt, reason: reason))
        slots[shard].state = .pending
        guard slots[shard].countedFailures.count >= maxAttempts else { return .requeued }
        return .exhausted(summary: summary(shard))
    }

    /// The job's failure message for a shard out of attempts: the stage, the shard, its classes, and each
    /// attempt's worker and reason.
    func summary(_ shard: Int) -> String {
        let failures = slots[shard].countedFailures
        let list = classes[shard]
        let shown = list.prefix(20).map(String.init).joined(separator: ", ") + (list.count > 20 ? " and \(list.count - 20) more" : "")
        let attempts = failures.enumerated().map { "attempt \($0.offset + 1) on \($0.element.worker): \($0.element.reason)" }
        return "\(stage.rawValue) of shard \(shard) (class\(list.count == 1 ? "" : "es") \(shown)) failed \(failures.count) time\(failures.count == 1 ? "" : "s"): "
            + attempts.joined(separator: "; ")
    }

    /// The worker to give pending shard `shard`, from the assignable `candidates` (in preference order): one it
    /// has not failed on; if every candidate has failed it while another healthy worker has not, nil (wait
    /// for that one); if it failed on every healthy worker, any candidate.
    /// Workers in the shard's `avoid` set are never picked.
    func pick(for shard: Int, from candidates: [WorkerRegistry.Worker], healthy: Set<String>) -> WorkerRegistry.Worker? {
        let avoid = slots[shard].avoid
        let candidates = candidates.filter { !avoid.contains($0.name) }
        let healthy = healthy.subtracting(avoid)
        let failedOn = slots[shard].failedOn
        if let fresh = candidates.first(where: { !failedOn.contains($0.name) }) { return fresh }
        if !healthy.subtracting(failedOn).isEmpty { return nil }
        return candidates.first
    }
}
