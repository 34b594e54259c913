import CoreMetrics
import Logging

/// The coordinator's part in distributed training: it places each session's shards on live workers, relays
/// gradient requests and replies between the trainer and the workers, and when a worker dies (heartbeat
/// liveness, as for balancing shards) moves its shards to live workers and re-sends the current
/// evaluation's missing shards there. It never looks inside weights or gradients.
///
/// Owned by the coordinator's network thread (a value in ``CoordinatorLoop``); every method returns the
/// messages to send instead of sending them.
struct TrainingSessions {
    /// A message to send: built here, or relayed as the frames it arrived in (no re-encoding, no second
    /// CRC pass over a 4.5 MB gradient; the receiver validates it like any message).
    enum Frames {
        case message(WireMessage)
        case relay([[UInt8]])
    }
    typealias Outgoing = [(to: [UInt8], frames: Frames)]

    struct Session {
        var trainer: [UInt8]
        var specs: [TrainingShardSpec]
        /// κ of each recipe shard's classes (the open message's payload frames, one per shard; empty for files),
        /// kept to send with every (re)load: a worker that replaces a dead one regenerates the same rows.
        var kappas: [[UInt8]]
        /// The worker serving each shard, nil while no worker is alive to take it.
        var owner: [[UInt8]?]
        /// Shards whose `TrainingShardLoaded` reached the trainer.
        var loaded: [Bool]
        var evaluation: Evaluation?
        /// Last message from the trainer (it pings every second while it waits for replies).
        var lastHeard: ContinuousClock.Instant
        /// Gradient requests relayed.
        var evaluations = 0
        /// What the trainer reported after each L-BFGS iteration (for the status page and the gauges).
        var losses: [ClusterSnapshot.LossPoint] = []
        /// The fit the trainer last reported an iteration of (``TrainerProgress/fit``).
        var fit: TrainingFit?
    }

    /// The gradient request in flight and the shards whose replies are still missing.
    struct Evaluation {
        var request: GradientRequest
        var payloads: [[UInt8]]
        var pending: Set<Int>
        /// When the request arrived: its latency runs until the last shard's reply is relayed.
        var started: ContinuousClock.Instant = .now
    }

    private(set) var sessions: [String: Session] = [:]
    /// Bytes of training messages sent to and received from workers (payloads and headers, as framed), for the
    /// resolved manifest of a training job and the benchmark.
    var workerBytes: Int64 = 0
    /// The last few closed sessions, newest last, kept for their loss curves.
    private(set) var closed: [(id: String, session: Session)] = []
    static let closedKept = 5
    /// Gradient requests and their latency are counted here when set.
    var metrics: CoordinatorMetrics?
    /// A session whose trainer has been silent this long is closed and its shards released from the workers'
    /// memory (the trainer was killed). A live trainer never is: it pings while it waits, and if it was only
    /// slow it reopens the session on its next request.
    var idleLimit: Duration = .seconds(120)

    /// Handles a training message (returns nil for any other message).
    /// `frames` are the message's frames as received (without the ROUTER identity).
    mutating func handle(_ message: WireMessage, frames: [[UInt8]], from identity: [UInt8], workers: [[UInt8]: WorkerRecord],
                         log: Logger) -> Outgoing? {
        switch message.body {
        case let open as TrainingOpen:
            let session = Session(trainer: identity, specs: open.shards,
                                  kappas: message.payloads.count == open.shards.count ? message.payloads : Array(repeating: [], count: open.shards.count),
                                  owner: Array(repeating: nil, count: open.shards.count),
                                  loaded: Array(repeating: false, count: open.shards.count), evaluation: nil, lastHeard: .now)
            sessions[open.session] = session
            log.info("training session \(open.session): \(open.shards.count) shard(s) over \(workers.count) live worker(s)", metadata: LogMetadata.session(open.session))
            return place(open.session, workers: workers, log: log)
        case let loaded as TrainingShardLoaded:
            guard var session = sessions[loaded.session], session.loaded.indices.contains(loaded.shard) else { return [] }
            session.loaded[loaded.shard] = true
            sessions[loaded.session] = session
            return [(session.trainer, .relay(frames))]
        case let failure as TrainingFailure:
            guard let session = sessions[failure.session] else { return [] }
            log.warning("training session \(failure.session): \(failure.message)", metadata: LogMetadata.session(failure.session))
            return [(session.trainer, .relay(frames))]
        case let request as GradientRequest:
            guard var session = sessions[request.session] else { return [(identity, .message(unknown(request.session)))] }
            session.lastHeard = .now
            sessions[request.session] = session
            // A trainer re-sending the request in flight (after reopening the session) changes nothing.
            if session.evaluation?.request.iteration == request.iteration, session.trainer == identity { return [] }
            let valid = request.shards.allSatisfy(session.specs.indices.contains)
                && request.paths?.count == request.shards.count && request.firstGlobalRows?.count == request.shards.count
            guard valid else {
                return [(identity, .message(WireMessage(TrainingFailure(session: request.session, shard: nil,
                                                                         message: "gradient request \(request.iteration) names shards outside the session or lacks their paths and first rows"))))]
            }
            session.evaluation = Evaluation(request: request, payloads: message.payloads, pending: Set(request.shards))
            session.evaluations += 1
            sessions[request.session] = session
            metrics?.gradientRequests.increment()
            var outgoing: Outgoing = []
            for (worker, shards) in group(request.shards, by: session.owner) {
                outgoing.append((worker, .message(forward(request, shards: shards, paths: session.specs.map(\.path), payloads: message.payloads))))
            }
            return outgoing
        case let reply as GradientReply:
            return relayReply(session: reply.session, iteration: reply.iteration, shard: reply.shard, frames: frames)
        case let reply as HeldOutTallyReply:
            return relayReply(session: reply.session, iteration: reply.iteration, shard: reply.shard, frames: frames)
        case let progress as TrainerProgress:
            guard sessions[progress.session] != nil else { return [] }
            sessions[progress.session]!.lastHeard = .now
            sessions[progress.session]!.fit = progress.fit
            sessions[progress.session]!.losses.append(ClusterSnapshot.LossPoint(iteration: progress.iteration, loss: progress.loss,
                                                                               gradientNorm: progress.gradientNorm))
            if sessions[progress.session]!.losses.count > ClusterSnapshot.maximumLossPoints { sessions[progress.session]!.losses.removeFirst() }
            return []
        case let ping as TrainingPing:
            guard sessions[ping.session] != nil else { return [(identity, .message(unknown(ping.session)))] }
            sessions[ping.session]!.lastHeard = .now
            return []
        case let close as TrainingClose:
            log.info("training session \(close.session) closed", metadata: LogMetadata.session(close.session))
            return self.close(close.session)
        default:
            return nil
        }
    }

    /// Relays a worker's answer to the evaluation in flight (a gradient or a held-out tally) to the trainer.
    private mutating func relayReply(session id: String, iteration: Int, shard: Int, frames: [[UInt8]]) -> Outgoing {
        guard var session = sessions[id], var evaluation = session.evaluation,
              evaluation.request.iteration == iteration, evaluation.pending.remove(shard) != nil else {
            return []   // late or duplicate (the shard was reassigned and computed elsewhere too)
        }
        session.evaluation = evaluation
        sessions[id] = session
        if evaluation.pending.isEmpty { metrics?.gradientLatency.recordNanoseconds(Int64((ContinuousClock.now - evaluation.started).seconds * 1e9)) }
        return [(session.trainer, .relay(frames))]
    }

    /// Forgets a session and tells each worker which shard paths to release (paths another session still uses
    /// are kept).
    private mutating func close(_ id: String) -> Outgoing {
        guard let session = sessions.removeValue(forKey: id) else { return [] }
        closed.append((id, session))
        if closed.count > Self.closedKept { closed.removeFirst() }
        let inUse = Set(sessions.values.flatMap { $0.specs.map(\.path) })
        var byWorker: [[UInt8]: [String]] = [:]
        for (index, owner) in session.owner.enumerated() where !inUse.contains(session.specs[index].path) {
            if let owner { byWorker[owner, default: []].append(session.specs[index].path) }
        }
        return byWorker.map { ($0.key, .message(WireMessage(TrainingClose(session: id, paths: $0.value)))) }
    }

    /// Closes every session `trainer` opened (it is gone: a named trainer's worker was lost) and releases their shards.
    mutating func closeSessions(ofTrainer trainer: [UInt8], log: Logger) -> Outgoing {
        var outgoing: Outgoing = []
        for id in sessions.keys.sorted() where sessions[id]?.trainer == trainer {
            log.info("training session \(id) closed: its trainer is gone", metadata: LogMetadata.session(id))
            outgoing += close(id)
        }
        return outgoing
    }

    /// The training parts `worker` serves now (shards whose rows it holds in memory and answers gradient requests
    /// for), per open session in session order; empty when it serves none. A worker that computes no balancing
    /// shard is not idle while it serves these: `status` and the page say so.
    func servedParts(by worker: [UInt8]) -> [(session: String, parts: Int)] {
        sessions.keys.sorted().compactMap { id in
            let parts = sessions[id]!.owner.lazy.filter { $0 == worker }.count
            return parts == 0 ? nil : (id, parts)
        }
    }

    /// The workers serving at least one part of open session `id`.
    func owners(of id: String) -> Set<[UInt8]> {
        Set(sessions[id]?.owner.compactMap { $0 } ?? [])
    }

    /// Open sessions (by id), then the recently closed ones, for the status page.
    var snapshot: [ClusterSnapshot.Training] {
        func entry(_ id: String, _ session: Session, open: Bool) -> ClusterSnapshot.Training {
            ClusterSnapshot.Training(session: id, open: open, shards: session.specs.count, loadedShards: session.loaded.filter { $0 }.count,
                                     evaluations: session.evaluations, losses: session.losses, fit: session.fit?.description)
        }
        return sessions.keys.sorted().map { entry($0, sessions[$0]!, open: true) }
            + closed.reversed().filter { sessions[$0.id] == nil }.map { entry($0.id, $0.session, open: false) }
    }

    private func unknown(_ session: String) -> WireMessage {
        WireMessage(TrainingFailure(session: session, shard: nil, message: "the coordinator has no training session \(session) (it restarted)",
                                    code: TrainingFailure.unknownSession))
    }

    /// Moves shards whose worker is gone (or that never had one) to live workers, and re-sends to them what
    /// they miss: the load, and the in-flight evaluation's request for those shards.
    mutating func tick(workers: [[UInt8]: WorkerRecord], log: Logger, now: ContinuousClock.Instant = .now) -> Outgoing {
        var outgoing: Outgoing = []
        for (id, session) in sessions where now - session.lastHeard > idleLimit {
            log.warning("training session \(id): no word from its trainer for \(idleLimit); closing it and releasing its shards", metadata: LogMetadata.session(id))
            outgoing += close(id)
        }
        guard !workers.isEmpty else { return outgoing }
        for id in sessions.keys.sorted() {
            let orphaned = sessions[id]!.owner.contains { owner in owner.map { workers[$0] == nil } ?? true }
            if orphaned { outgoing += place(id, workers: workers, log: log) }
        }
        return outgoing
    }

    /// Assigns every shard without a live owner: to its holder when that worker is alive, otherwise to the
    /// live worker serving the fewest shards; sends loads (and pending gradient work) to the new owners.
    private mutating func place(_ id: String, workers: [[UInt8]: WorkerRecord], log: Logger) -> Outgoing {
        guard var session = sessions[id], !workers.isEmpty else { return [] }
        var load: [[UInt8]: Int] = Dictionary(uniqueKeysWithValues: workers.keys.map { ($0, 0) })
        for other in sessions.values { for owner in other.owner { if let owner, load[owner] != nil { load[owner]! += 1 } } }
        var moved: [Int] = []
        for index in session.specs.indices {
            if let owner = session.owner[index], workers[owner] != nil { continue }
            let holder = session.specs[index].holder.flatMap { name in workers.first { $0.value.name == name }?.key }
            let chosen = holder ?? load.min { a, b in a.value != b.value ? a.value < b.value : a.key.lexicographicallyPrecedes(b.key) }!.key
            if let previous = session.owner[index] {
                log.warning("training session \(id): shard \(index) moves from lost worker \(String(decoding: previous, as: UTF8.self)) to \(workers[chosen]!.id)", metadata: LogMetadata.session(id))
            }
            session.owner[index] = chosen
            load[chosen]! += 1
            moved.append(index)
        }
        sessions[id] = session
        var outgoing: Outgoing = []
        // A file shard is loaded from its path by whoever evaluates it; a recipe shard must be regenerated first.
        let toLoad = moved.filter { !session.loaded[$0] || session.specs[$0].recipe != nil }
        for (worker, shards) in group(toLoad, by: session.owner) {
            outgoing.append((worker, .message(loadMessage(session, id: id, shards: shards))))
        }
        if let evaluation = session.evaluation {
            let missing = moved.filter(evaluation.pending.contains)
            for (worker, shards) in group(missing, by: session.owner) {
                outgoing.append((worker, .message(forward(evaluation.request, shards: shards, paths: session.specs.map(\.path), payloads: evaluation.payloads))))
            }
        }
        return outgoing
    }

    /// The load message for `shards` of a session: paths, and for recipe shards the recipes and their κ.
    private func loadMessage(_ session: Session, id: String, shards: [Int]) -> WireMessage {
        let paths = shards.map { session.specs[$0].path }
        let recipes = shards.map { session.specs[$0].recipe }
        guard recipes.contains(where: { $0 != nil }) else { return WireMessage(TrainingLoad(session: id, shards: shards, paths: paths)) }
        let kappas = shards.filter { session.specs[$0].recipe != nil }.flatMap { session.kappas[$0] }
        return WireMessage(TrainingLoad(session: id, shards: shards, paths: paths, recipes: recipes), payloads: [kappas])
    }

    /// Shards grouped by their owner (shards without one are left out), each group in shard order.
    private func group(_ shards: [Int], by owner: [[UInt8]?]) -> [(worker: [UInt8], shards: [Int])] {
        var groups: [[UInt8]: [Int]] = [:]
        for shard in shards { if let worker = owner[shard] { groups[worker, default: []].append(shard) } }
        return groups.map { ($0.key, $0.value.sorted()) }.sorted { $0.shards[0] < $1.shards[0] }
    }

    /// The trainer's request cut down to `shards` (same weights, same payload frames), naming the paths the
    /// session was opened with (checked against the data roots then), not whatever the request says.
    private func forward(_ request: GradientRequest, shards: [Int], paths: [String], payloads: [[UInt8]]) -> WireMessage {
        let positions = shards.map { shard in request.shards.firstIndex(of: shard)! }
        var subset = request
        subset.shards = shards
        subset.paths = shards.map { paths[$0] }
        subset.firstGlobalRows = request.firstGlobalRows.map { rows in positions.map { rows[$0] } }
        return WireMessage(subset, payloads: payloads)
    }
}

extension CoordinatorLoop {
    /// Routes a distributed-training message (`frames` as received, without the identity); false when
    /// `message` is not one.
    mutating func routeTraining(_ message: WireMessage, frames: [[UInt8]], from identity: [UInt8]) -> Bool {
        var message = message
        if let open = message.body(as: TrainingOpen.self), let job = namedTrainers.job(drivenBy: identity, session: open.session) {
            // A named trainer opens its job's sessions, but with the recipes and κ the coordinator holds.
            guard let opened = openedByTheCoordinator(open, job: job) else {
                log.warning("refused training session \(open.session): its recipes are not job \(job)'s")
                send(identity, WireMessage(TrainingFailure(session: open.session, shard: nil,
                                                           message: "the session's recipes are not job \(job)'s parts; a named trainer may only open its job's own")))
                return true
            }
            message = opened
        } else if let open = message.body(as: TrainingOpen.self), open.shards.contains(where: { $0.recipe != nil }) {
            // Recipes name a job's input and make workers regenerate rows: only a job's own trainer opens those.
            log.warning("refused training session \(open.session): a peer sent shard recipes")
            send(identity, WireMessage(TrainingFailure(session: open.session, shard: nil,
                                                       message: "shard recipes are opened only by the coordinator's own training jobs; submit a manifest with a `train:` section")))
            return true
        }
        if let open = message.body(as: TrainingOpen.self), !open.shards.contains(where: { $0.recipe != nil }),
           let outside = open.shards.first(where: { configuration.dataRoots.confine($0.path) == nil }) {
            log.warning("refused training session \(open.session): \(outside.path) is outside the data roots")
            runtime.metrics?.refused("training-outside-data-roots")
            send(identity, WireMessage(TrainingFailure(session: open.session, shard: nil,
                                                       message: "\(outside.path) is outside the coordinator's data roots (\(configuration.dataRoots.list)) once `..` and symbolic links are resolved; put the shards under a data root")))
            return true
        }
        witnessNamedTrainer(message, from: identity)
        guard let outgoing = training.handle(message, frames: frames, from: identity, workers: registry.records, log: log) else { return false }
        if let worker = registry[identity] {
            training.workerBytes += Int64(frames.reduce(0) { $0 + $1.count })
            // A relayed reply went into the fit: its worker's kernel family is one the model depends on.
            let answered = message.body(as: GradientReply.self)?.session ?? message.body(as: HeldOutTallyReply.self)?.session
            if let answered, !outgoing.isEmpty, let job = trainingJob(ofSession: answered) {
                recordKernel(job, trainer: false, name: worker.name, family: worker.blasCore)
            }
        }
        send(outgoing)
        return true
    }

    /// Reassigns the shards of lost workers (called every loop turn).
    mutating func tickTraining() {
        send(training.tick(workers: registry.records, log: log))
    }

    /// A message from a job's own trainer: the same state machine as a remote trainer's, without the socket.
    mutating func routeLocalTrainer(_ message: WireMessage, from identity: [UInt8]) {
        guard let outgoing = training.handle(message, frames: [], from: identity, workers: registry.records, log: log) else { return }
        send(outgoing)
    }

    mutating func send(_ outgoing: TrainingSessions.Outgoing) {
        for (to, frames) in outgoing {
            if LocalTrainerLink.isLocal(to) {
                guard let link = trainers.values.first(where: { $0.identity == to }) else { continue }
                switch frames {
                case .message(let message): link.deliver(message)
                case .relay(let frames):
                    do { link.deliver(try WireMessage.decode(frames, limits: configuration.limits)) } catch {
                        log.warning("a worker's reply to a job's trainer does not decode: \(error)")
                    }
                }
                continue
            }
            switch frames {
            case .message(let message):
                if registry[to] != nil { training.workerBytes += Int64(message.payloads.reduce(0) { $0 + $1.count }) }
                if message.type == .gradientRequest { runtime.metrics?.moved(message.payloads.reduce(0) { $0 + $1.count }, direction: "relayed", what: "gradient") }
                send(to, message)
            case .relay(let frames):
                runtime.metrics?.moved(frames.reduce(0) { $0 + $1.count }, direction: "relayed", what: "gradient")
                // Replies relayed to a worker go to the trainer a job's `train.trainer` names: its hop counts too.
                if registry[to] != nil { training.workerBytes += Int64(frames.reduce(0) { $0 + $1.count }) }
                do { try router.send([to] + frames) } catch {
                    log.debug("relaying a training message failed (peer gone?): \(error)")
                }
            }
        }
    }
}
