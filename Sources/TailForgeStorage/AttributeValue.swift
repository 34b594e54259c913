/// A root attribute value as TailForge stores it (strings as UTF-8, integers as int64, reals as float64).
public enum AttributeValue: Sendable, Equatable, Hashable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case double(Double)

    public var description: String {
        switch self {
        case .string(let value): value
        case .int(let value): String(value)
        case .double(let value): String(value)
        }
    }

    public var stringValue: String? { if case .string(let value) = self { value } else { nil } }
    public var intValue: Int64? { if case .int(let value) = self { value } else { nil } }
    public var doubleValue: Double? { if case .double(let value) = self { value } else { nil } }
}
