/// How `train --calibrate` chooses the logit adjustment τ (see ``LogitAdjustmentCalibrator``).
public struct CalibrationSettings: Sendable, Equatable {
    /// Fraction of each class's real rows held out (`--calibration-holdout`).
    public var holdOutFraction: Double
    /// Seed of the stratified hold-out draw (`--calibration-seed`).
    public var seed: UInt64
    /// Candidate τ values, ascending; ties in held-out balanced accuracy go to the smallest.
    public var tauGrid: [Double]

    /// The accepted hold-out fractions: below 5 % the many-shot estimate is noise-free but few-shot classes
    /// still lose one row each, so nothing is gained; above 50 % the calibration fit is too unlike the final one.
    public static let holdOutRange: ClosedRange<Double> = 0.05 ... 0.5
    /// τ ∈ {0, 0.05, …, 2}: 0 is the raw model, 1 the Bayes correction of an unweighted fit; 2 over-corrects.
    public static let standardGrid: [Double] = (0 ... 40).map { Double($0) / 20 }

    public init(holdOutFraction: Double = 0.2, seed: UInt64 = 0, tauGrid: [Double] = CalibrationSettings.standardGrid) {
        self.holdOutFraction = holdOutFraction
        self.seed = seed
        self.tauGrid = tauGrid
    }

    public func validate() throws(TrainingError) {
        guard holdOutFraction.isFinite, Self.holdOutRange.contains(holdOutFraction) else {
            throw .invalidSetting(name: "--calibration-holdout", value: "\(holdOutFraction)",
                                  expected: "between \(Self.holdOutRange.lowerBound) and \(Self.holdOutRange.upperBound)")
        }
        guard !tauGrid.isEmpty, tauGrid.allSatisfy({ $0.isFinite && $0 >= 0 }),
              zip(tauGrid, tauGrid.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw .invalidSetting(name: "τ grid", value: "\(tauGrid)", expected: "non-empty, finite, non-negative and strictly ascending")
        }
    }
}
