import Foundation
import Logging
import Synchronization
import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage
import TailForgeTraining

/// A worker's side of distributed training: keeps the training shards it was given in memory (one copy,
/// loaded once per path) and answers gradient requests on them. Requests are handled one at a time, in arrival
/// order, by one task; the blocking parts (loading a file, the blocks of an evaluation) run on ``ComputePool``
/// threads, so the worker's network thread keeps heartbeating while a gradient is computed.
///
/// Each shard is evaluated by a ``LocalGradientSource`` over that shard alone, with the shard's global first
/// row and the session's block size: the blocks (hence every bit of the partial sums) are the ones the
/// single-node trainer computes for the same rows.
public final class TrainingShardServer: Sendable {
    /// A shard in memory, with what `TrainingShardLoaded` reports about it.
    struct Loaded: Sendable {
        var shard: TrainingShard
        var labelCounts: [Int]
        var classNames: [String]?
        var sha256: String
        /// A regenerated part's provenance and real rows per class of its set, from which a calibration view of it is cut.
        var part: (provenance: RowProvenance, classRealSources: [Int: [Int64]], realCounts: [Int])?
        /// A calibration part (``TrainingRecipe/calibration``): `shard`'s calibration fit and held-out rows, cut on
        /// the final fit's blocks; its gradients are of the fit rows.
        var calibration: CalibrationBlocks?

        init(shard: TrainingShard, classNames: [String]?, sha256: String) {
            var counts = [Int](repeating: 0, count: Int(shard.labels.max() ?? 0) + 1)
            for label in shard.labels { counts[Int(label)] += 1 }
            self.shard = shard; labelCounts = counts; self.classNames = classNames; self.sha256 = sha256
        }

        /// Rows the part's gradients sum over.
        var rowCount: Int { calibration?.fitRowCount ?? shard.rowCount }
    }

    /// Environment variable (milliseconds) that delays every gradient reply, so tests can kill a process
    /// while an evaluation is in flight.
    public static let testDelayVariable = "TAILFORGE_TEST_GRADIENT_DELAY_MS"

    /// Environment variable naming a directory, for tests that must act while an evaluation is in flight: while
    /// `DIR/hold` exists, a gradient request is held before it is answered and `DIR/held-PID-ITERATION-SHARD`
    /// is created to say so. `hold` may narrow that to `FIRST [SESSION]`: only requests from evaluation FIRST on,
    /// of sessions whose name contains SESSION (a test that lets a fit run a few iterations first). Never set it in
    /// production.
    public static let testGateVariable = "TAILFORGE_TEST_GRADIENT_GATE"

    /// What a gradient request may ask for (the product of the first two stays far inside `Int`; the weights
    /// payload must hold exactly classes × (dimension + 1) values anyway).
    static let classCountRange = 1...16_777_216
    static let dimensionRange = 1...1_048_576
    static let maximumGlobalRow = 1 << 48
    static let maximumBlockRows = 1 << 24

    private let threads: Int
    private let delay: Duration?
    private let gate: String?
    private let workerName: String
    private let logger: Logger
    /// The directories shard files may be read from (the work directory and `--data-root`s): a trainer names
    /// paths, and a worker must not open, digest and report just any file for it.
    private let readableRoots: [String]
    /// The serial work queue: one task runs the items in order.
    private let work: AsyncStream<@Sendable () async -> Void>.Continuation
    /// Shards by file identity; shared by every session that names the file, however spelt (a resumed trainer
    /// reuses them).
    private let cache = Mutex(TrainingShardCache<Loaded>())
    /// Parts of training jobs' balanced sets (regenerated, not read), by part name.
    private let parts = Mutex<[String: Loaded]>([:])
    /// The job input parts are regenerated from, and its drift guard (shared with the shard executor).
    private let inputs: JobInputCache
    /// Where a streamed input's verified copy lives (`input-SHA256.h5`); nil: this server reads only shared paths.
    private let workDirectory: String?

    public init(threads: Int, workerName: String, logger: Logger, readableRoots: [String], inputs: JobInputCache = JobInputCache(),
                workDirectory: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.threads = threads
        self.readableRoots = readableRoots
        self.inputs = inputs
        self.workDirectory = workDirectory
        delay = environment[Self.testDelayVariable].flatMap(Int.init).map { .milliseconds($0) }
        gate = environment[Self.testGateVariable]
        self.workerName = workerName
        self.logger = logger
        let (stream, work) = AsyncStream.makeStream(of: (@Sendable () async -> Void).self)
        self.work = work
        Task { for await item in stream { await item() } }
    }

    deinit { work.finish() }

    /// True for the message types this server handles.
    public static func handles(_ message: WireMessage) -> Bool {
        message.body is TrainingLoad || message.body is GradientRequest || message.body is TrainingClose
    }

    /// Queues the work a message asks for; `send` is called (from another thread) with each reply.
    public func submit(_ message: WireMessage, send: @escaping @Sendable (WireMessage) -> Void) {
        switch message.body {
        case let load as TrainingLoad:
            let kappaPayload = message.payloads.first.flatMap(WireMessage.float32Values) ?? []
            enqueue { [self] in
                var kappaStart = 0
                for (index, (shard, path)) in zip(load.shards, load.paths).enumerated() {
                    let recipe = load.recipes.flatMap { $0.indices.contains(index) ? $0[index] : nil }
                    let kappas = recipe.map { recipe in
                        let slice = kappaPayload.count >= kappaStart + recipe.kappaCount ? Array(kappaPayload[kappaStart ..< kappaStart + recipe.kappaCount]) : []
                        kappaStart += recipe.kappaCount
                        return slice
                    }
                    do {
                        let loaded = try await ComputePool.run { [self] in
                            if let recipe, let kappas { try self.regenerate(recipe, kappas: kappas, name: path) } else { try self.load(path) }
                        }
                        send(WireMessage(TrainingShardLoaded(
                            session: load.session, shard: shard, rows: loaded.rowCount, dimension: loaded.shard.dimension,
                            labelCounts: loaded.labelCounts, classNames: loaded.classNames, sha256: loaded.sha256, worker: workerName)))
                    } catch {
                        send(WireMessage(TrainingFailure(session: load.session, shard: shard,
                                                         message: "worker \(workerName) cannot load training shard \(path): \(error)")))
                    }
                }
            }
        case let request as GradientRequest:
            let payloads = message.payloads
            enqueue { [self] in
                if let delay { try? await Task.sleep(for: delay) }
                await holdWhileGated(request)
                for reply in await evaluate(request, payloads: payloads) { send(reply) }
            }
        case let close as TrainingClose:
            enqueue { [self] in
                cache.withLock { cache in for path in close.paths { cache.release(path) } }
                parts.withLock { parts in for path in close.paths { parts[path] = nil } }
                logger.info("training session \(close.session) closed; \(close.paths.count) shard(s) released", metadata: LogMetadata.session(close.session))
            }
        default:
            break
        }
    }

    private func enqueue(_ item: @escaping @Sendable () async -> Void) {
        work.yield(item)
    }

    /// The test gate (see ``testGateVariable``).
    private func holdWhileGated(_ request: GradientRequest) async {
        guard let gate else { return }
        let hold = (gate as NSString).appendingPathComponent("hold")
        guard let condition = FileManager.default.contents(atPath: hold) else { return }
        let words = String(decoding: condition, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        if let first = words.first.flatMap({ Int($0) }), request.iteration < first { return }
        if words.count > 1, !request.session.contains(words[1]) { return }
        let marker = "held-\(ProcessInfo.processInfo.processIdentifier)-\(request.iteration)-\(request.shards.map(String.init).joined(separator: "_"))"
        _ = FileManager.default.createFile(atPath: (gate as NSString).appendingPathComponent(marker), contents: nil)
        while FileManager.default.fileExists(atPath: hold) { try? await Task.sleep(for: .milliseconds(5)) }
    }

    /// Number of shards in memory (for tests and status).
    public var loadedShardCount: Int { cache.withLock { $0.count } + parts.withLock { $0.count } }

    struct RecipeRefused: Error, CustomStringConvertible {
        var description: String
    }

    /// Regenerates a part of a training job's balanced set from the job's input and the κ sent with the load, and
    /// keeps it under `name` (a part is the same rows wherever it is regenerated, so a reload is skipped). A
    /// calibration part is cut from the part's rows, which this worker usually holds already for the job's final
    /// fit (the trainer places both on one worker); otherwise they are regenerated for it alone.
    private func regenerate(_ recipe: TrainingRecipe, kappas: [Float], name: String) throws -> Loaded {
        if let hit = parts.withLock({ $0[name] }) { return hit }
        guard let calibration = recipe.calibration else {
            let loaded = try regeneratePart(recipe, kappas: kappas, name: name)
            parts.withLock { $0[name] = loaded }
            return loaded
        }
        var whole = recipe
        whole.calibration = nil
        var loaded = try parts.withLock({ $0[whole.name] }) ?? regeneratePart(whole, kappas: kappas, name: whole.name)
        let part = loaded.part!
        let split = try CalibrationHoldOut(part: loaded.shard.labels, provenance: part.provenance, classRealSources: part.classRealSources,
                                           realCounts: part.realCounts, fraction: calibration.holdOutFraction, seed: calibration.seed)
        let blocks = try CalibrationBlocks(shard: loaded.shard, firstGlobalRow: recipe.firstRow, blockRows: TrainingPartition.blockRows,
                                           fitRows: split.fit[0], heldOutRows: split.heldOut[0])
        loaded.calibration = blocks
        loaded.labelCounts = blocks.fitLabelCounts
        loaded.part = nil
        parts.withLock { $0[name] = loaded }
        logger.info("cut calibration part \(name): \(blocks.fitRowCount) fit rows, \(blocks.heldOutRowCount) held-out real rows",
                    metadata: LogMetadata.job(recipe.job))
        return loaded
    }

    private func regeneratePart(_ recipe: TrainingRecipe, kappas: [Float], name: String) throws -> Loaded {
        let started = ContinuousClock.now
        let manifest = recipe.manifest
        let path: String
        if manifest.transfer.streamInput == true {
            guard let workDirectory else { throw RecipeRefused(description: "job \(recipe.job) streams its input and this worker keeps no copies") }
            path = InputDownload.localPath(workDirectory: workDirectory, sha256: recipe.inputSHA256)
            guard FileManager.default.fileExists(atPath: path) else {
                throw RecipeRefused(description: "job \(recipe.job) streams its input and this worker holds no verified copy of it (it ran none of the job's shards); "
                    + "give the workers the input on a shared filesystem (transfer.stream_input: false) for training jobs that must survive such a worker")
            }
        } else {
            path = manifest.input.path
        }
        let data = try inputs.input(path: path, sha256: recipe.inputSHA256, input: manifest.input)
        let plan = try BalancePlan(classSizes: data.classSizes, settings: manifest.policy)
        let range = recipe.firstRow ..< recipe.endRow
        guard recipe.firstRow >= 0, recipe.firstRow < recipe.endRow, recipe.endRow <= plan.totalRows,
              recipe.classes == BalancedRowRange.classes(overlapping: range, plan: plan) else {
            throw RecipeRefused(description: "rows \(range) and classes \(recipe.classes) do not fit the plan of job \(recipe.job) (\(plan.totalRows) rows) on this input")
        }
        let realRows = plan.classes.reduce(0) { $0 + $1.realCount }
        guard kappas.count == realRows, recipe.kappaCount == realRows else {
            throw RecipeRefused(description: "\(kappas.count) κ values came with part \(name), the set has \(realRows) real rows")
        }
        var perClass: [[Float]] = []
        var start = 0
        for entry in plan.classes {
            perClass.append(Array(kappas[start ..< start + entry.realCount]))
            start += entry.realCount
        }
        let byClass = Dictionary(uniqueKeysWithValues: recipe.classes.map { ($0, perClass[$0]) })
        // Built once per job on this worker: by the shard executor if it ran a synthesis shard of the job (from the κ
        // it computes itself, the same pure function), else here from the κ sent.
        let driftGuard = recipe.manifest.policy.driftGuard == nil ? nil : inputs.driftGuard(job: recipe.job, sha256: recipe.inputSHA256) {
            DriftGuard(data: data, kappas: perClass, plan: plan, settings: manifest.policy)
        }
        let rows = try BalancedRowRange.regenerate(range, plan: plan, data: data, kappas: byClass, settings: manifest.policy,
                                                   driftGuard: driftGuard, threads: threads)
        let shard = try TrainingShard(name: name, embeddings: rows.embeddings, labels: rows.labels)
        var loaded = Loaded(shard: shard, classNames: data.classNames, sha256: recipe.identity)
        loaded.part = (RowProvenance(isSynthetic: rows.isSynthetic, sourceIndex: rows.sourceIndex), rows.classRealSources,
                       plan.classes.map(\.keptCount))
        logger.info("regenerated training part \(name) of job \(recipe.job): \(shard.rowCount) rows × \(shard.dimension) over \(recipe.classes.count) classes in \(ContinuousClock.now - started)",
                    metadata: LogMetadata.job(recipe.job))
        return loaded
    }

    struct OutsideRoots: Error, CustomStringConvertible {
        var path: String
        var roots: [String]
        var description: String {
            "\(path) is outside this worker's work directory and data roots (\(roots.joined(separator: ", "))); start the worker with --data-root for the shards' directory"
        }
    }

    private func load(_ path: String) throws -> Loaded {
        if let part = parts.withLock({ $0[path] }) { return part }
        // Resolved each time: a root may be created after the worker started.
        guard let roots = try? DataRoots(readableRoots), roots.confine(path) != nil else {
            throw OutsideRoots(path: path, roots: readableRoots)
        }
        // A file that cannot be stat'ed is not cached; loading it reports why.
        let identity = FileIdentity(path: path)
        if let identity, let hit = cache.withLock({ $0.lookup(path, identity: identity) }) { return hit }
        let started = ContinuousClock.now
        // Either balanced layout (a compact file is regenerated); the digest is what `train` records for the file.
        let file = try TrainingInputFile(path: path)
        let shard = try file.load().shard
        let classNames = file.classNames
        let sha256 = file.identity
        let loaded = Loaded(shard: shard, classNames: classNames, sha256: sha256)
        if let identity { cache.withLock { $0.insert(loaded, path: path, identity: identity) } }
        logger.info("loaded training shard \(path): \(shard.rowCount) rows × \(shard.dimension) in \(ContinuousClock.now - started)")
        return loaded
    }

    struct NotACalibrationPart: Error, CustomStringConvertible {
        var path: String
        var description: String { "\(path) is not a calibration part; only a job's calibration session asks for held-out tallies" }
    }

    /// A calibration part's held-out tally at the request's weights.
    private func tally(_ loaded: Loaded, scoring: HeldOutScoring, parameters: ModelParameters, request: GradientRequest, shard: Int,
                       path: String) async throws -> WireMessage {
        guard let blocks = loaded.calibration else { throw NotACalibrationPart(path: path) }
        guard scoring.prior.count == request.classCount, !scoring.tauGrid.isEmpty, scoring.tauGrid.count <= 10_000 else {
            throw TrainingError.invalidSetting(name: "held-out score request", value: "\(scoring.prior.count) prior values, \(scoring.tauGrid.count) τ values",
                                               expected: "one prior value per class and 1 to 10000 τ values")
        }
        let prior = try LogitAdjustment(tau: 0, prior: scoring.prior).prior
        let tally = try await ComputePool.run {
            try CalibrationBlocks.tally(blocks.heldOut, model: SoftmaxModel(parameters: parameters), prior: prior, grid: scoring.tauGrid)
        }
        return WireMessage(HeldOutTallyReply(session: request.session, iteration: request.iteration, shard: shard, rows: tally.rowCount),
                           payloads: [tally.serialized()])
    }

    /// One reply per requested shard: its partial sums, or a failure.
    private func evaluate(_ request: GradientRequest, payloads: [[UInt8]]) async -> [WireMessage] {
        let failure = { (shard: Int?, message: String) in
            [WireMessage(TrainingFailure(session: request.session, shard: shard, message: "worker \(self.workerName): \(message)"))]
        }
        // Checked before any arithmetic: a request with classCount 2^62 once overflowed and killed every worker.
        guard Self.classCountRange.contains(request.classCount), Self.dimensionRange.contains(request.dimension) else {
            return failure(nil, "gradient request \(request.iteration) has \(request.classCount) classes of dimension \(request.dimension); "
                + "a worker accepts \(Self.classCountRange) classes and dimensions \(Self.dimensionRange)")
        }
        let count = request.classCount * (request.dimension + 1)
        guard let paths = request.paths, let firsts = request.firstGlobalRows,
              paths.count == request.shards.count, firsts.count == request.shards.count else {
            return failure(nil, "gradient request \(request.iteration) lacks shard paths or first rows")
        }
        guard firsts.allSatisfy({ (0...Self.maximumGlobalRow).contains($0) }), (1...Self.maximumBlockRows).contains(request.blockRows ?? 1024) else {
            return failure(nil, "gradient request \(request.iteration) has a first row outside 0...\(Self.maximumGlobalRow) or block rows outside 1...\(Self.maximumBlockRows)")
        }
        guard let values = payloads.first.flatMap(WireMessage.float32Values), values.count == count else {
            return failure(nil, "gradient request \(request.iteration) has no float32 weight payload of \(count) values")
        }
        var classWeights: [Float]?
        if payloads.count > 1 {
            guard let weights = WireMessage.float32Values(payloads[1]), weights.count == request.classCount else {
                return failure(nil, "gradient request \(request.iteration) has a class-weight payload of the wrong size")
            }
            classWeights = weights
        }
        let parameters = ModelParameters(classCount: request.classCount, dimension: request.dimension, values: values)
        var replies: [WireMessage] = []
        for (index, shard) in request.shards.enumerated() {
            let started = ContinuousClock.now
            do {
                let path = paths[index]
                let loaded = try await ComputePool.run { [self] in try load(path) }
                guard loaded.shard.dimension == request.dimension else {
                    throw TrainingError.dimensionMismatch(shard: paths[index], expected: request.dimension, found: loaded.shard.dimension)
                }
                if let scoring = request.heldOutScore {
                    replies.append(try await tally(loaded, scoring: scoring, parameters: parameters, request: request, shard: shard, path: paths[index]))
                    continue
                }
                let sums: LossAndGradient
                if let blocks = loaded.calibration {
                    // A part can lose every row to the hold-out (its rows all share held-out sources): it adds nothing.
                    sums = blocks.fit.isEmpty ? LossAndGradient(classCount: request.classCount, dimension: request.dimension)
                        : try await CalibrationBlocks.fitSource(blocks.fit, classCount: request.classCount, classWeights: classWeights,
                                                                threads: threads).evaluate(parameters)
                } else {
                    let source = try LocalGradientSource(shards: [loaded.shard], classCount: request.classCount, classWeights: classWeights,
                                                         threads: threads, blockRows: request.blockRows ?? 1024,
                                                         firstGlobalRow: firsts[index])
                    sums = try await source.evaluate(parameters)
                }
                let elapsed = (ContinuousClock.now - started).components
                replies.append(GradientReply.message(session: request.session, iteration: request.iteration, shard: shard, sums: sums,
                                                     seconds: Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18))
            } catch {
                return failure(shard, "shard \(shard) (\(paths[index])): \(error)")
            }
        }
        return replies
    }
}
