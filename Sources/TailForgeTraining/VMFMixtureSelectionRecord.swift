/// How `train --classifier vmf-mixture` chose its settings by stratified k-fold cross-validation, as the model file
/// stores it: the grids, every candidate's pooled out-of-fold balanced accuracy, and the choice.
public struct VMFMixtureSelectionRecord: Sendable, Equatable {
    /// The candidate K_max values (`--mixture-max-modes`), in grid order.
    public var maxModesGrid: [Int]
    /// The candidate κ₀ values as multiples of the dimension d (`--mixture-prior-concentration`), in grid order.
    public var priorConcentrationMultiples: [Double]
    /// The candidate τ values: ``CalibrationSettings/standardGrid`` with `--calibrate`, else {0}.
    public var tauGrid: [Double]
    public var folds: Int
    /// The seed of the fold draw and the k-means seeding (`--calibration-seed`).
    public var seed: UInt64
    /// `[maxModesGrid.count × priorConcentrationMultiples.count × tauGrid.count]`, row-major: the pooled
    /// out-of-fold balanced accuracy (mean per-class recall over every fold's held-out rows) of each candidate.
    public var balancedAccuracies: [Double]
    /// The chosen K_max and κ₀ (as a multiple of d, one of the grid's); τ is the model's logit adjustment.
    public var maxModes: Int
    public var priorConcentrationMultiple: Double
    public var tau: Double

    public init(maxModesGrid: [Int], priorConcentrationMultiples: [Double], tauGrid: [Double], folds: Int, seed: UInt64,
                balancedAccuracies: [Double], maxModes: Int, priorConcentrationMultiple: Double, tau: Double) {
        precondition(balancedAccuracies.count == maxModesGrid.count * priorConcentrationMultiples.count * tauGrid.count,
                     "VMFMixtureSelectionRecord: one accuracy per (K_max, κ₀, τ)")
        self.maxModesGrid = maxModesGrid
        self.priorConcentrationMultiples = priorConcentrationMultiples
        self.tauGrid = tauGrid
        self.folds = folds
        self.seed = seed
        self.balancedAccuracies = balancedAccuracies
        self.maxModes = maxModes
        self.priorConcentrationMultiple = priorConcentrationMultiple
        self.tau = tau
    }

    /// Whether τ was chosen (`--calibrate`) rather than fixed at 0.
    public var calibrated: Bool { tauGrid != [0] }

    /// The out-of-fold balanced accuracy of every τ at K_max `maxModesGrid[a]` and κ₀ multiple `priorConcentrationMultiples[b]`.
    public func accuracies(maxModesIndex a: Int, priorIndex b: Int) -> ArraySlice<Double> {
        let start = (a * priorConcentrationMultiples.count + b) * tauGrid.count
        return balancedAccuracies[start ..< start + tauGrid.count]
    }

    /// The chosen κ₀ in absolute terms, for embeddings of dimension `dimension`.
    public func priorConcentration(dimension: Int) -> Double { priorConcentrationMultiple * Double(dimension) }

    /// The grid positions of the chosen K_max and κ₀ (nil if the grids do not list them).
    public var chosenIndices: (maxModes: Int, prior: Int)? {
        guard let a = maxModesGrid.firstIndex(of: maxModes),
              let b = priorConcentrationMultiples.firstIndex(of: priorConcentrationMultiple) else { return nil }
        return (a, b)
    }

    /// The out-of-fold balanced accuracy of every τ at the chosen K_max and κ₀.
    public var chosenAccuracies: [Double] {
        guard let (a, b) = chosenIndices else { return [] }
        return Array(accuracies(maxModesIndex: a, priorIndex: b))
    }

    /// Pooled out-of-fold balanced accuracy of the chosen K_max, κ₀ and τ.
    public var balancedAccuracy: Double { accuracy(atTau: tau) }

    /// The same at τ = 0: the raw mixture's (K_max and κ₀ as chosen, jointly with τ).
    public var rawBalancedAccuracy: Double { accuracy(atTau: 0) }

    private func accuracy(atTau value: Double) -> Double {
        let chosen = chosenAccuracies
        guard let i = tauGrid.firstIndex(of: value), chosen.indices.contains(i) else { return .nan }
        return chosen[i]
    }
}
