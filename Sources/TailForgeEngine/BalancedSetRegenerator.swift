import Synchronization
import TailForgeNumerics
import TailForgeStorage

/// Regenerates the full balanced set from a compact file: each class's synthetic rows are drawn again from
/// its real rows and κ with the class's own random stream (``BalanceEngine/generator(seed:classId:)``), which
/// makes them bit-identical to what `balance --layout full` writes, whatever the thread count or class order.
///
/// The probe class's synthetic rows are digested and compared with what `balance` recorded, so a TailForge
/// whose sampler draws different bits refuses the file instead of training on a different set.
public enum BalancedSetRegenerator {
    /// Class `classId`'s block exactly as the full layout holds it: kept real rows (κ column 0), then the
    /// synthetic rows. `driftGuard` is `DriftGuard(compact: file)`, built once per file (nil when the set has none).
    /// `buffer`: storage to build the rows in (``ClassBlockBuffers``); the rows do not depend on it.
    public static func block(_ file: CompactBalancedFile, classId: Int, driftGuard: DriftGuard?, reusing buffer: consuming [Float] = []) -> ClassBlock {
        let entry = file.plan.classes[classId]
        let (rows, sources, kappas) = file.realRows(ofClass: classId)
        guard entry.syntheticCount > 0 else {
            // Subsampled and whole classes without draws: the stored real rows are the block.
            return ClassBlock(classId: classId, embeddings: rows, isSynthetic: [UInt8](repeating: 0, count: rows.rows),
                              sourceIndex: sources, kappa: [Float](repeating: 0, count: rows.rows))
        }
        // A class with synthetic rows is below the target, so it kept every real row: the entry applies as planned.
        return BalanceEngine.synthesize(entry: entry, classRows: rows, sourceRows: sources, kappas: kappas, settings: file.settings,
                                        driftGuard: driftGuard, reusing: consume buffer)
    }

    /// SHA-256 of a block's synthetic rows' embeddings: the probe `balance --layout compact` records.
    static func syntheticDigest(_ block: ClassBlock) -> String {
        let first = block.isSynthetic.firstIndex(of: 1) ?? block.count
        var hasher = SHA256()
        block.embeddings.storage.withUnsafeBufferPointer {
            hasher.update(elementsOf: UnsafeBufferPointer(rebasing: $0[(first * block.embeddings.columns)...]))
        }
        return hasher.hexDigest()
    }

    /// Checks a regenerated block of the probe class against the recorded digest.
    static func checkProbe(_ file: CompactBalancedFile, _ block: ClassBlock) throws(CompactFileError) {
        guard block.classId == file.probeClass, let recorded = file.probeSHA256 else { return }
        guard syntheticDigest(block) == recorded else {
            throw .regenerationMismatch(path: file.path, classId: block.classId, writtenBy: file.attributes["tool_version"]?.stringValue ?? "unknown")
        }
    }

    /// Hands every non-empty class's block to `consume` in class order, regenerating up to `threads` classes
    /// ahead; memory stays at a few class blocks, whose storage is reused once `consume` returns (it must not
    /// keep the block).
    public static func forEachBlock(
        _ file: CompactBalancedFile, threads: Int, consume: (ClassBlock) throws -> Void
    ) throws {
        let classes = file.plan.classes.filter { $0.outputCount > 0 }.map(\.classId)
        let driftGuard = DriftGuard(compact: file)
        let buffers = ClassBlockBuffers()
        try ComputePool.orderedPipeline(count: classes.count, width: threads, window: 2 * threads + 2, produce: { i in
            block(file, classId: classes[i], driftGuard: driftGuard, reusing: buffers.take())
        }, consume: { (_, block: ClassBlock) throws in
            try checkProbe(file, block)
            try consume(block)
            buffers.recycle(block)
        })
    }

    /// Every row of the full layout in memory, class-major, with its provenance. `unitRows` scales each row
    /// with ``RowNormalization`` exactly as reading the full file's `/embeddings` for training does, so the
    /// matrix is bit-identical to what `train` loads from the full file.
    public struct FullSet: Sendable {
        public var embeddings: Matrix
        public var labels: [Int32]
        public var isSynthetic: [UInt8]
        public var sourceIndex: [Int64]
    }

    /// Regenerates every row into memory, classes in parallel (largest first) writing straight into their
    /// place in one matrix.
    public static func fullSet(_ file: CompactBalancedFile, threads: Int, unitRows: Bool) throws(CompactFileError) -> FullSet {
        let d = file.dimension, total = file.fullRows
        let classes = file.plan.classes.filter { $0.outputCount > 0 }.sorted { ($0.outputCount, $1.classId) > ($1.outputCount, $0.classId) }
        var labels = [Int32](repeating: 0, count: total)
        var isSynthetic = [UInt8](repeating: 0, count: total)
        var sourceIndex = [Int64](repeating: 0, count: total)
        let failure = Mutex<CompactFileError?>(nil)
        let columns = ConcurrentResults<Provenance>(count: file.plan.classes.count)
        let driftGuard = DriftGuard(compact: file)
        let storage = [Float](unsafeUninitializedCapacity: total * d) { buffer, initialised in
            let target = SendableBuffer(buffer: buffer)
            ComputePool.forEach(classes.count, width: threads) { i in
                let entry = classes[i]
                let block = block(file, classId: entry.classId, driftGuard: driftGuard)
                do throws(CompactFileError) { try checkProbe(file, block) } catch { failure.withLock { $0 = $0 ?? error } }
                let region = UnsafeMutableBufferPointer(rebasing: target.buffer[entry.offset * d ..< (entry.offset + entry.outputCount) * d])
                block.embeddings.storage.withUnsafeBufferPointer { source in
                    if unitRows {
                        do throws(RowNormalizationError) {
                            try RowNormalization.normalizeRows(source, columns: d, into: region, firstRowIndex: entry.offset)
                        } catch {
                            failure.withLock { $0 = $0 ?? .malformed(path: file.path, reason: "regenerated row \(error) cannot be normalised") }
                        }
                    } else {
                        _ = region.initialize(fromContentsOf: source)
                    }
                }
                // The per-row columns are small; kept to copy after the parallel part.
                columns.set(entry.classId, Provenance(isSynthetic: block.isSynthetic, sourceIndex: block.sourceIndex))
            }
            initialised = total * d
        }
        if let error = failure.withLock({ $0 }) { throw error }
        for entry in file.plan.classes where entry.outputCount > 0 {
            let block = columns.values[entry.classId]!
            for r in 0..<entry.outputCount {
                labels[entry.offset + r] = Int32(entry.classId)
                isSynthetic[entry.offset + r] = block.isSynthetic[r]
                sourceIndex[entry.offset + r] = block.sourceIndex[r]
            }
        }
        return FullSet(embeddings: Matrix(rows: total, columns: d, storage: storage), labels: labels,
                       isSynthetic: isSynthetic, sourceIndex: sourceIndex)
    }
}

/// A buffer each pool thread writes a disjoint region of.
private struct SendableBuffer: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Float>
}

/// One class's provenance columns.
private struct Provenance: Sendable {
    var isSynthetic: [UInt8]
    var sourceIndex: [Int64]
}
