import Foundation
import TailForgeEngine
import TailForgeStorage

/// Checks a worker's shard result against the plan before the coordinator accepts it, so a worker (buggy, or
/// holding a stolen worker key) cannot get values into an output that no honest worker would write.
///
/// What any honest result satisfies, whatever the machine:
/// - stage 1 (κ of the shard's real rows): one value per real row, finite and inside the settings' clamp range
///   `kappa_min…kappa_max` — NaN only for a class of one real row whose κ the fallback replaces — and one value
///   per class under the per-class policies (`class`, `loo`, `fixed`);
/// - stage 2 (a full-layout shard file): row counts and labels per class in plan order; every row finite and
///   unit-length; provenance (`source_index`) of each row a real input row of its class — the kept real rows
///   strictly in input order, each synthetic row its seed; κ exactly what the coordinator derived for the row's
///   source (the values it sent the worker, so inside the clamp range): 0 for real rows and SMOTE rows, the
///   source's κ for a vMF or Gaussian synthetic row, or 0 for a drift-guarded job's seed copies.
///   A compact job's shard files are never read: the coordinator derives the compact rows from the input and the
///   κ and checks the worker's reported digests against them (`EngineJobBackend.gatherCompact`).
///
/// What it cannot see: a forged row that is unit-length, labelled right and says it was drawn around a real row
/// of its class. Spot verification (`verify: spot`) recomputes a sample of shards elsewhere for that.
struct ShardResultValidator {
    /// Rows are normalised in Double and stored as float32, so an honest row's norm is 1 within a few float32
    /// ulps per coordinate (≈ 1e-6 at d = 768); 1e-3 leaves room for any honest rounding while refusing every row
    /// off the sphere by more than a rounding error could explain.
    static let unitNormTolerance = 1e-3
    /// Rows read at a time when checking a file's embeddings (bounded memory whatever the shard size).
    static let blockRows = 4096

    /// The shard's classes, in plan order.
    var classes: [ClassTask]
    var settings: BalanceSettings
    var dimension: Int
    /// The input rows of each class, ascending (indexed by class id).
    var members: [[Int]]

    /// The per-row columns of a stage-2 shard.
    struct Columns {
        var labels: [Int32]
        var isSynthetic: [UInt8]
        var sourceIndex: [Int64]
        var kappa: [Float]
    }

    private var kappaRange: ClosedRange<Float> { Float(settings.kappaMin)...Float(settings.kappaMax) }

    // MARK: - Stage 1

    /// The κ values a worker returned for the shard's real rows (class by class).
    func checkConcentrations(_ kappas: [Float]) throws(ShardResultError) {
        let expected = classes.reduce(0) { $0 + $1.realCount }
        guard kappas.count == expected else { throw .rowCount(what: "κ values", expected: expected, actual: kappas.count) }
        let perClass: Bool = switch settings.kappa {
        case .local: false
        case .classwise, .leaveOneOut, .fixed: true
        }
        var start = 0
        for task in classes {
            let values = kappas[start..<start + task.realCount]
            for (offset, value) in values.enumerated() {
                let row = start + offset
                // The estimators leave NaN only where no κ can be estimated (one real row); the fallback fills it.
                if value.isNaN, task.realCount == 1, !isFixed { continue }
                guard value.isFinite else { throw .kappa(row: row, value: value, reason: "of class \(task.classId) is not finite") }
                guard kappaRange.contains(value) else {
                    throw .kappa(row: row, value: value, reason: "of class \(task.classId) lies outside the clamp range \(kappaRange.lowerBound)…\(kappaRange.upperBound)")
                }
                if perClass, value != values.first! {
                    throw .kappa(row: row, value: value, reason: "differs from its class's κ \(values.first!) under the per-class policy \(settings.kappa.description)")
                }
            }
            start += task.realCount
        }
    }

    private var isFixed: Bool {
        if case .fixed = settings.kappa { return true }
        return false
    }

    // MARK: - Stage 2

    /// A stage-2 shard's columns and rows; `kappas` are the synthesis κ the coordinator sent for the shard's real
    /// rows, `embeddings(rows)` reads rows of the shard (row-major float32).
    func checkRows(_ columns: Columns, kappas: [Float], embeddings: (Range<Int>) throws(ShardResultError) -> [Float]) throws(ShardResultError) {
        let total = classes.reduce(0) { $0 + $1.outputCount }
        for (name, count) in [("labels", columns.labels.count), ("source indices", columns.sourceIndex.count), ("κ values", columns.kappa.count),
                              ("synthetic flags", columns.isSynthetic.count)] where count != total {
            throw .rowCount(what: name, expected: total, actual: count)
        }
        let realRows = classes.reduce(0) { $0 + $1.realCount }
        guard kappas.count == realRows else { throw .rowCount(what: "κ values sent for the real rows", expected: realRows, actual: kappas.count) }
        var row = 0
        var kappaStart = 0
        for task in classes {
            let members = self.members[task.classId]
            var previousReal = -1
            for index in 0..<task.outputCount {
                let synthetic = index >= task.keptCount
                if Int(columns.labels[row]) != task.classId {
                    throw .label(row: row, found: Int(columns.labels[row]), expected: task.classId)
                }
                if columns.isSynthetic[row] != (synthetic ? 1 : 0) {
                    throw .syntheticFlag(row: row, found: Int(columns.isSynthetic[row]), expected: synthetic ? 1 : 0)
                }
                let source = columns.sourceIndex[row]
                guard let position = Self.position(of: source, in: members), synthetic || position > previousReal else {
                    throw .provenance(row: row, source: source, classId: task.classId)
                }
                if !synthetic { previousReal = position }
                try checkKappa(columns.kappa[row], row: row, synthetic: synthetic, sent: kappas[kappaStart + position], source: source)
                row += 1
            }
            kappaStart += task.realCount
        }
        var first = 0
        while first < total {
            let range = first..<min(total, first + Self.blockRows)
            let values = try embeddings(range)
            guard values.count == range.count * dimension else {
                throw .rowCount(what: "embedding values in rows \(range)", expected: range.count * dimension, actual: values.count)
            }
            try Self.checkUnitRows(values, dimension: dimension, firstRow: first)
            first = range.upperBound
        }
    }

    /// A stage-2 row's κ against the one an honest worker records: `sent` (the κ the coordinator sent for the row's
    /// source) for a vMF or Gaussian synthetic row, 0 for a real row and a SMOTE row — and 0 for any synthetic row of a drift-guarded job, which the guard turns into a copy of its
    /// seed when it rejected the slot in every round. Only a refused value is diagnosed further, for its message.
    private func checkKappa(_ value: Float, row: Int, synthetic: Bool, sent: Float, source: Int64) throws(ShardResultError) {
        let expected: Float = synthetic ? (settings.sampler == .smote ? 0 : sent) : 0
        let seedCopy = synthetic && settings.driftGuard != nil && value == 0
        if value == expected || seedCopy { return }
        guard value.isFinite else { throw .kappa(row: row, value: value, reason: "is not finite") }
        if expected != 0, !kappaRange.contains(value) {
            throw .kappa(row: row, value: value, reason: "lies outside the clamp range \(kappaRange.lowerBound)…\(kappaRange.upperBound)")
        }
        throw .kappa(row: row, value: value, reason: "is not \(expected), the κ the plan gives input row \(source)")
    }

    /// Every row of `values` (row-major, `dimension` wide) finite and of norm 1 within ``unitNormTolerance``.
    static func checkUnitRows(_ values: [Float], dimension: Int, firstRow: Int) throws(ShardResultError) {
        guard dimension > 0 else { return }
        for r in 0..<values.count / dimension {
            var sum = 0.0
            for x in values[r * dimension..<(r + 1) * dimension] {
                guard x.isFinite else { throw .nonFinite(row: firstRow + r) }
                sum += Double(x) * Double(x)
            }
            let norm = sum.squareRoot()
            guard abs(norm - 1) <= unitNormTolerance else { throw .notUnitLength(row: firstRow + r, norm: norm) }
        }
    }

    /// The position of `source` in the ascending `members`, nil when it is not one of them.
    static func position(of source: Int64, in members: [Int]) -> Int? {
        var low = 0, high = members.count
        while low < high {
            let mid = (low + high) / 2
            if Int64(members[mid]) < source { low = mid + 1 } else { high = mid }
        }
        return low < members.count && Int64(members[low]) == source ? low : nil
    }

    /// A stage-2 shard file of the full layout (its digest is checked by the caller).
    func checkFile(at path: String, kappas: [Float]) throws(ShardResultError) {
        let names = BalancedLayout.full.rowDatasets
        do {
            let file = try HDF5File.open(path: path)
            guard BalancedLayout(attributes: try file.rootAttributes()) == .full else {
                throw ShardResultError.unreadable("its layout is not full (a worker of another release?)")
            }
            let embeddings = try file.openDataset(names.embeddings, rank: 2, elementClass: .float)
            guard embeddings.shape.count == 2, embeddings.shape[1] == dimension else {
                throw ShardResultError.dimension(expected: dimension, actual: embeddings.shape.last ?? 0)
            }
            let total = classes.reduce(0) { $0 + $1.outputCount }
            guard embeddings.rowCount == total else { throw ShardResultError.rowCount(what: "rows", expected: total, actual: embeddings.rowCount) }
            let columns = Columns(
                labels: try file.openDataset(names.labels, rank: 1, elementClass: .integer).read(as: Int32.self),
                isSynthetic: try file.openDataset(names.isSynthetic!, rank: 1, elementClass: .integer).read(as: UInt8.self),
                sourceIndex: try file.openDataset(names.sourceIndex, rank: 1, elementClass: .integer).read(as: Int64.self),
                kappa: try file.openDataset(names.kappa, rank: 1, elementClass: .float).read(as: Float.self))
            try checkRows(columns, kappas: kappas) { rows throws(ShardResultError) in
                do throws(StorageError) { return try embeddings.read(rows: rows, as: Float.self) } catch { throw .unreadable("\(error)") }
            }
        } catch let error as ShardResultError {
            throw error
        } catch {
            throw .unreadable("\(error)")
        }
    }
}
