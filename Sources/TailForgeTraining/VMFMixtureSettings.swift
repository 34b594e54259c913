/// How ``VMFMixtureFitter`` fits a vMF mixture: the most modes a class may get, the prior concentration κ₀ of
/// each mode's direction around its class's row-mean direction, and the seed of the k-means draws.
public struct VMFMixtureSettings: Sendable, Equatable {
    /// K_max: each class gets the K in 1...min(K_max, its rows) of largest marginal likelihood.
    public var maxModes: Int
    /// κ₀ (absolute, not a multiple of the dimension).
    public var priorConcentration: Double
    /// Seeds each class's k-means++ draws together with the class id and K.
    public var seed: UInt64

    /// K_max up to 16: beyond a handful of modes the marginal likelihood of the hard clustering is not a fair
    /// choice of K any more, and the k-means streams reserve 8 bits for K.
    public static let maxModesRange: ClosedRange<Int> = 1 ... 16

    public init(maxModes: Int = 3, priorConcentration: Double, seed: UInt64 = 0) {
        self.maxModes = maxModes
        self.priorConcentration = priorConcentration
        self.seed = seed
    }

    public func validate() throws(TrainingError) {
        guard Self.maxModesRange.contains(maxModes) else {
            throw .invalidSetting(name: "vMF mixture maximum modes", value: "\(maxModes)",
                                  expected: "from \(Self.maxModesRange.lowerBound) to \(Self.maxModesRange.upperBound)")
        }
        guard priorConcentration.isFinite, priorConcentration > 0 else {
            throw .invalidSetting(name: "vMF mixture prior concentration κ₀", value: "\(priorConcentration)", expected: "positive and finite")
        }
    }
}
