import Foundation
import Synchronization
import TailForgeNumerics
import TailForgeStorage

/// Runs a whole balancing job on one node: long-tailed HDF5 in, balanced HDF5 out, streamed class by class.
public struct BalanceRunner: Sendable {
    public var input: InputSpec
    public var outputPath: String
    public var settings: BalanceSettings
    public var threads: Int
    public var chunkRows: Int
    /// Re-read the finished output for its file SHA-256 (in the summary). The per-dataset content digests are
    /// computed while writing whatever this says; the file digest is a second read because HDF5 does not write a
    /// file front to back (it rewrites the superblock, object headers and chunk index at close), but with
    /// swift-crypto's SHA-NI path and the file still in the page cache it costs seconds, not the minute the
    /// hand-written SHA-256 took, and it runs while the commit's fsync waits for the disk, so it stays on by default.
    public var computeOutputDigest: Bool
    /// `full` writes every row; `compact` writes the real rows, their κ and the recipe, and no synthetic row
    /// (``BalancedLayout``).
    public var layout: BalancedLayout

    public init(input: InputSpec, outputPath: String, settings: BalanceSettings,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount, chunkRows: Int = 4096,
                computeOutputDigest: Bool = true, layout: BalancedLayout = .full) {
        self.computeOutputDigest = computeOutputDigest
        self.layout = layout
        self.input = input
        self.outputPath = outputPath
        self.settings = settings
        self.threads = max(1, threads)
        self.chunkRows = chunkRows
    }

    /// Checks the settings and the paths before any work, so bad input fails fast and leaves nothing behind.
    public func preflight() throws(BalanceError) {
        do { try settings.validate() } catch { throw .settings(error) }
        // Compares device and inode, so `./in.h5`, symlinks and hard links to the input are all refused.
        do { try AtomicHDF5Writer.checkWritable(path: outputPath, distinctFrom: [input.path]) } catch { throw .storage(error) }
    }

    /// Runs the job. `progress(stage, done, total)` may be called from any thread.
    public func run(progress: @escaping @Sendable (BalanceStage, Int, Int) -> Void = { _, _, _ in }) throws(BalanceError) -> BalanceSummary {
        try preflight()
        var seconds: [String: Double] = [:]
        var clock = Date()
        func lap(_ stage: BalanceStage) {
            seconds[stage.rawValue] = Date().timeIntervalSince(clock)
            clock = Date()
        }

        // The digest runs beside the read: both are I/O over the same file.
        let path = input.path
        let digest = ComputePool.inBackground(named: "tailforge-input-digest") { () throws(StorageError) in
            try SHA256.hexDigest(ofFileAt: path)
        }
        let data = try BalanceInput.load(input) { progress(.read, $0, $1) }
        let inputSHA256: String
        do { inputSHA256 = try digest().get() } catch { throw .storage(error) }
        lap(.read)

        let (kappas, fallback, fallbackClasses) = try Self.concentrationsWithFallback(data, settings: settings, threads: threads) {
            progress(.concentrations, $0, $1)
        }
        lap(.concentrations)

        let written = try write(data, inputSHA256: inputSHA256, kappas: kappas, fallback: fallback, progress: progress, stageDone: lap)
        let plan = written.plan
        let layout = self.layout

        let (sum, count) = written.syntheticCosines
        let realKappas = zip(kappas, plan.classes).flatMap { k, e in e.realCount > 0 ? k : [] }
        return BalanceSummary(
            classes: plan.classes.count, emptyClasses: plan.classes.filter { $0.realCount == 0 }.map(\.classId),
            dimension: data.dimension, target: plan.target, inputRows: data.embeddings.rows,
            realRows: plan.realRows, syntheticRows: plan.syntheticRows, settings: settings,
            kappa: .init(realKappas), fallbackClasses: fallbackClasses,
            fallbackKappa: fallback.map(Double.init), meanSyntheticCosine: count > 0 ? sum / Double(count) : nil,
            inputSHA256: inputSHA256, outputSHA256: written.outputSHA256, outputContentSHA256: written.contentDigests,
            driftGuard: written.driftGuard.map { DriftGuardSummary(threshold: $0.threshold, retries: $0.retries, perClass: written.driftReports,
                                                                   computedFor: layout == .full ? "all" : "probe") },
            layout: layout.rawValue, balancedSHA256: written.balancedSHA256, stageSeconds: seconds,
            stageOrder: [BalanceStage.read, .concentrations, .synthesize, .commit, .digest].map(\.rawValue))
    }

    /// What ``write(_:inputSHA256:kappas:fallback:progress:stageDone:)`` wrote and measured.
    public struct Written: Sendable {
        public var plan: BalancePlan
        /// The set's identity (`balanced_sha256`).
        public var balancedSHA256: String?
        /// The output file's SHA-256 (nil when ``computeOutputDigest`` is off).
        public var outputSHA256: String?
        /// Each dataset's content digest, taken while writing.
        public var contentDigests: [String: String]?
        var driftGuard: DriftGuard?
        var driftReports: [DriftGuardClassReport?]
        /// Sum and count of the cosines between synthetic rows and their kernel centres (full layout only).
        var syntheticCosines: (Double, Int)
    }

    /// Stage 2 and the commit: every class's block drawn (compact: its real rows and their κ, and the probe
    /// class's digest) from the loaded input `data` and its κ per class (the single-sample fallback applied), and
    /// written atomically to ``outputPath``. `run` calls it after stage 1; a cluster coordinator calls it with the
    /// κ its workers computed (a compact job's file is derived from the input it already has, so no shard rows
    /// travel), which makes both files these bytes by construction. `stageDone` is told when the rows are written
    /// (`synthesize`), committed (`commit`) and digested (`digest`).
    public func write(_ data: BalanceInput, inputSHA256: String, kappas: [[Float]], fallback: Float?,
                      progress: @escaping @Sendable (BalanceStage, Int, Int) -> Void = { _, _, _ in },
                      stageDone: (BalanceStage) -> Void = { _ in }) throws(BalanceError) -> Written {
        let plan: BalancePlan
        do throws(BalanceSettingsError) { plan = try BalancePlan(classSizes: data.classSizes, settings: settings) } catch { throw .settings(error) }
        let layout = self.layout
        let attributes = BalanceAttributes.make(settings: settings, input: input, inputSHA256: inputSHA256, plan: plan,
                                                dimension: data.dimension, fallbackKappa: fallback, layout: layout, fullChunkRows: chunkRows)
        let rowsToWrite = layout == .full ? plan.totalRows : plan.realRows
        let writer: BalancedDatasetWriter
        do {
            writer = try BalancedDatasetWriter(path: outputPath, dimension: data.dimension, totalRows: rowsToWrite,
                                               attributes: attributes, classNames: data.classNames, chunkRows: chunkRows, layout: layout,
                                               classInputRows: data.classSizes.map(Int64.init))
        } catch { throw .storage(error) }

        let probeClass = layout == .compact ? plan.compactProbeClass : nil
        // The guard needs every class's real rows and κ; a compact file's readers rebuild it from the same.
        let driftGuard = DriftGuard(data: data, kappas: kappas, plan: plan, settings: settings)
        var driftReports = [DriftGuardClassReport?](repeating: nil, count: plan.classes.count)
        let cosineSum = Mutex<(Double, Int)>((0, 0))
        let buffers = ClassBlockBuffers()
        let settings = self.settings
        var rowsWritten = 0
        var probeSHA256: String?
        do {
            try ComputePool.orderedPipeline(count: plan.classes.count, width: threads, window: 2 * threads + 2, produce: { c in
                let entry = plan.classes[c]
                guard entry.realCount > 0 else { return nil }
                if layout == .compact {
                    return BalanceEngine.compactBlock(entry: entry, from: data, kappas: kappas[c], settings: settings, probe: c == probeClass,
                                                      driftGuard: driftGuard)
                }
                let block = BalanceEngine.synthesize(entry: entry, from: data, kappas: kappas[c], settings: settings, driftGuard: driftGuard,
                                                     reusing: buffers.take())
                let (sum, count) = Self.syntheticCosines(block, input: data)
                cosineSum.withLock { $0.0 += sum; $0.1 += count }
                return (block, nil)
            }, consume: { (_, produced: (block: ClassBlock, probe: String?)?) throws(StorageError) in
                guard let (block, probe) = produced else { return }
                if let probe { probeSHA256 = probe }
                driftReports[block.classId] = block.driftGuard
                try writer.append(block)
                rowsWritten += block.count
                progress(.synthesize, rowsWritten, rowsToWrite)
                if layout == .full { buffers.recycle(block) }
            })
        } catch {
            writer.abandon()
            throw .storage(error)
        }
        stageDone(.synthesize)

        var closing = BalanceAttributes.identity(attributes, writer: writer)
        if layout == .compact {
            closing["real_kappa_sha256"] = .string(writer.appendedContentDigests[BalancedLayout.compact.rowDatasets.kappa]!)
            closing["synthetic_probe_class"] = .int(Int64(probeClass ?? -1))
            if let probeSHA256 { closing["synthetic_probe_sha256"] = .string(probeSHA256) }
        }
        // HDF5 does not write a file front to back, so the file digest is a second read (the content digests were
        // taken while writing); it runs beside the commit's fsync, and `digest` times only what it takes beyond.
        let fileDigest: () -> String?
        do { fileDigest = try writer.commit(attributes: closing, digestingFile: computeOutputDigest) } catch { throw .storage(error) }
        stageDone(.commit)
        let outputSHA256 = fileDigest()
        stageDone(.digest)

        return Written(plan: plan, balancedSHA256: closing[BalancedSetIdentity.attributeName]?.stringValue, outputSHA256: outputSHA256,
                       contentDigests: writer.contentDigests, driftGuard: driftGuard, driftReports: driftReports,
                       syntheticCosines: cosineSum.withLock { $0 })
    }

    /// Stage 1 over every class, in parallel, largest classes first. Entry c is class c's κ per real row.
    public static func estimateConcentrations(
        _ data: BalanceInput, settings: BalanceSettings, threads: Int, classes: [Int]? = nil,
        progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws(BalanceError) -> [[Float]] {
        let wanted = classes ?? Array(0..<data.classCount)
        let order = wanted.sorted { (data.classMembers[$0].count, $1) > (data.classMembers[$1].count, $0) }
        let results = ConcurrentResults<[Float]>(count: data.classCount)
        ComputePool.forEach(order.count, width: threads) { i in
            let c = order[i]
            results.set(c, ConcentrationEstimator.concentrations(classRows: data.rows(ofClass: c), settings: settings))
            progress(results.filledCount, order.count)
        }
        return results.values.map { $0 ?? [] }
    }

    /// Stage 1 over every class with the single-sample fallback applied: what stage 2 needs.
    static func concentrationsWithFallback(
        _ data: BalanceInput, settings: BalanceSettings, threads: Int, progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws(BalanceError) -> (kappas: [[Float]], fallback: Float?, fallbackClasses: [Int]) {
        var kappas = try estimateConcentrations(data, settings: settings, threads: threads, progress: progress)
        let (fallback, classes) = try ConcentrationEstimator.applyFallback(&kappas, policy: settings.kappa, file: data.spec.path)
        return (kappas, fallback, classes)
    }

    /// Balances an in-memory input without writing a file: every class's block, in class order.
    /// For experiments and benchmarks; jobs that write files use ``run(progress:)``, which streams.
    public static func balancedBlocks(_ data: BalanceInput, settings: BalanceSettings, threads: Int) throws(BalanceError) -> [ClassBlock] {
        do { try settings.validate() } catch { throw .settings(error) }
        let kappas = try concentrationsWithFallback(data, settings: settings, threads: threads).kappas
        let plan: BalancePlan
        do throws(BalanceSettingsError) { plan = try BalancePlan(classSizes: data.classSizes, settings: settings) } catch { throw .settings(error) }
        let classes = plan.classes.filter { $0.realCount > 0 }.map(\.classId)
        let blocks = ConcurrentResults<ClassBlock>(count: classes.count)
        let driftGuard = DriftGuard(data: data, kappas: kappas, plan: plan, settings: settings)
        ComputePool.forEach(classes.count, width: threads) { i in
            blocks.set(i, BalanceEngine.synthesize(entry: plan.classes[classes[i]], from: data, kappas: kappas[classes[i]], settings: settings,
                                                   driftGuard: driftGuard))
        }
        return blocks.values.map { $0! }
    }

    /// Sum and count of cosines between each synthetic row and the real row it was drawn around.
    static func syntheticCosines(_ block: ClassBlock, input: BalanceInput) -> (Double, Int) {
        var sum = 0.0, count = 0
        let d = block.embeddings.columns
        block.embeddings.storage.withUnsafeBufferPointer { rows in
            input.embeddings.storage.withUnsafeBufferPointer { source in
                for i in 0..<block.count where block.isSynthetic[i] == 1 {
                    sum += Double(Self.dot(rows.baseAddress! + i * d, source.baseAddress! + Int(block.sourceIndex[i]) * d, count: d))
                    count += 1
                }
            }
        }
        return (sum, count)
    }

    /// The dot product of two rows in 32 float lanes. This statistic (printed to four decimals) was one dependent
    /// Double add per element and then eight Double lanes: still 4 % of a full-layout balance's CPU, on the producing
    /// threads; of unit rows in float32, each cosine is off by ~1e-7 at most (the tests bound it by 1e-5).
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var lanes0 = SIMD16<Float>(), lanes1 = SIMD16<Float>()
        var j = 0
        while j + 32 <= count {
            lanes0 += UnsafeRawPointer(a + j).loadUnaligned(as: SIMD16<Float>.self) * UnsafeRawPointer(b + j).loadUnaligned(as: SIMD16<Float>.self)
            lanes1 += UnsafeRawPointer(a + j + 16).loadUnaligned(as: SIMD16<Float>.self)
                * UnsafeRawPointer(b + j + 16).loadUnaligned(as: SIMD16<Float>.self)
            j += 32
        }
        var dot = (lanes0 + lanes1).sum()
        while j < count { dot += a[j] * b[j]; j += 1 }
        return dot
    }
}

extension BalancedDatasetWriter {
    /// Appends one class block.
    public func append(_ block: ClassBlock) throws(StorageError) {
        try append(embeddings: block.embeddings.storage, labels: [Int32](repeating: Int32(block.classId), count: block.count),
                   isSynthetic: block.isSynthetic, sourceIndex: block.sourceIndex, kappa: block.kappa)
    }
}
