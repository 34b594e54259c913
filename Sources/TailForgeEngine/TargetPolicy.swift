import Foundation
import TailForgeNumerics

/// How many rows each class is topped up to.
public enum TargetPolicy: Sendable, Equatable, Hashable {
    /// The size of the largest class (the paper's choice).
    case max
    /// A fixed row count.
    case count(Int)
    /// A multiple of the median class size (over non-empty classes), rounded up.
    case medianMultiple(Double)

    /// The most rows a class may be topped up to. Row numbers inside a class and the per-class counts the
    /// cluster exchanges are 32-bit, and a target beyond this is a typo rather than a plan (one class of
    /// 2³¹ rows at d = 768 is 6 TiB).
    public static let maximumRowsPerClass = Int(Int32.max)

    /// Parses `max`, a positive integer such as `1000`, or `median*F` / `medianxF` such as `median*2`.
    public init(parsing text: String) throws(BalanceSettingsError) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let limit = Self.maximumRowsPerClass
        if t == "max" { self = .max; return }
        // Digits that do not fit in Int are a count too large, not an unknown word.
        let looksLikeCount = !t.isEmpty && t.drop { $0 == "-" || $0 == "+" }.allSatisfy { $0.isASCII && $0.isNumber }
        if looksLikeCount, t.contains(where: \.isNumber) {
            guard let n = Int(t), (1...limit).contains(n) else {
                throw .invalid(setting: "target", value: text, expected: "a row count from 1 to \(limit)")
            }
            self = .count(n); return
        }
        for prefix in ["median*", "medianx", "median×"] where t.hasPrefix(prefix) {
            guard let f = Double(t.dropFirst(prefix.count)), f.isFinite, f > 0, f <= Double(limit) else {
                throw .invalid(setting: "target", value: text, expected: "`median*F` with F a number above 0 and at most \(limit), such as `median*2`")
            }
            self = .medianMultiple(f); return
        }
        if t == "median" { self = .medianMultiple(1); return }
        throw .invalid(setting: "target", value: text, expected: "`max`, a positive row count such as `1000`, or `median*F` such as `median*2`"
                       + Spelling.hint(for: t, among: ["max", "median"]))
    }

    /// Checks a policy built in code rather than parsed (parsing already refuses these).
    public func validate() throws(BalanceSettingsError) {
        switch self {
        case .max: return
        case .count(let n):
            guard (1...Self.maximumRowsPerClass).contains(n) else {
                throw .invalid(setting: "target", value: description, expected: "a row count from 1 to \(Self.maximumRowsPerClass)")
            }
        case .medianMultiple(let f):
            guard f.isFinite, f > 0, f <= Double(Self.maximumRowsPerClass) else {
                throw .invalid(setting: "target", value: description, expected: "`median*F` with F above 0 and at most \(Self.maximumRowsPerClass)")
            }
        }
    }

    public var description: String {
        switch self {
        case .max: "max"
        case .count(let n): "\(n)"
        case .medianMultiple(let f): "median*\(formatPolicyNumber(f))"
        }
    }

    /// The target row count for classes of the given sizes; a multiple of the median that comes to more than
    /// ``maximumRowsPerClass`` is refused here, where the class sizes are first known.
    public func resolve(classSizes: [Int]) throws(BalanceSettingsError) -> Int {
        try validate()
        switch self {
        case .max:
            return classSizes.max() ?? 0
        case .count(let n):
            return n
        case .medianMultiple(let f):
            let sizes = classSizes.filter { $0 > 0 }.sorted()
            guard !sizes.isEmpty else { return 0 }
            let mid = sizes.count / 2
            let median = sizes.count % 2 == 1 ? Double(sizes[mid]) : (Double(sizes[mid - 1]) + Double(sizes[mid])) / 2
            let rows = (median * f).rounded(.up)
            guard rows <= Double(Self.maximumRowsPerClass) else {
                throw .invalid(setting: "target", value: description,
                               expected: "a multiple giving at most \(Self.maximumRowsPerClass) rows per class; the median class has "
                                   + "\(formatPolicyNumber(median)) rows, so F must be at most \(formatPolicyNumber((Double(Self.maximumRowsPerClass) / median).rounded(.down)))")
            }
            return Int(rows)
        }
    }
}

/// Prints a policy number without a trailing `.0` when it is whole, so the string form round-trips.
func formatPolicyNumber(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
}
