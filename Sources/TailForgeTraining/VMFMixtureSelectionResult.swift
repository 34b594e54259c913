/// What ``VMFMixtureSelection`` chose, how every candidate scored out of fold, and the model refitted on all rows.
public struct VMFMixtureSelectionResult: Sendable, Equatable {
    /// One (K_max, κ₀) of the grid and its pooled out-of-fold balanced accuracy at every τ.
    public struct Candidate: Sendable, Equatable {
        public let maxModes: Int
        /// κ₀ / d.
        public let priorConcentrationMultiple: Double
        /// κ₀ (absolute).
        public let priorConcentration: Double
        /// One per τ of ``VMFMixtureSelectionResult/tauGrid``.
        public let balancedAccuracies: [Double]
        /// The best τ's index (the smallest on ties) and its balanced accuracy.
        public let bestTauIndex: Int
        public var bestBalancedAccuracy: Double { balancedAccuracies[bestTauIndex] }
    }

    /// In grid order: K_max ascending, then κ₀ ascending.
    public let candidates: [Candidate]
    public let chosenIndex: Int
    public let tauGrid: [Double]
    public let folds: Int
    /// The fit on all rows with the chosen K_max and κ₀.
    public let fit: VMFMixtureFit
    /// The chosen τ with the class shares of all distinct rows as π.
    public let adjustment: LogitAdjustment
    /// Wall seconds of the cross-validation (all folds) and of the final fit.
    public let foldSeconds: Double
    public let refitSeconds: Double

    public var chosen: Candidate { candidates[chosenIndex] }
    public var maxModes: Int { chosen.maxModes }
    public var priorConcentration: Double { chosen.priorConcentration }
    public var tau: Double { adjustment.tau }
    /// The chosen setting's pooled out-of-fold balanced accuracy.
    public var balancedAccuracy: Double { chosen.bestBalancedAccuracy }
}
