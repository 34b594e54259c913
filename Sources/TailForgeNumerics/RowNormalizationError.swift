/// A row that cannot be scaled to unit length; row numbers are those of the caller's input (offset by
/// `firstRowIndex`), so they can be reported against the input file.
public enum RowNormalizationError: Error, Equatable, Sendable, CustomStringConvertible {
    case zeroRow(row: Int)
    case nonFiniteRow(row: Int, column: Int)

    public var description: String {
        switch self {
        case .zeroRow(let row):
            "row \(row) is all zeros and has no direction; remove it from the input or fix the embedding"
        case .nonFiniteRow(let row, let column):
            "row \(row), column \(column) is NaN or infinite; fix or drop that embedding in the input"
        }
    }
}
