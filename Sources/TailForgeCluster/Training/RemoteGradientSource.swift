import Foundation
import Logging
import Synchronization
import TailForgeTraining

/// A ``GradientSource`` whose shards live on cluster workers: each evaluation broadcasts the float32 weights
/// through the coordinator, every worker returns the exact partial sums of its shards, and they are added
/// here in shard order.
///
/// Because each worker evaluates its shard with the shard's global first row and the session's block size,
/// and partial sums add exactly (``LossAndGradient``), every evaluation is bit-identical to a
/// ``LocalGradientSource`` over the same shard files in the same order with the same `blockRows` — so
/// training through either gives the same model bytes (given the same OpenBLAS kernel on every machine).
///
/// Lost workers are handled by the coordinator (their shards move to live workers, which reload them from
/// the shard path and recompute the evaluation's missing partial sums); this source only waits, and gives up
/// when nothing arrives for `timeoutSeconds`. Call ``close()`` when done.
public final class RemoteGradientSource: GradientSource {
    public let classCount: Int
    public let dimension: Int
    public let rowCount: Int
    /// The session's shards in training order.
    public let shards: [TrainingShardSpec]
    /// Rows, first global row and SHA-256 of each shard, as the workers reported them.
    public let shardRows: [Int]
    public let firstGlobalRows: [Int]
    public let shardSHA256: [String]
    /// The worker that loaded each shard (`tailforge worker --name`), as it reported.
    public let shardWorkers: [String]
    public let classNames: [String]?
    /// Rows per class over all shards.
    public let classCounts: [Int]
    public let classWeights: [Float]?
    public let blockRows: Int
    public let session: String
    public let timeoutSeconds: Double

    private let connection: any TrainerTransport
    /// κ of each recipe shard (sent again when the session is reopened).
    private let shardPayloads: [[UInt8]]
    private let logger: Logger
    /// Times a lost session (coordinator restart) is reopened within one evaluation before giving up.
    static let maxReopens = 3
    private let nextIteration = Atomic<Int>(0)
    private let timings = Mutex<[EvaluationTiming]>([])

    /// Where the time of one evaluation went.
    public struct EvaluationTiming: Sendable {
        /// From sending the weights to holding the reduced sums.
        public var wallSeconds: Double
        /// Each shard's compute time on its worker.
        public var shardSeconds: [Double]
        /// Serialising the weights, decoding the replies and the reduction, on the trainer.
        public var trainerSeconds: Double
    }

    /// Opens a session: the coordinator places `shards` on live workers, which load them and report their
    /// shape and labels. `classWeighting` is resolved here from the class counts of all shards, like the
    /// local trainer does.
    public static func open(coordinator: String, shards: [TrainingShardSpec], classWeighting: ClassWeighting = .none,
                            blockRows: Int = 1024, timeoutSeconds: Double = 600, sockets: SocketSettings = SocketSettings(),
                            security: SocketSecurity = .plaintext,
                            limits: WireLimits = WireLimits(), logger: Logger) async throws -> RemoteGradientSource {
        guard !shards.isEmpty else { throw TrainingError.noShards }
        guard blockRows > 0 else { throw TrainingError.invalidSetting(name: "block rows", value: "\(blockRows)", expected: "at least 1") }
        let connection = try TrainerConnection(coordinator: coordinator, sockets: sockets, security: security, limits: limits, logger: logger)
        return try await open(transport: connection, session: "train-" + UUID().uuidString.prefix(8).lowercased(), shards: shards,
                              classWeighting: classWeighting, blockRows: blockRows, timeoutSeconds: timeoutSeconds, logger: logger)
    }

    /// Opens a session over `transport`; `shardPayloads` (one per shard, empty for files) carry each recipe
    /// shard's κ.
    static func open(transport connection: any TrainerTransport, session: String, shards: [TrainingShardSpec], shardPayloads: [[UInt8]]? = nil,
                     classWeighting: ClassWeighting, blockRows: Int, timeoutSeconds: Double, logger: Logger) async throws -> RemoteGradientSource {
        guard !shards.isEmpty else { throw TrainingError.noShards }
        let shardPayloads = shardPayloads ?? []
        do {
            let infos = try await load(session: session, shards: shards, payloads: shardPayloads, on: connection, timeoutSeconds: timeoutSeconds)
            let dimension = infos[0].dimension
            var names: [String]?
            for (index, info) in infos.enumerated() {
                guard info.dimension == dimension else {
                    throw DistributedTrainingError.inconsistentShards("\(shards[index].path) has dimension \(info.dimension), \(shards[0].path) has \(dimension)")
                }
                if let these = info.classNames {
                    if let names, names != these {
                        throw DistributedTrainingError.inconsistentShards("\(shards[index].path) has other class names than an earlier shard: shards must come from one dataset")
                    }
                    names = these
                }
                logger.info("shard \(index) (\(shards[index].path)): \(info.rows) rows on \(info.worker)")
            }
            let classCount = names?.count ?? infos.map(\.labelCounts.count).max()!
            var counts = [Int](repeating: 0, count: max(classCount, infos.map(\.labelCounts.count).max()!))
            for info in infos { for (label, n) in info.labelCounts.enumerated() { counts[label] += n } }
            counts = Array(counts.prefix(classCount))
            var firsts: [Int] = []
            var total = 0
            for info in infos { firsts.append(total); total += info.rows }
            return RemoteGradientSource(
                connection: connection, shardPayloads: shardPayloads, session: session, shards: shards, classCount: classCount, dimension: dimension,
                shardRows: infos.map(\.rows), firstGlobalRows: firsts, shardSHA256: infos.map(\.sha256), shardWorkers: infos.map(\.worker), classNames: names,
                classCounts: counts, classWeights: try classWeighting.weights(classCounts: counts), blockRows: blockRows,
                timeoutSeconds: timeoutSeconds, logger: logger)
        } catch {
            connection.send([WireMessage(TrainingClose(session: session))])
            connection.close()
            throw error
        }
    }

    /// Asks the coordinator to place `shards` for `session` and waits for every load report.
    private static func load(session: String, shards: [TrainingShardSpec], payloads: [[UInt8]], on connection: any TrainerTransport,
                             timeoutSeconds: Double) async throws -> [TrainingShardLoaded] {
        let collector = ShardReplyCollector(session: session, coordinator: connection.coordinator, what: "the shards to load",
                                            expected: Set(shards.indices), timeoutSeconds: timeoutSeconds) { message in
            (message.body as? TrainingShardLoaded).flatMap { $0.session == session ? $0.shard : nil }
        }
        let replies = try await collector.run(on: connection, sending: [WireMessage(TrainingOpen(session: session, shards: shards), payloads: payloads)])
        return shards.indices.map { replies[$0]!.body(as: TrainingShardLoaded.self)! }
    }

    private init(connection: any TrainerTransport, shardPayloads: [[UInt8]], session: String, shards: [TrainingShardSpec], classCount: Int, dimension: Int,
                 shardRows: [Int], firstGlobalRows: [Int], shardSHA256: [String], shardWorkers: [String], classNames: [String]?, classCounts: [Int],
                 classWeights: [Float]?, blockRows: Int, timeoutSeconds: Double, logger: Logger) {
        self.logger = logger
        self.connection = connection; self.shardPayloads = shardPayloads; self.session = session; self.shards = shards; self.classCount = classCount
        self.dimension = dimension; self.shardRows = shardRows; self.firstGlobalRows = firstGlobalRows
        self.shardSHA256 = shardSHA256; self.shardWorkers = shardWorkers; self.classNames = classNames; self.classCounts = classCounts
        self.classWeights = classWeights; self.blockRows = blockRows; self.timeoutSeconds = timeoutSeconds
        self.rowCount = shardRows.reduce(0, +)
    }

    public func evaluate(_ parameters: ModelParameters) async throws -> LossAndGradient {
        let clock = ContinuousClock()
        let started = clock.now
        let (_, replies, encoded, received) = try await request(parameters, heldOutScore: nil)
        // Shard order; the sum is exact, so the order only matters for reproducing the same error message.
        var total = LossAndGradient(classCount: classCount, dimension: dimension)
        var shardSeconds: [Double] = []
        for shard in shards.indices {
            let message = replies[shard]!
            let reply = message.body(as: GradientReply.self)!
            guard let sums = reply.sums(payloads: message.payloads, classCount: classCount, dimension: dimension) else {
                throw DistributedTrainingError.malformedReply("shard \(shard)'s gradient reply lacks exact fixed-point sums of \(classCount)×(\(dimension)+1) values")
            }
            guard sums.rows == shardRows[shard] else {
                throw DistributedTrainingError.malformedReply("shard \(shard) summed \(sums.rows) rows, but it has \(shardRows[shard]); was \(shards[shard].path) rewritten during training?")
            }
            total.add(sums)
            shardSeconds.append(reply.seconds ?? 0)
        }
        let finished = clock.now
        timings.withLock {
            $0.append(EvaluationTiming(wallSeconds: (finished - started).seconds, shardSeconds: shardSeconds,
                                       trainerSeconds: (encoded - started).seconds + (finished - received).seconds))
        }
        return total
    }

    /// Sends one request for every shard at `parameters` (a gradient, or with `heldOutScore` a held-out tally of
    /// calibration parts) and waits for every shard's answer, reopening the session on a restarted coordinator.
    private func request(_ parameters: ModelParameters, heldOutScore: HeldOutScoring?) async throws
        -> (iteration: Int, replies: [Int: WireMessage], encoded: ContinuousClock.Instant, received: ContinuousClock.Instant) {
        precondition(parameters.classCount == classCount && parameters.dimension == dimension,
                     "RemoteGradientSource: parameters are \(parameters.classCount)×\(parameters.dimension), data \(classCount)×\(dimension)")
        let iteration = nextIteration.wrappingAdd(1, ordering: .relaxed).oldValue
        let request = GradientRequest(session: session, iteration: iteration, shards: Array(shards.indices), classCount: classCount,
                                      dimension: dimension, paths: shards.map(\.path), firstGlobalRows: firstGlobalRows,
                                      blockRows: blockRows, heldOutScore: heldOutScore)
        var payloads = [WireMessage.float32Payload(parameters.values)]
        if let classWeights { payloads.append(WireMessage.float32Payload(classWeights)) }
        let session = self.session, tally = heldOutScore != nil
        let collector = ShardReplyCollector(session: session, coordinator: connection.coordinator,
                                            what: tally ? "held-out tally \(iteration)" : "gradient \(iteration)",
                                            expected: Set(shards.indices), timeoutSeconds: timeoutSeconds) { message in
            if tally { return (message.body as? HeldOutTallyReply).flatMap { $0.session == session && $0.iteration == iteration ? $0.shard : nil } }
            return (message.body as? GradientReply).flatMap { $0.session == session && $0.iteration == iteration ? $0.shard : nil }
        }
        let encoded = ContinuousClock.now
        var replies: [Int: WireMessage] = [:]
        for attempt in 0 ... Self.maxReopens {
            do {
                replies = try await collector.run(on: connection, sending: [WireMessage(request, payloads: payloads)])
                break
            } catch DistributedTrainingError.sessionLost where attempt < Self.maxReopens {
                try await reopen()
            }
        }
        return (iteration, replies, encoded, ContinuousClock.now)
    }

    /// The held-out tally of a calibration session's parts under `model`, summed over the parts (exact integers).
    public func heldOutTally(_ model: SoftmaxModel, grid: [Double], prior: [Double]) async throws -> HeldOutTally {
        let parameters = ModelParameters(classCount: model.classCount, dimension: model.dimension, values: model.weights + model.bias)
        let (_, replies, _, _) = try await request(parameters, heldOutScore: HeldOutScoring(tauGrid: grid, prior: prior))
        var total = HeldOutTally(classCount: classCount, gridCount: grid.count)
        for shard in shards.indices {
            let message = replies[shard]!
            guard let reply = message.body(as: HeldOutTallyReply.self), message.payloads.count == 1,
                  let tally = HeldOutTally(serialized: message.payloads[0], classCount: classCount, gridCount: grid.count),
                  tally.rowCount == reply.rows else {
                throw DistributedTrainingError.malformedReply("shard \(shard)'s held-out tally is not an exact count table of \(classCount) classes × \(grid.count) τ values")
            }
            total.add(tally)
        }
        return total
    }

    /// Opens the session again on a restarted coordinator; the workers still hold the shards (by path), so
    /// this costs a round trip, not a reload. The shards must be unchanged.
    private func reopen() async throws {
        logger.warning("the coordinator at \(connection.coordinator) lost training session \(session) (restarted?); reopening it")
        let infos = try await Self.load(session: session, shards: shards, payloads: shardPayloads, on: connection, timeoutSeconds: timeoutSeconds)
        for (index, info) in infos.enumerated() where info.rows != shardRows[index] || info.sha256 != shardSHA256[index] {
            throw DistributedTrainingError.inconsistentShards("\(shards[index].path) changed while training (rows or SHA-256 differ after the coordinator restarted)")
        }
    }

    /// Tells the coordinator where the optimiser is (its metrics and status page show the loss curve); fire and
    /// forget, and only finite values (JSON has no NaN).
    /// `fit` names a job's fit for its `status`.
    public func reportProgress(_ iteration: LBFGSIteration, fit: TrainingFit? = nil) {
        guard iteration.loss.isFinite, iteration.gradientNorm.isFinite else { return }
        connection.send([WireMessage(TrainerProgress(session: session, iteration: iteration.iteration, loss: iteration.loss,
                                                      gradientNorm: iteration.gradientNorm, evaluations: iteration.evaluations,
                                                      seconds: iteration.seconds, fit: fit))])
    }

    /// Timings of every evaluation so far (for the benchmark).
    public var evaluationTimings: [EvaluationTiming] { timings.withLock { $0 } }

    /// Ends the session: workers drop the shards from memory; the connection closes.
    public func close() {
        connection.send([WireMessage(TrainingClose(session: session))])
        connection.close()
    }

    deinit { connection.close() }
}

/// Collects one message per shard (a load report or a gradient reply) for one request, failing on a worker's
/// `TrainingFailure`, on a coordinator error, or when nothing new arrives for the timeout.
final class ShardReplyCollector: TrainerMessageHandler {
    private struct State {
        var continuation: CheckedContinuation<[Int: WireMessage], any Error>?
        var replies: [Int: WireMessage] = [:]
        var missing: Set<Int>
        var lastProgress = ContinuousClock.now
        var lastPing = ContinuousClock.now
        var connection: (any TrainerTransport)?
    }

    /// Silence after which the collector asks the coordinator whether it still knows the session.
    static let pingInterval = Duration.seconds(1)

    private let session: String
    private let coordinator: String
    private let what: String
    private let timeoutSeconds: Double
    private let match: @Sendable (WireMessage) -> Int?
    private let state: Mutex<State>

    init(session: String, coordinator: String, what: String, expected: Set<Int>, timeoutSeconds: Double,
         match: @escaping @Sendable (WireMessage) -> Int?) {
        self.session = session; self.coordinator = coordinator; self.what = what
        self.timeoutSeconds = timeoutSeconds; self.match = match
        state = Mutex(State(missing: expected))
    }

    /// Sends `messages` and waits for every expected shard.
    func run(on connection: any TrainerTransport, sending messages: [WireMessage]) async throws -> [Int: WireMessage] {
        connection.setHandler(self)
        defer { connection.setHandler(nil) }
        return try await withCheckedThrowingContinuation { continuation in
            let early = state.withLock { state -> Result<[Int: WireMessage], any Error>? in
                state.continuation = continuation
                state.connection = connection
                state.lastProgress = .now
                state.lastPing = .now
                return state.missing.isEmpty ? .success(state.replies) : nil
            }
            if let early { finish(early) } else { connection.send(messages) }
        }
    }

    func receive(_ message: WireMessage) {
        if let failure = message.body(as: TrainingFailure.self), failure.session == session {
            // Workers always name the shard that failed; a failure without one is the coordinator's own refusal.
            finish(.failure(failure.code == TrainingFailure.unknownSession ? DistributedTrainingError.sessionLost
                            : failure.shard == nil ? DistributedTrainingError.coordinatorRefused(failure.message)
                            : DistributedTrainingError.workerFailure(failure.message)))
        } else if let error = message.body(as: ErrorReply.self) {
            finish(.failure(DistributedTrainingError.rejected(code: error.code, message: error.message)))
        } else if let shard = match(message) {
            let complete = state.withLock { state -> [Int: WireMessage]? in
                guard state.missing.remove(shard) != nil else { return nil }
                state.replies[shard] = message
                state.lastProgress = .now
                return state.missing.isEmpty ? state.replies : nil
            }
            if let complete { finish(.success(complete)) }
        }
    }

    func tick(now: ContinuousClock.Instant) {
        let (stalled, ping) = state.withLock { state -> (Set<Int>?, (any TrainerTransport)?) in
            guard state.continuation != nil else { return (nil, nil) }
            if now - state.lastProgress > .milliseconds(Int(timeoutSeconds * 1000)) { return (state.missing, nil) }
            guard now - max(state.lastProgress, state.lastPing) > Self.pingInterval else { return (nil, nil) }
            state.lastPing = now
            return (nil, state.connection)
        }
        ping?.send([WireMessage(TrainingPing(session: session))])
        if let stalled {
            finish(.failure(DistributedTrainingError.timeout(coordinator: coordinator, what: what, missingShards: stalled.sorted(),
                                                             seconds: timeoutSeconds)))
        }
    }

    func abort(_ error: any Error) {
        finish(.failure(error))
    }

    private func finish(_ result: Result<[Int: WireMessage], any Error>) {
        let continuation = state.withLock { state in
            defer { state.continuation = nil; state.connection = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
