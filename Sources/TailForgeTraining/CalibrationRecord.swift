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
    /// How the calibration fit whose scores chose τ (at the chosen λ) started and stopped; nil in a model written
    /// before it was recorded.
    public var fit: Fit?

    /// Where a calibration fit started, how much it spent and why it stopped.
    public struct Fit: Sendable, Equatable {
        public enum Start: String, Sendable, Equatable, Codable {
            /// From zero weights (λ = 0, and the first candidate of a λ path).
            case zero
            /// From the final fit's weights, capped at the final fit's evaluations (`--calibrate` at a given λ > 0).
            case finalFit = "final-fit"
            /// From the previous candidate's solution (a λ path after its first candidate).
            case previousCandidate = "previous-candidate"
        }

        public var start: Start
        /// Objective evaluations over the fit rows, the start's included.
        public var evaluations: Int
        /// The evaluation limit it ran under (the final fit's evaluations), nil when it had none.
        public var evaluationCap: Int?
        public var converged: Bool
        /// `max-evaluations` when it hit `evaluationCap`.
        public var stopReason: LBFGSStopReason

        public init(start: Start, evaluations: Int, evaluationCap: Int?, converged: Bool, stopReason: LBFGSStopReason) {
            self.start = start
            self.evaluations = evaluations
            self.evaluationCap = evaluationCap
            self.converged = converged
            self.stopReason = stopReason
        }
    }

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
                tauGrid: [Double], balancedAccuracies: [Double], l2Candidates: [L2Candidate] = [], fit: Fit? = nil) {
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
        self.fit = fit
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
