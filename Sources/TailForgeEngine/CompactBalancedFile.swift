import TailForgeNumerics
import TailForgeStorage

/// A compact balanced file (``BalancedLayout/compact``), read whole and checked: its real rows, their κ, the
/// settings and the plan that says how many synthetic rows each class gets. ``BalancedSetRegenerator`` turns
/// it back into every row of the full layout.
///
/// Opening verifies, before anything is regenerated, that the file is what `balance --layout compact` wrote:
/// the settings parse and validate, the plan re-derived from `/class_input_rows` and the settings has the
/// recorded totals, the labels follow the plan, and the identity (`balanced_sha256`, over the settings, the
/// input SHA-256 and the real rows) and `real_kappa_sha256` match the data read. A file whose attributes or
/// rows were edited is refused instead of regenerating a different balanced set under the same name.
public struct CompactBalancedFile: Sendable {
    public let path: String
    /// Every root attribute as read.
    public let attributes: [String: AttributeValue]
    public let settings: BalanceSettings
    public let plan: BalancePlan
    public let classNames: [String]?
    /// The real rows, class-major (each class's kept rows in input order), unit-norm as `balance` wrote them.
    public let realEmbeddings: Matrix
    public let realLabels: [Int32]
    public let realSourceIndex: [Int64]
    /// κ of each real row (the single-sample fallback applied): the kernel width of the draws around it.
    public let realKappa: [Float]
    /// First real row of each class in the real datasets.
    public let realOffsets: [Int]
    /// The class whose synthetic rows were digested when the file was written (nil when no class has any).
    public let probeClass: Int?
    public let probeSHA256: String?
    /// Rows per HDF5 chunk of the full file `balance --layout full` would have written.
    public let fullChunkRows: Int

    public var dimension: Int { realEmbeddings.columns }
    /// Rows of the full layout.
    public var fullRows: Int { plan.totalRows }

    /// Whether the file at `path` is a compact balanced file (by its `layout` attribute), without reading rows.
    public static func isCompact(path: String) throws(StorageError) -> Bool {
        let attributes = try HDF5File.open(path: path).rootAttributes()
        return BalancedLayout(attributes: attributes) == .compact
    }

    public init(path: String) throws(CompactFileError) {
        self.path = path
        let file: HDF5File
        do { file = try HDF5File.open(path: path); attributes = try file.rootAttributes() } catch { throw .storage(error) }
        let layout = attributes[BalancedLayout.attributeName]?.stringValue
        guard layout == BalancedLayout.compact.rawValue else {
            let described = layout ?? (attributes["format"]?.stringValue == BalanceAttributes.format ? BalancedLayout.full.rawValue : nil)
            throw .notCompact(path: path, layout: described)
        }
        guard attributes["format"]?.stringValue == BalanceAttributes.format else {
            throw .malformed(path: path, reason: "its format attribute is \(attributes["format"].map { "'\($0)'" } ?? "missing"), expected '\(BalanceAttributes.format)'")
        }
        do { settings = try BalanceSettings(attributes: attributes) } catch {
            throw .malformed(path: path, reason: "its settings attributes do not parse (\(error))")
        }

        let names = BalancedLayout.compact.rowDatasets
        let classInputRows: [Int64]
        do {
            let embeddings = try file.openDataset(names.embeddings, rank: 2, elementClass: .float)
            let rows = embeddings.shape[0], d = embeddings.shape[1]
            let labels = try file.openDataset(names.labels, rank: 1, elementClass: .integer)
            let sources = try file.openDataset(names.sourceIndex, rank: 1, elementClass: .integer)
            let kappas = try file.openDataset(names.kappa, rank: 1, elementClass: .float)
            for dataset in [labels, sources, kappas] where dataset.rowCount != rows {
                throw StorageError.rowCountMismatch(file: path, dataset: dataset.name, rows: dataset.rowCount, reference: names.embeddings, referenceRows: rows)
            }
            classInputRows = try file.openDataset(BalancedLayout.classInputRowsDataset, rank: 1, elementClass: .integer).read(as: Int64.self)
            realEmbeddings = Matrix(rows: rows, columns: d, storage: try embeddings.read(as: Float.self))
            realLabels = try labels.read(as: Int32.self)
            realSourceIndex = try sources.read(as: Int64.self)
            realKappa = try kappas.read(as: Float.self)
            classNames = file.contains("class_names") ? try file.openDataset("class_names", rank: 1, elementClass: .string).readStrings() : nil
        } catch let error as StorageError {
            throw .storage(error)
        } catch {
            throw .storage(.invalidArgument("\(error)"))
        }

        // The plan, re-derived and checked against the recorded totals.
        guard classInputRows.allSatisfy({ $0 >= 0 && $0 <= Int64(Int32.max) }), classInputRows.count == Int(attributes["classes"]?.intValue ?? -1) else {
            throw .malformed(path: path, reason: "/\(BalancedLayout.classInputRowsDataset) has \(classInputRows.count) entries for \(attributes["classes"].map { "\($0)" } ?? "no") classes, or a negative count")
        }
        do { plan = try BalancePlan(classSizes: classInputRows.map(Int.init), settings: settings) } catch {
            throw .malformed(path: path, reason: "its class sizes and settings give no plan (\(error))")
        }
        for (name, value) in [("target_rows", plan.target), ("real_rows", plan.realRows), ("synthetic_rows", plan.syntheticRows),
                              ("dimension", realEmbeddings.columns)] where attributes[name]?.intValue != Int64(value) {
            throw .malformed(path: path, reason: "attribute \(name) is \(attributes[name].map { "\($0)" } ?? "missing"), the data gives \(value)")
        }
        guard realEmbeddings.rows == plan.realRows else {
            throw .malformed(path: path, reason: "it holds \(realEmbeddings.rows) real rows, the plan keeps \(plan.realRows)")
        }
        var offsets: [Int] = []
        var row = 0
        for entry in plan.classes {
            offsets.append(row)
            for r in row..<(row + entry.keptCount) where realLabels[r] != Int32(entry.classId) {
                throw .malformed(path: path, reason: "/\(names.labels) row \(r) is \(realLabels[r]), the plan puts class \(entry.classId) there")
            }
            row += entry.keptCount
        }
        realOffsets = offsets
        for entry in plan.classes where entry.syntheticCount > 0 {
            let start = offsets[entry.classId]
            if let bad = realKappa[start..<(start + entry.keptCount)].firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                throw .malformed(path: path, reason: "/\(names.kappa) row \(bad) is \(realKappa[bad]); the kernel width of a draw must be finite and positive")
            }
        }

        // The identity and the κ digest, over what was read.
        func digest<Element: BitwiseCopyable>(_ values: [Element]) -> String {
            var hasher = SHA256()
            values.withUnsafeBufferPointer { hasher.update(elementsOf: $0) }
            return hasher.hexDigest()
        }
        let identity = BalancedSetIdentity.digest(attributes: attributes, realContent: [
            "embeddings": digest(realEmbeddings.storage), "labels": digest(realLabels), "source_index": digest(realSourceIndex),
        ])
        let recorded = attributes[BalancedSetIdentity.attributeName]?.stringValue ?? "nothing"
        guard identity == recorded else {
            throw .digestMismatch(path: path, what: "the identity over its settings, input SHA-256 and real rows (\(BalancedSetIdentity.attributeName))",
                                  recorded: recorded, computed: identity)
        }
        let kappaDigest = digest(realKappa)
        let recordedKappa = attributes["real_kappa_sha256"]?.stringValue ?? "nothing"
        guard kappaDigest == recordedKappa else {
            throw .digestMismatch(path: path, what: "the digest of /\(names.kappa) (real_kappa_sha256)", recorded: recordedKappa, computed: kappaDigest)
        }
        if let probe = attributes["synthetic_probe_class"]?.intValue, probe >= 0 {
            guard probe < Int64(plan.classes.count), plan.classes[Int(probe)].syntheticCount > 0,
                  let digest = attributes["synthetic_probe_sha256"]?.stringValue else {
                throw .malformed(path: path, reason: "synthetic_probe_class \(probe) names no class with synthetic rows, or synthetic_probe_sha256 is missing")
            }
            probeClass = Int(probe)
            probeSHA256 = digest
        } else {
            probeClass = nil
            probeSHA256 = nil
        }
        guard let chunk = attributes["full_chunk_rows"]?.intValue, chunk >= 1, chunk <= Int64(Int32.max) else {
            throw .malformed(path: path, reason: "attribute full_chunk_rows is \(attributes["full_chunk_rows"].map { "\($0)" } ?? "missing")")
        }
        fullChunkRows = Int(chunk)
    }

    /// The root attributes of the full file `balance --layout full` writes for this set (before its commit-time
    /// attributes): the recipe, with the layout set to full.
    public var fullAttributes: [String: AttributeValue] {
        var result = attributes.filter { !BalancedSetIdentity.fileAttributes.contains($0.key) }
        result[BalancedLayout.attributeName] = .string(BalancedLayout.full.rawValue)
        return result
    }

    /// The real rows of class `classId`, with their input rows and κ.
    public func realRows(ofClass classId: Int) -> (rows: Matrix, sourceIndex: [Int64], kappa: [Float]) {
        let start = realOffsets[classId], count = plan.classes[classId].keptCount
        return (realEmbeddings.gatherRows(start..<(start + count)), Array(realSourceIndex[start..<(start + count)]),
                Array(realKappa[start..<(start + count)]))
    }
}
