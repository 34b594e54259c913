import TailForgeStorage

/// Which training rows are real and which real row each synthetic row was generated from, as `--calibrate`
/// needs it to hold out real rows without leaking them through their synthetic copies.
public struct RowProvenance: Sendable, Equatable {
    /// Per row, or nil when every row is real (an unbalanced file).
    public let isSynthetic: [Bool]?
    /// Per row: a real row's own input row, a synthetic row's seed (kernel-centre) input row; nil with
    /// `isSynthetic`.
    public let sourceIndex: [Int64]?

    /// All rows real, each its own source.
    public static let allReal = RowProvenance(isSynthetic: nil, sourceIndex: nil)

    public init(isSynthetic: [Bool]?, sourceIndex: [Int64]?) {
        precondition((isSynthetic == nil) == (sourceIndex == nil) && isSynthetic?.count == sourceIndex?.count,
                     "RowProvenance: is_synthetic and source_index go together, one entry per row")
        self.isSynthetic = isSynthetic
        self.sourceIndex = sourceIndex
    }

    /// Reads `/is_synthetic` and `/source_index` (the balanced-output contract) when the file has them;
    /// a file with neither is unbalanced input, all real.
    public static func load(path: String, rows: Int) throws -> RowProvenance {
        let file = try HDF5File.open(path: path)
        let hasFlags = file.contains("is_synthetic"), hasSources = file.contains("source_index")
        guard hasFlags || hasSources else { return .allReal }
        guard hasFlags else { throw CalibrationError.incompleteProvenance(file: path, missing: "is_synthetic") }
        guard hasSources else { throw CalibrationError.incompleteProvenance(file: path, missing: "source_index") }
        let flags = try file.openDataset("is_synthetic", rank: 1, elementClass: .integer).read(as: UInt8.self)
        let sources = try file.openDataset("source_index", rank: 1, elementClass: .integer).read(as: Int64.self)
        guard flags.count == rows else { throw CalibrationError.provenanceLength(file: path, dataset: "is_synthetic", rows: rows, found: flags.count) }
        guard sources.count == rows else { throw CalibrationError.provenanceLength(file: path, dataset: "source_index", rows: rows, found: sources.count) }
        if let bad = sources.firstIndex(where: { $0 < 0 }) {
            throw CalibrationError.invalidSourceIndex(file: path, row: bad, value: sources[bad])
        }
        return RowProvenance(isSynthetic: flags.map { $0 != 0 }, sourceIndex: sources)
    }
}
