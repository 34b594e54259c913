import Foundation

/// How the von Mises–Fisher concentration κ of each kernel is chosen.
public enum KappaPolicy: Sendable, Equatable, Hashable {
    /// Per real sample, from its nearest same-class neighbour with Banerjee's approximation (the paper's choice).
    case local
    /// One κ per class, from the class's mean resultant length with Banerjee's approximation.
    case classwise
    /// The same κ for every kernel.
    case fixed(Double)

    /// Parses `local`, `class`, or `fixed:VALUE`.
    public init(parsing text: String) throws(BalanceSettingsError) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        switch t {
        case "local": self = .local
        case "class", "classwise": self = .classwise
        default:
            if t.hasPrefix("fixed:"), let v = Double(t.dropFirst(6)), v > 0, v.isFinite {
                self = .fixed(v)
            } else {
                throw .invalid(setting: "kappa", value: text, expected: "`local`, `class`, or `fixed:VALUE` with VALUE > 0 such as `fixed:500`")
            }
        }
    }

    public var description: String {
        switch self {
        case .local: "local"
        case .classwise: "class"
        case .fixed(let v): "fixed:\(formatPolicyNumber(v))"
        }
    }
}
