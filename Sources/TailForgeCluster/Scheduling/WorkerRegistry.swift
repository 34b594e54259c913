/// The coordinator's registered workers, their activity and health, as a pure state machine: it takes events
/// (hello, heartbeat, assignment, result, failure, loss) and answers with decisions; it never touches a socket.
///
/// Workers are known by the name they register with (stable across their restarts), so `status`, logs and the
/// shards' failure histories all say the same thing. A worker that fails `quarantineAfter` shards in a row is
/// quarantined: it stays registered (and heartbeats) but gets no shards until it registers again.
struct WorkerRegistry {
    typealias Identity = [UInt8]

    /// What a worker is doing, as far as the coordinator knows.
    enum Activity: Equatable {
        case idle
        /// Computing an attempt the scheduler counts on.
        case computing(ShardReference)
        /// Still computing an attempt the scheduler gave up on (timed out or cancelled): not assignable until
        /// the worker reports it or its heartbeat shows it stopped, so it is never sent a shard it would
        /// refuse as busy.
        case draining(ShardReference)

        var reference: ShardReference? {
            switch self {
            case .idle: nil
            case .computing(let reference), .draining(let reference): reference
            }
        }
    }

    struct Worker: Equatable {
        var identity: Identity
        /// The name it registered with; unique among registered workers.
        var name: String
        var host: String
        var processId: Int32
        var threads: Int
        /// Who the worker is beyond the name it chose: `key FINGERPRINT` with CURVE, `address IP` without.
        var principal: String = "unknown"
        var activity: Activity = .idle
        /// The last attempt it reported (result or failure). A "busy" reply naming it crossed that report, so
        /// it says nothing about what the worker does now.
        var lastReported: ShardReference?
        var consecutiveFailures = 0
        /// Set when quarantined: the failures that caused it.
        var quarantine: String?
        /// The OpenBLAS kernel family it runs (`hello.blasCore`), ``TrainingKernels/unknown`` when it does not say.
        var blasCore = TrainingKernels.unknown
    }

    /// The outcome of a hello.
    enum Registration: Equatable {
        /// A new worker, or a known one on a new connection; `replaced` is the connection it supersedes (a
        /// restarted worker reusing its name), whose shards must be treated as lost.
        case registered(name: String, replaced: Identity?)
        /// The same connection said hello again (its welcome crossed a reply): nothing changes.
        case repeated(name: String)
    }

    private(set) var workers: [Identity: Worker] = [:]
    let quarantineAfter: Int

    init(quarantineAfter: Int = 3) {
        self.quarantineAfter = max(1, quarantineAfter)
    }

    subscript(identity: Identity) -> Worker? { workers[identity] }

    func name(of identity: Identity) -> String? { workers[identity]?.name }

    mutating func register(_ identity: Identity, _ hello: Hello, principal: String = "unknown") -> Registration {
        if let existing = workers[identity] { return .repeated(name: existing.name) }
        let replaced = workers.first { $0.value.name == hello.workerName }?.key
        if let replaced { workers[replaced] = nil }
        // A fresh registration is a fresh start: quarantine lifts when the worker comes back (restarted, its
        // disk fixed) and registers healthy.
        var worker = Worker(identity: identity, name: hello.workerName, host: hello.host, processId: hello.processId,
                            threads: hello.threads, principal: principal)
        worker.blasCore = hello.blasCore.flatMap { $0.isEmpty ? nil : $0 } ?? TrainingKernels.unknown
        if let busy = hello.busyWith { worker.activity = .computing(busy) }
        workers[identity] = worker
        return .registered(name: hello.workerName, replaced: replaced)
    }

    /// Forgets a worker (lost or shut down); returns its record.
    @discardableResult
    mutating func remove(_ identity: Identity) -> Worker? {
        workers.removeValue(forKey: identity)
    }

    mutating func assigned(_ identity: Identity, _ reference: ShardReference) {
        workers[identity]?.activity = .computing(reference)
    }

    /// The scheduler gave up on the worker's current attempt: it drains until it reports.
    mutating func abandoned(_ identity: Identity, _ reference: ShardReference) {
        guard let worker = workers[identity], worker.activity.reference == reference else { return }
        workers[identity]?.activity = .draining(reference)
    }

    /// A heartbeat says what the worker is computing. An idle worker that is busy is adopted (a coordinator
    /// restart); a draining worker whose heartbeat shows it stopped is idle again. Returns the reference to
    /// adopt, if any.
    mutating func heartbeat(_ identity: Identity, busyWith: ShardReference?) -> ShardReference? {
        guard let worker = workers[identity] else { return nil }
        switch worker.activity {
        case .idle:
            guard let busyWith else { return nil }
            workers[identity]?.activity = .computing(busyWith)
            return busyWith
        case .draining(let reference) where busyWith != reference:
            workers[identity]?.activity = busyWith.map { .draining($0) } ?? .idle
            return nil
        case .draining, .computing:
            // A computing worker's heartbeat can predate its assignment: only its result or failure frees it.
            return nil
        }
    }

    /// The worker reported the end of `reference` (result or failure): it is free unless it has moved on.
    mutating func reported(_ identity: Identity, _ reference: ShardReference) {
        guard workers[identity] != nil else { return }
        workers[identity]?.lastReported = reference
        guard workers[identity]?.activity.reference == reference else { return }
        workers[identity]?.activity = .idle
    }

    /// The worker was busy with `other` when offered a shard: it drains `other`, unless it has already reported
    /// `other`. Then the offer crossed the report (a worker that sent its result a moment before letting go of
    /// the attempt): the worker is free, and marking it draining would leave it unassignable and shown busy
    /// with a finished shard until a heartbeat, which a worker busy sending other traffic does not send.
    mutating func busy(_ identity: Identity, with other: ShardReference) {
        guard let worker = workers[identity] else { return }
        workers[identity]?.activity = worker.lastReported == other ? .idle : .draining(other)
    }

    /// Records a shard that ended well on the worker.
    mutating func succeeded(_ identity: Identity) {
        workers[identity]?.consecutiveFailures = 0
    }

    /// Records a failed shard; returns true when this failure quarantines the worker.
    mutating func failed(_ identity: Identity, _ reason: ShardFailureReason) -> Bool {
        guard reason.blamesWorker, var worker = workers[identity] else { return false }
        worker.consecutiveFailures += 1
        let newlyQuarantined = worker.quarantine == nil && worker.consecutiveFailures >= quarantineAfter
        if newlyQuarantined {
            worker.quarantine = "\(worker.consecutiveFailures) shard\(worker.consecutiveFailures == 1 ? "" : "s") failed in a row, the last: \(reason)"
        }
        workers[identity] = worker
        return newlyQuarantined
    }

    /// Quarantines a worker at once (a result no honest worker returns); returns true when newly quarantined.
    mutating func quarantine(_ identity: Identity, because reason: String) -> Bool {
        guard let worker = workers[identity], worker.quarantine == nil else { return false }
        workers[identity]?.quarantine = reason
        return true
    }

    /// Workers that may take a shard now, by name (a stable order, so tests and logs are reproducible).
    var assignable: [Worker] {
        workers.values.filter { $0.activity == .idle && $0.quarantine == nil }.sorted { $0.name < $1.name }
    }

    /// Names of workers that could take shards at some point (not quarantined).
    var healthyNames: Set<String> {
        Set(workers.values.filter { $0.quarantine == nil }.map(\.name))
    }

    /// Workers computing or draining an attempt of `job`.
    func holding(job: String) -> [Worker] {
        workers.values.filter { $0.activity.reference?.job == job }
    }
}

/// A registered worker as distributed training's shard placement sees it.
struct WorkerRecord {
    var id: String
    var name: String
    var host: String
    /// Its OpenBLAS kernel family (``TrainingKernels/unknown`` when it does not say).
    var blasCore: String = TrainingKernels.unknown
}

extension WorkerRegistry {
    /// The workers for training placement (quarantined ones included: quarantine is about balancing shards).
    var records: [Identity: WorkerRecord] {
        workers.mapValues { WorkerRecord(id: $0.name, name: $0.name, host: $0.host, blasCore: $0.blasCore) }
    }
}
