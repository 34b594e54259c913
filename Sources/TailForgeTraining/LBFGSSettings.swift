/// Settings of the ``LBFGS`` optimiser.
public struct LBFGSSettings: Codable, Sendable, Equatable {
    /// Number of correction pairs kept (m).
    public var historySize: Int = 10
    /// Stop (not converged) after this many iterations.
    public var maxIterations: Int = 500
    /// Converged when ‖g‖ ≤ `gradientTolerance` · ‖g₀‖ (relative to the gradient at the start, so the test
    /// means the same on any data scale; an absolute test can stop at iteration 0).
    public var gradientTolerance: Double = 1e-5
    /// Converged when (f_prev − f) / max(|f_prev|, |f|, 1) ≤ `lossTolerance`. Keep it above the float32 noise
    /// of the loss (≈ 1e-7 relative): the default 1e-9 applies only once steps have become tiny.
    public var lossTolerance: Double = 1e-9
    /// Function evaluations allowed per line search.
    public var maxLineSearchEvaluations: Int = 20
    /// Stop (not converged) once this many objective evaluations — the start's included — have been spent; no line
    /// search is given more than what is left, so the run never exceeds it. Nil (the default, and every setting a
    /// user gives): no limit. Set for `--calibrate`'s warm-started calibration fit, whose cost must stay within the
    /// final fit's (``LogitAdjustmentCalibrator``). Encoded only when set, so settings without it encode as before.
    public var maxEvaluations: Int?
    /// Sufficient-decrease constant of the strong Wolfe conditions (c₁).
    public var sufficientDecrease: Double = 1e-4
    /// Curvature constant of the strong Wolfe conditions (c₂).
    public var curvature: Double = 0.9

    public init() {}

    public init(historySize: Int = 10, maxIterations: Int = 500, gradientTolerance: Double = 1e-5, lossTolerance: Double = 1e-9) {
        self.historySize = historySize
        self.maxIterations = maxIterations
        self.gradientTolerance = gradientTolerance
        self.lossTolerance = lossTolerance
    }

    /// Throws on settings outside their ranges.
    public func validate() throws(TrainingError) {
        guard historySize >= 1 else { throw .invalidSetting(name: "history size", value: "\(historySize)", expected: "at least 1") }
        guard maxIterations >= 0 else { throw .invalidSetting(name: "max iterations", value: "\(maxIterations)", expected: "non-negative") }
        guard gradientTolerance >= 0, gradientTolerance.isFinite else {
            throw .invalidSetting(name: "gradient tolerance", value: "\(gradientTolerance)", expected: "finite and non-negative")
        }
        guard lossTolerance >= 0, lossTolerance.isFinite else {
            throw .invalidSetting(name: "loss tolerance", value: "\(lossTolerance)", expected: "finite and non-negative")
        }
        if let maxEvaluations, maxEvaluations < 1 {
            throw .invalidSetting(name: "evaluation limit", value: "\(maxEvaluations)", expected: "at least 1")
        }
        guard maxLineSearchEvaluations >= 1 else {
            throw .invalidSetting(name: "line search evaluations", value: "\(maxLineSearchEvaluations)", expected: "at least 1")
        }
        guard 0 < sufficientDecrease, sufficientDecrease < curvature, curvature < 1 else {
            throw .invalidSetting(name: "Wolfe constants", value: "c1 = \(sufficientDecrease), c2 = \(curvature)", expected: "0 < c1 < c2 < 1")
        }
    }
}
