import Foundation
import TailForgeEngine
import TailForgeStorage

/// A training file as every TailForge reader takes it: any labelled-embeddings file (the input contract, a
/// full balanced file), or a compact balanced file (``BalancedLayout/compact``) whose synthetic rows are
/// regenerated bit-exactly on load — so `train`, `evaluate --train` and `--calibrate` see the same rows from
/// a compact file as from its full counterpart.
public struct TrainingInputFile: Sendable {
    public enum Contents: Sendable {
        case labeled(LabeledEmbeddingsFile)
        case compact(CompactBalancedFile)
    }

    public let path: String
    public let contents: Contents
    /// Rows as trained on (a compact file: every row of its full layout).
    public let count: Int
    public let dimension: Int
    public let classNames: [String]?
    /// What a model records for this file (`input_sha256`): a balanced file's identity (`balanced_sha256`, the
    /// same for its compact and full layouts, read from its attributes), otherwise the file's SHA-256.
    public let identity: String
    /// A TailForge balanced file (either layout), whose synthetic rows are marked (`/is_synthetic`, or a compact
    /// file's plan).
    public let isBalanced: Bool

    /// Opens and checks `path`; a compact file is read and verified whole (its real rows are a few per cent of
    /// the full set). `names` applies to labelled files; compact files have fixed dataset names.
    public init(path: String, names: DatasetNames = .standard) throws {
        self.path = path
        let attributes = try HDF5File.open(path: path).rootAttributes()
        if BalancedLayout(attributes: attributes) == .compact {
            let compact = try CompactBalancedFile(path: path)
            contents = .compact(compact)
            count = compact.fullRows
            dimension = compact.dimension
            classNames = compact.classNames
            identity = compact.attributes[BalancedSetIdentity.attributeName]!.stringValue!
            isBalanced = true
        } else {
            let file = try LabeledEmbeddingsFile(path: path, names: names)
            contents = .labeled(file)
            count = file.count
            dimension = file.dimension
            classNames = file.classNames
            isBalanced = attributes["format"]?.stringValue == BalanceAttributes.format
            if isBalanced, names == .standard, let recorded = attributes[BalancedSetIdentity.attributeName]?.stringValue {
                identity = recorded
            } else {
                identity = try SHA256.hexDigest(ofFileAt: path)
            }
        }
    }

    /// Opens and checks every training file before any is loaded, so a bad shape anywhere fails before minutes of
    /// loading: each must have rows, all the first one's dimension.
    public static func openAll(_ paths: [String], names: DatasetNames = .standard) throws -> [TrainingInputFile] {
        let files = try paths.map { path throws in try TrainingInputFile(path: path, names: names) }
        for file in files {
            guard file.count > 0 else { throw TrainingError.emptyShard(shard: file.path) }
            guard file.dimension == files[0].dimension else {
                throw TrainingError.dimensionMismatch(shard: file.path, expected: files[0].dimension, found: file.dimension)
            }
        }
        return files
    }

    public var isCompact: Bool { if case .compact = contents { true } else { false } }

    /// Every row as unit rows (`RowNormalization`, as every command reads embeddings), named after the path,
    /// and with `provenance` which rows are real and where synthetic rows came from (`--calibrate`). A compact
    /// file is regenerated once for both.
    public func load(threads: Int = ProcessInfo.processInfo.activeProcessorCount, provenance: Bool = false) throws -> (shard: TrainingShard, provenance: RowProvenance?) {
        switch contents {
        case .labeled(let file):
            guard file.count > 0 else { throw TrainingError.emptyShard(shard: path) }
            let shard = try TrainingShard(name: path, embeddings: file.embeddings.readUnitMatrix(rows: 0 ..< file.count), labels: try file.readLabels())
            return (shard, provenance ? try RowProvenance.load(path: path, rows: shard.rowCount) : nil)
        case .compact(let compact):
            let set = try BalancedSetRegenerator.fullSet(compact, threads: threads, unitRows: true)
            let shard = try TrainingShard(name: path, embeddings: set.embeddings, labels: set.labels)
            return (shard, provenance ? RowProvenance(isSynthetic: set.isSynthetic.map { $0 != 0 }, sourceIndex: set.sourceIndex) : nil)
        }
    }

    /// The labels of the real rows: a balanced file's (either layout) without its synthetic rows, every row of any
    /// other file. `evaluate --train` groups classes as many/medium/few-shot by these counts: a balanced file's
    /// synthetic rows would put every class at the target (all "many"). With `--subsample` a class larger than
    /// the target counts the real rows kept, which is more than 100 whenever the target is.
    public func realLabels() throws -> [Int32] {
        switch contents {
        case .compact(let compact):
            return compact.plan.classes.flatMap { repeatElement(Int32($0.classId), count: $0.keptCount) }
        case .labeled(let file):
            let labels = try file.readLabels()
            // The rows' provenance as `--calibrate` reads it (and checks it): all real unless the file marks them.
            guard isBalanced, let synthetic = try RowProvenance.load(path: path, rows: labels.count).isSynthetic else { return labels }
            return zip(labels, synthetic).compactMap { label, isSynthetic in isSynthetic ? nil : label }
        }
    }

    /// The labels of every row (a compact file's come from its plan: no row is regenerated).
    public func labels() throws -> [Int32] {
        switch contents {
        case .labeled(let file): return try file.readLabels()
        case .compact(let compact):
            return compact.plan.classes.flatMap { repeatElement(Int32($0.classId), count: $0.outputCount) }
        }
    }
}
