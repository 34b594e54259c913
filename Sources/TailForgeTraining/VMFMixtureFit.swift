/// A fitted vMF mixture and what the fit chose per class.
public struct VMFMixtureFit: Sendable, Equatable {
    public let model: VMFMixtureModel
    /// K_c: the modes each class got.
    public let modesPerClass: [Int]
    /// κ_c: each class's within-mode concentration (a single-row class gets the median of the others').
    public let classKappa: [Double]
    /// n_c: distinct training rows per class, the rows fitted (``VMFMixtureFitter`` drops exact copies).
    public let classCounts: [Int]
}
