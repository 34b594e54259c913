/// The kinds of model `tailforge train` writes (`--classifier`), each with its own file format; `evaluate` and
/// `predict` take either, by the file's `format` attribute (``TrainedModelFile``).
public enum ModelType: String, Sendable, Equatable, Codable, CaseIterable, CustomStringConvertible {
    /// Multinomial logistic regression fitted by L-BFGS (``SoftmaxModel``, ``SoftmaxModelFile``).
    case softmax
    /// The generative vMF mixture classifier (``VMFMixtureModel``, ``VMFMixtureModelFile``).
    case vmfMixture = "vmf-mixture"

    /// The file's `format` attribute.
    public var format: String {
        switch self {
        case .softmax: SoftmaxModelFile.format
        case .vmfMixture: VMFMixtureModelFile.format
        }
    }

    /// The type whose files carry `format`, nil for anything else.
    public init?(format: String) {
        guard let type = Self.allCases.first(where: { $0.format == format }) else { return nil }
        self = type
    }

    /// How messages name it.
    public var title: String {
        switch self {
        case .softmax: "softmax (logistic-regression)"
        case .vmfMixture: "generative vMF mixture"
        }
    }

    public var description: String { rawValue }
}
