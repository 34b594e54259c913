import TailForgeStorage

/// Why a balancing job could not run, saying what, where and what to do.
public enum BalanceError: Error, CustomStringConvertible {
    case settings(BalanceSettingsError)
    case storage(StorageError)
    case invalidClassCount(file: String, count: Int, reason: String)
    case labelOutOfRange(file: String, dataset: String, row: Int, label: Int, classCount: Int)
    case noKappaEstimable(file: String)
    case emptyInput(file: String)
    /// A part of a balanced set was asked for with κ that do not fit the plan (``BalancedRowRange``).
    case kappaMismatch(classId: Int, expected: Int, found: Int)
    /// A regenerated row cannot be scaled to unit length.
    case regeneratedRow(String)

    public var description: String {
        switch self {
        case .settings(let e): return e.description
        case .storage(let e): return "\(e)"
        case .invalidClassCount(let file, let count, let reason):
            return "\(file): \(count) classes: \(reason)"
        case .labelOutOfRange(let file, let dataset, let row, let label, let classCount):
            return "\(file): \(dataset) row \(row) has label \(label), outside [0, \(classCount)); fix the label or pass the right --classes"
        case .noKappaEstimable(let file):
            return "\(file): every class has a single sample, so no nearest-neighbour κ exists to fall back on; pass --kappa fixed:VALUE (in a job manifest, `kappa: fixed:VALUE` under `policy:`)"
        case .emptyInput(let file):
            return "\(file): the input has no rows"
        case .kappaMismatch(let classId, let expected, let found):
            return "class \(classId) has \(expected) real rows but \(found) κ values were given; the κ do not belong to this input and settings"
        case .regeneratedRow(let reason):
            return "a regenerated row cannot be scaled to unit length: \(reason)"
        }
    }
}
