/// What `train --calibrate` (and `--l2 auto`) chose and how, as stored in the model file.
public struct CalibrationRecord: Sendable, Equatable {
    /// τ and the prior, applied by `evaluate` and `predict`.
    public var adjustment: LogitAdjustment
    public var holdOutFraction: Double
    public var seed: UInt64
    /// Real rows held out, and rows in the calibration fit.
    public var heldOutRows: Int
    public var fitRows: Int
    /// The candidate τ values and the held-out balanced accuracy (mean per-class recall) of each, at the λ the
    /// final fit uses.
    public var tauGrid: [Double]
    public var balancedAccuracies: [Double]
    /// With `--l2 auto`: every candidate λ in the order fitted (largest first), each with its held-out balanced
    /// accuracy per τ of `tauGrid`; empty when λ was given. The chosen λ is the model's `l2`.
    public var l2Candidates: [L2Candidate]

    /// One λ of the search and how its calibration fit scored on the held-out rows.
    public struct L2Candidate: Sendable, Equatable {
        public var l2: Double
        /// Held-out balanced accuracy per τ of the record's `tauGrid`.
        public var balancedAccuracies: [Double]

        public init(l2: Double, balancedAccuracies: [Double]) {
            self.l2 = l2
            self.balancedAccuracies = balancedAccuracies
        }

        /// The best held-out balanced accuracy over τ.
        public var bestBalancedAccuracy: Double { balancedAccuracies.max() ?? .nan }
    }

    public init(adjustment: LogitAdjustment, holdOutFraction: Double, seed: UInt64, heldOutRows: Int, fitRows: Int,
                tauGrid: [Double], balancedAccuracies: [Double], l2Candidates: [L2Candidate] = []) {
        precondition(tauGrid.count == balancedAccuracies.count, "CalibrationRecord: one accuracy per τ")
        precondition(l2Candidates.allSatisfy { $0.balancedAccuracies.count == tauGrid.count }, "CalibrationRecord: one accuracy per λ and τ")
        self.adjustment = adjustment
        self.holdOutFraction = holdOutFraction
        self.seed = seed
        self.heldOutRows = heldOutRows
        self.fitRows = fitRows
        self.tauGrid = tauGrid
        self.balancedAccuracies = balancedAccuracies
        self.l2Candidates = l2Candidates
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
