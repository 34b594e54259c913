import Foundation

/// How many rows each class is topped up to.
public enum TargetPolicy: Sendable, Equatable, Hashable {
    /// The size of the largest class (the paper's choice).
    case max
    /// A fixed row count.
    case count(Int)
    /// A multiple of the median class size (over non-empty classes), rounded up.
    case medianMultiple(Double)

    /// Parses `max`, a positive integer such as `1000`, or `median*F` / `medianxF` such as `median*2`.
    public init(parsing text: String) throws(BalanceSettingsError) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t == "max" { self = .max; return }
        if let n = Int(t) {
            guard n > 0 else { throw .invalid(setting: "target", value: text, expected: "a positive row count") }
            self = .count(n); return
        }
        for prefix in ["median*", "medianx", "median×"] where t.hasPrefix(prefix) {
            if let f = Double(t.dropFirst(prefix.count)), f > 0, f.isFinite { self = .medianMultiple(f); return }
        }
        if t == "median" { self = .medianMultiple(1); return }
        throw .invalid(setting: "target", value: text, expected: "`max`, a positive row count such as `1000`, or `median*F` such as `median*2`")
    }

    public var description: String {
        switch self {
        case .max: "max"
        case .count(let n): "\(n)"
        case .medianMultiple(let f): "median*\(formatPolicyNumber(f))"
        }
    }

    /// The target row count for classes of the given sizes.
    public func resolve(classSizes: [Int]) -> Int {
        switch self {
        case .max:
            return classSizes.max() ?? 0
        case .count(let n):
            return n
        case .medianMultiple(let f):
            let sizes = classSizes.filter { $0 > 0 }.sorted()
            guard !sizes.isEmpty else { return 0 }
            let mid = sizes.count / 2
            let median = sizes.count % 2 == 1 ? Double(sizes[mid]) : Double(sizes[mid - 1] + sizes[mid]) / 2
            return Int((median * f).rounded(.up))
        }
    }
}

/// Prints a policy number without a trailing `.0` when it is whole, so the string form round-trips.
func formatPolicyNumber(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
}
