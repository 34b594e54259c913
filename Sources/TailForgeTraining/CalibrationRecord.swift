/// What `train --calibrate` chose and how, as stored in the model file.
public struct CalibrationRecord: Sendable, Equatable {
    /// τ and the prior, applied by `evaluate` and `predict`.
    public var adjustment: LogitAdjustment
    public var holdOutFraction: Double
    public var seed: UInt64
    /// Real rows held out, and rows in the calibration fit.
    public var heldOutRows: Int
    public var fitRows: Int
    /// The candidate τ values and the held-out balanced accuracy (mean per-class recall) of each.
    public var tauGrid: [Double]
    public var balancedAccuracies: [Double]

    public init(adjustment: LogitAdjustment, holdOutFraction: Double, seed: UInt64, heldOutRows: Int, fitRows: Int,
                tauGrid: [Double], balancedAccuracies: [Double]) {
        precondition(tauGrid.count == balancedAccuracies.count, "CalibrationRecord: one accuracy per τ")
        self.adjustment = adjustment
        self.holdOutFraction = holdOutFraction
        self.seed = seed
        self.heldOutRows = heldOutRows
        self.fitRows = fitRows
        self.tauGrid = tauGrid
        self.balancedAccuracies = balancedAccuracies
    }

    /// Held-out balanced accuracy at the chosen τ.
    public var balancedAccuracy: Double {
        balancedAccuracies[tauGrid.firstIndex(of: adjustment.tau) ?? 0]
    }

    /// Held-out balanced accuracy of the raw model (τ = 0), when the grid has it.
    public var rawBalancedAccuracy: Double? {
        tauGrid.firstIndex(of: 0).map { balancedAccuracies[$0] }
    }
}
