/// The grid ``VMFMixtureSelection`` searches by stratified k-fold cross-validation: K_max, κ₀ as multiples of the
/// dimension and, when calibrating, the logit adjustment τ.
public struct VMFMixtureSelectionSettings: Sendable, Equatable {
    /// K_max candidates, each from ``VMFMixtureSettings/maxModesRange``.
    public var maxModesGrid: [Int]
    /// κ₀ candidates as multiples of the dimension d.
    public var priorConcentrationMultiples: [Double]
    /// Choose τ from ``CalibrationSettings/standardGrid`` (as ``LogitAdjustmentCalibrator`` does); otherwise τ = 0.
    public var calibrate: Bool
    /// F, the number of folds.
    public var folds: Int
    /// Seeds the fold draws and every fit's k-means.
    public var seed: UInt64

    /// K_max ∈ {2, 3}: the Python screen of issue 12 chose both; more modes than that rarely won there.
    public static let standardMaxModesGrid = [2, 3]
    /// κ₀ ∈ {0.5, 1, 1.5, 2, 3, 5}·d: the screen's choices settled at 1.5–2d, the grid brackets them.
    public static let standardPriorConcentrationMultiples: [Double] = [0.5, 1, 1.5, 2, 3, 5]
    public static let foldRange: ClosedRange<Int> = 2 ... 20

    public init(maxModesGrid: [Int] = VMFMixtureSelectionSettings.standardMaxModesGrid,
                priorConcentrationMultiples: [Double] = VMFMixtureSelectionSettings.standardPriorConcentrationMultiples,
                calibrate: Bool = true, folds: Int = 5, seed: UInt64 = 0) {
        self.maxModesGrid = maxModesGrid
        self.priorConcentrationMultiples = priorConcentrationMultiples
        self.calibrate = calibrate
        self.folds = folds
        self.seed = seed
    }

    /// The τ candidates, ascending.
    public var tauGrid: [Double] { calibrate ? CalibrationSettings.standardGrid : [0] }

    public func validate() throws(TrainingError) {
        guard !maxModesGrid.isEmpty, maxModesGrid.allSatisfy(VMFMixtureSettings.maxModesRange.contains),
              zip(maxModesGrid, maxModesGrid.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw .invalidSetting(name: "vMF mixture maximum-modes grid", value: "\(maxModesGrid)",
                                  expected: "non-empty, strictly ascending, each from \(VMFMixtureSettings.maxModesRange.lowerBound) to \(VMFMixtureSettings.maxModesRange.upperBound)")
        }
        guard !priorConcentrationMultiples.isEmpty, priorConcentrationMultiples.allSatisfy({ $0.isFinite && $0 > 0 }),
              zip(priorConcentrationMultiples, priorConcentrationMultiples.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw .invalidSetting(name: "vMF mixture prior-concentration grid", value: "\(priorConcentrationMultiples)",
                                  expected: "non-empty, strictly ascending, positive and finite multiples of the dimension")
        }
        guard Self.foldRange.contains(folds) else {
            throw .invalidSetting(name: "cross-validation folds", value: "\(folds)",
                                  expected: "from \(Self.foldRange.lowerBound) to \(Self.foldRange.upperBound)")
        }
    }
}
