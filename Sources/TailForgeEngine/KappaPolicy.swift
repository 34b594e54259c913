import Foundation
import TailForgeNumerics

/// How the von Mises–Fisher concentration κ of each kernel is chosen.
public enum KappaPolicy: Sendable, Equatable, Hashable {
    /// Per real sample, from its nearest same-class neighbour with Banerjee's approximation (the paper's choice).
    case local
    /// One κ per class, from the class's mean resultant length with Banerjee's approximation.
    case classwise
    /// One κ per class: the vMF-KDE concentration maximising the leave-one-out likelihood of the class's own
    /// real rows (``LeaveOneOutConcentration``), shrunk toward the pooled value for small classes
    /// (``ConcentrationEstimator/shrinkLeaveOneOut(_:)``).
    case leaveOneOut
    /// The same κ for every kernel.
    case fixed(Double)

    /// Every κ the samplers accept: Wood's sampler is accurate from 1e-3 to 1e10 (see `VonMisesFisherSampler`),
    /// and above about 1e9 at d = 768 a draw rounds to its seed in float32 anyway.
    public static let supportedRange: ClosedRange<Double> = 1e-3 ... 1e10

    /// Parses `local`, `class`, `loo`, or `fixed:VALUE`.
    public init(parsing text: String) throws(BalanceSettingsError) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        switch t {
        case "local": self = .local
        case "class", "classwise": self = .classwise
        case "loo": self = .leaveOneOut
        default:
            guard t.hasPrefix("fixed:") else {
                throw .invalid(setting: "kappa", value: text, expected: "`local`, `class`, `loo`, or `fixed:VALUE` such as `fixed:500`"
                               + Spelling.hint(for: t, among: ["local", "class", "loo", "fixed:VALUE"]))
            }
            guard let v = Double(t.dropFirst(6)), Self.supportedRange.contains(v) else {
                throw .invalid(setting: "kappa", value: text, expected: "`fixed:VALUE` with VALUE a number from "
                               + "\(formatPolicyNumber(Self.supportedRange.lowerBound)) to \(formatPolicyNumber(Self.supportedRange.upperBound)), such as `fixed:500`")
            }
            self = .fixed(v)
        }
    }

    public var description: String {
        switch self {
        case .local: "local"
        case .classwise: "class"
        case .leaveOneOut: "loo"
        case .fixed(let v): "fixed:\(formatPolicyNumber(v))"
        }
    }
}
