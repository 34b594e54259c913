/// Why a worker's shard result was refused before the coordinator accepted it (``ShardResultValidator``).
///
/// Rows are numbered within the shard (0 is the first row of its first class), so the message points at the
/// row an operator can read back with h5py from the worker's file.
public enum ShardResultError: Error, Equatable, CustomStringConvertible {
    /// The result holds `actual` rows (or κ values) where the plan expects `expected`.
    case rowCount(what: String, expected: Int, actual: Int)
    /// A shard file of another dimension than the input's.
    case dimension(expected: Int, actual: Int)
    /// Row `row` carries label `found`; the plan puts class `expected` there.
    case label(row: Int, found: Int, expected: Int)
    /// Row `row` is flagged synthetic where the plan has a real row, or the reverse.
    case syntheticFlag(row: Int, found: Int, expected: Int)
    /// Row `row` has a NaN or infinite coordinate.
    case nonFinite(row: Int)
    /// Row `row` is not on the unit sphere.
    case notUnitLength(row: Int, norm: Double)
    /// Row `row` names input row `source`, which is not a real row of class `classId` (or, for a kept real row,
    /// not the next one in input order).
    case provenance(row: Int, source: Int64, classId: Int)
    /// A κ value that cannot be honest: non-finite, outside the plan's clamp range, or not the κ the coordinator
    /// derived for the row's source.
    case kappa(row: Int, value: Float, reason: String)
    /// The file could not be read as a shard of this layout.
    case unreadable(String)
    /// The file's SHA-256 is not the one its worker reported.
    case digest(expected: String, actual: String)
    /// A compact shard's reported content digest of `what` is not the one the coordinator derives from the input
    /// and the κ (nil `reported`: the worker sent none).
    case contentDigest(what: String, reported: String?, derived: String)

    public var description: String {
        switch self {
        case .rowCount(let what, let expected, let actual): "\(actual) \(what), the plan expects \(expected)"
        case .dimension(let expected, let actual): "rows of dimension \(actual), the input's is \(expected)"
        case .label(let row, let found, let expected): "row \(row) has label \(found), the plan puts class \(expected) there"
        case .syntheticFlag(let row, let found, let expected): "row \(row) has is_synthetic \(found), the plan expects \(expected)"
        case .nonFinite(let row): "row \(row) has a NaN or infinite value"
        case .notUnitLength(let row, let norm):
            "row \(row) has norm \(norm), not 1 (± \(ShardResultValidator.unitNormTolerance)): every row lies on the unit sphere"
        case .provenance(let row, let source, let classId): "row \(row) names input row \(source), which is not a real row of class \(classId) in order"
        case .kappa(let row, let value, let reason): "κ \(value) of row \(row) \(reason)"
        case .unreadable(let reason): "the shard file cannot be read: \(reason)"
        case .digest(let expected, let actual): "the file's SHA-256 is \(actual) but its worker reported \(expected)"
        case .contentDigest(let what, let reported, let derived):
            "its \(what) has digest \(reported ?? "(none reported)"), but the job's input and κ give \(derived)"
        }
    }
}
