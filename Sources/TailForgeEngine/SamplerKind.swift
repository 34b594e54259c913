import Foundation
import TailForgeNumerics

/// Which kernel draws the synthetic samples; all share one interface so they can be compared in ablations.
public enum SamplerKind: String, Sendable, Equatable, Hashable, CaseIterable, Codable {
    /// vMF kernel density estimate on the sphere, drawn with Wood's rejection sampler (the paper's method).
    case vmf
    /// Isotropic Gaussian kernel of variance 1/κ per coordinate around the seed, then projected to the sphere.
    case gaussian
    /// SMOTE: interpolate towards one of the k nearest same-class neighbours, then project to the sphere.
    case smote
    /// No synthetic samples: the output is the normalised real data, class-major.
    case none

    public init(parsing text: String) throws(BalanceSettingsError) {
        guard let kind = SamplerKind(rawValue: text.trimmingCharacters(in: .whitespaces).lowercased()) else {
            let names = SamplerKind.allCases.map(\.rawValue)
            throw .invalid(setting: "sampler", value: text, expected: "one of " + names.joined(separator: ", ") + Spelling.hint(for: text, among: names))
        }
        self = kind
    }
}
