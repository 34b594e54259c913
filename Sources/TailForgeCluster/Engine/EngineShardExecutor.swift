import Foundation
import TailForgeEngine
import TailForgeNumerics
import TailForgeStorage

/// The balancing method's worker side: stage 1 computes κ of a shard's classes, stage 2 draws their synthetic
/// rows and writes the shard's HDF5 file (the balanced-output contract, classes in shard order) — for a compact
/// job only in memory, for its digest.
///
/// The loaded input is kept between shards of the same job, since every shard of a job reads the same file.
public final class EngineShardExecutor: ShardExecutor {
    /// Environment variable (milliseconds) that makes every class of a shard take at least that long, so tests
    /// can kill a worker mid-shard. Never set it in production.
    public static let testDelayVariable = "TAILFORGE_TEST_SHARD_DELAY_MS"
    /// Environment variable (a class id) that makes the worker process abort when a shard holds that class, as
    /// a class that runs its worker out of memory would; tests use it for poison shards. Never set it in
    /// production.
    public static let testCrashClassVariable = "TAILFORGE_TEST_CRASH_ON_CLASS"

    /// The job's input (and drift guard) in memory; the worker's training server shares it.
    public let inputs = JobInputCache()
    private let delayPerClass: Duration?
    private let crashClass: Int?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        delayPerClass = environment[Self.testDelayVariable].flatMap(Int.init).map { .milliseconds($0) }
        crashClass = environment[Self.testCrashClassVariable].flatMap(Int.init)
    }

    struct Cancelled: Error, CustomStringConvertible {
        var description: String { "cancelled" }
    }

    public func execute(_ task: ShardTask, context: ShardContext) throws -> ShardOutcome {
        let assignment = task.assignment
        if let crashClass, assignment.classes.contains(where: { $0.classId == crashClass }) {
            FileHandle.standardError.write(Data("test hook: class \(crashClass) kills this worker\n".utf8))
            abort()
        }
        let settings = assignment.job.policy
        let data = try input(task)
        let plan = try BalancePlan(classSizes: data.classSizes, settings: settings)
        for c in assignment.classes {
            guard c.classId < plan.classes.count else {
                throw ClusterJobError.planMismatch(reason: "class \(c.classId) is beyond the input's \(plan.classes.count) classes")
            }
            let entry = plan.classes[c.classId]
            guard entry.realCount == c.realCount, entry.keptCount == c.keptCount, entry.syntheticCount == c.syntheticCount else {
                throw ClusterJobError.planMismatch(reason: "class \(c.classId) has \(entry.realCount) real rows here, \(c.realCount) in the plan")
            }
        }
        switch assignment.shard.stage {
        case .concentrations:
            return try concentrations(task, data: data, settings: settings, context: context)
        case .synthesis:
            return try synthesis(task, data: data, plan: plan, settings: settings, context: context)
        }
    }

    /// The job's input, normalised, from the cache or the file; the file must be the one the job planned with.
    func input(_ task: ShardTask) throws -> BalanceInput {
        try inputs.input(path: task.inputPath, sha256: task.assignment.input.sha256, input: task.assignment.job.input)
    }

    func pause(_ context: ShardContext, classes: Int) throws {
        guard let delayPerClass else { return }
        let deadline = ContinuousClock.now + delayPerClass * classes
        while ContinuousClock.now < deadline {
            if context.isCancelled() { throw Cancelled() }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    func concentrations(_ task: ShardTask, data: BalanceInput, settings: BalanceSettings, context: ShardContext) throws -> ShardOutcome {
        let classes = task.assignment.classes
        let results = ConcurrentResults<[Float]>(count: classes.count)
        try forEachBatch(classes.count, context: context, reportProgress: true) { i in
            results.set(i, ConcentrationEstimator.concentrations(classRows: data.rows(ofClass: classes[i].classId), settings: settings))
        }
        let payload = WireMessage.float32Payload(results.values.flatMap { $0! })
        return ShardOutcome(rowsPerClass: classes.map(\.realCount), sha256: FileDigest.sha256(of: payload),
                            byteCount: Int64(payload.count), path: nil, payload: payload)
    }

    func synthesis(_ task: ShardTask, data: BalanceInput, plan: BalancePlan, settings: BalanceSettings, context: ShardContext) throws -> ShardOutcome {
        let assignment = task.assignment
        let classes = assignment.classes
        let realRows = classes.reduce(0) { $0 + $1.realCount }
        guard task.kappas.count == realRows else {
            throw ClusterJobError.planMismatch(reason: "\(task.kappas.count) κ values for \(realRows) real rows")
        }
        var starts = [Int]()
        var start = 0
        for c in classes { starts.append(start); start += c.realCount }
        let kappaStart = starts

        let driftGuard = try driftGuard(task, data: data, plan: plan, settings: settings, context: context)
        if let driftGuard {
            // The shard's κ came from the coordinator; the guard's were computed here. They are the same pure function.
            // (Subsampled classes are left out: the guard holds only their kept rows.)
            let whole = classes.indices.filter { classes[$0].keptCount == classes[$0].realCount }
            let own = whole.flatMap { Array(driftGuard.classKappas(classes[$0].classId)) }
            let given = whole.flatMap { i in task.kappas[kappaStart[i] ..< kappaStart[i] + classes[i].realCount].map(Double.init) }
            guard own == given else {
                throw ClusterJobError.planMismatch(reason: "the κ this worker computes for the drift guard differ from the job's for this shard's classes")
            }
        }

        let reference = assignment.shard
        let name = "\(reference.job)-shard-\(reference.shard)-attempt-\(reference.attempt).h5"
        let path = (task.outputDirectory as NSString).appendingPathComponent(name)
        let layout = assignment.job.outputLayout
        // Nobody reads a compact shard: the coordinator checks its content digests against its own derivation from
        // the input and writes the output from the same. Only its file digest is reported (the resolved manifest's
        // `shards[].sha256`, which spot checks compare between workers), so the file is built in memory — the bytes
        // it would have on disk — and never written, fsynced, read back and deleted.
        let inMemory = layout == .compact
        if !inMemory { try? FileManager.default.createDirectory(atPath: task.outputDirectory, withIntermediateDirectories: true) }
        let attributes: [String: AttributeValue] = [
            "format": .string("tailforge-shard-v1"),
            "tool_version": .string(ToolVersion.current),
            "job": .string(reference.job),
            "shard": .int(Int64(reference.shard)),
            "input_sha256": .string(assignment.input.sha256),
            BalancedLayout.attributeName: .string(assignment.job.outputLayout.rawValue),
        ]
        // A compact job's shard holds its classes' real rows and their κ; only the probe class is drawn here.
        let probeClass = layout == .compact ? plan.compactProbeClass : nil
        let totalRows = classes.reduce(0) { $0 + (layout == .compact ? $1.keptCount : $1.outputCount) }
        do {
            let writer = try BalancedDatasetWriter(path: path, dimension: data.dimension, totalRows: totalRows,
                                                   attributes: attributes, classNames: nil, layout: layout,
                                                   classInputRows: plan.classes.map { Int64($0.realCount) }, inMemory: inMemory)
            do {
                var rowsDone = 0
                var probeSHA256: String?
                // Batches of `threads` classes keep memory at a few class blocks whatever the shard size.
                var first = 0
                while first < classes.count {
                    let batch = Array(classes[first..<min(classes.count, first + max(1, context.threads))])
                    let blocks = ConcurrentResults<(ClassBlock, String?)>(count: batch.count)
                    let kappas = task.kappas
                    let offset = first
                    try forEachBatch(batch.count, context: context) { i in
                        let c = batch[i].classId
                        let k = kappaStart[offset + i]
                        let classKappas = Array(kappas[k..<k + batch[i].realCount])
                        if layout == .compact {
                            blocks.set(i, BalanceEngine.compactBlock(entry: plan.classes[c], from: data, kappas: classKappas, settings: settings,
                                                                     probe: c == probeClass, driftGuard: driftGuard))
                        } else {
                            blocks.set(i, (BalanceEngine.synthesize(entry: plan.classes[c], from: data, kappas: classKappas, settings: settings,
                                                                    driftGuard: driftGuard), nil))
                        }
                    }
                    for (block, probe) in blocks.values.map({ $0! }) {
                        try writer.append(block)
                        rowsDone += block.count
                        if let probe { probeSHA256 = probe }
                    }
                    first += batch.count
                    context.progress(first, rowsDone)
                }
                let closing: [String: AttributeValue] = probeSHA256.map { ["synthetic_probe_sha256": .string($0)] } ?? [:]
                if inMemory {
                    let image = try writer.commitImage(attributes: closing)
                    return ShardOutcome(rowsPerClass: classes.map(\.outputCount), sha256: image.sha256, byteCount: Int64(image.count), path: nil,
                                        payload: nil, contentSHA256: writer.contentDigests, syntheticProbeSHA256: probeSHA256)
                }
                try writer.commit(attributes: closing)
            } catch {
                writer.abandon()
                throw error
            }
            let sha256 = try SHA256.hexDigest(ofFileAt: path)
            let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
            return ShardOutcome(rowsPerClass: classes.map(\.outputCount), sha256: sha256, byteCount: bytes, path: path, payload: nil)
        } catch let error as StorageError {
            throw ClusterJobError.storage(error)
        }
    }

    /// The drift guard of a guarded job (nil otherwise). It needs every class's κ, not only the shard's, so the
    /// worker runs stage 1 over all classes itself (deterministic: the values the coordinator gathered) once
    /// per job and input.
    func driftGuard(_ task: ShardTask, data: BalanceInput, plan: BalancePlan, settings: BalanceSettings,
                    context: ShardContext) throws -> DriftGuard? {
        guard settings.driftGuard != nil else { return nil }
        return try inputs.driftGuard(job: task.assignment.shard.job, sha256: task.assignment.input.sha256) {
            if context.isCancelled() { throw Cancelled() }
            var kappas = try BalanceRunner.estimateConcentrations(data, settings: settings, threads: max(1, context.threads))
            _ = try ConcentrationEstimator.applyFallback(&kappas, policy: settings.kappa, file: task.inputPath)
            return DriftGuard(data: data, kappas: kappas, plan: plan, settings: settings)
        }
    }

    /// Runs `body(0..<count)` on up to `threads` pool threads, after the test delay, stopping at a cancellation.
    /// With `reportProgress`, each batch is reported (the coordinator's shard timeout runs from the last report).
    func forEachBatch(_ count: Int, context: ShardContext, reportProgress: Bool = false, _ body: @escaping @Sendable (Int) -> Void) throws {
        var first = 0
        let width = max(1, context.threads)
        while first < count {
            if context.isCancelled() { throw Cancelled() }
            let end = min(count, first + width)
            try pause(context, classes: end - first)
            let base = first
            ComputePool.forEach(end - first, width: width) { body(base + $0) }
            first = end
            if reportProgress { context.progress(first, 0) }
        }
    }
}
